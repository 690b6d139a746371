"""Translate a sentence: English -> French with an RNN encoder-decoder and attention.

Read top to bottom: constants, text normalisation (shared by training and the page), the
subword tokenizer, config, the network, greedy and beam-search decoding, `translate`, `load`.

    "How are you?"
      -> normalize (NFKC: the no-break spaces of French typography become plain spaces; curly
         apostrophes become ')  -> SentencePiece subwords: ["▁How", "▁are", "▁you", "?"] + </s>
      -> Encoder: shared subword embedding -> 2-layer bidirectional GRU -> one vector per source token
      -> Decoder: GRU over the French written so far; at each step it scores every source vector
         against its state (attention: a probability over the source tokens), reads their weighted
         mean (the context), and from [state; context] predicts the next subword
      -> beam search keeps the `beam_size` best partial translations, ranked by log-probability
         per token (length normalisation), until each ends with </s>
      -> "Comment allez-vous ?" (+ the n-best list, and the attention matrix target x source)

Attention as in Luong, Pham & Manning (2015), "global attention" with the "general" score:
the decoder state at step t attends after its GRU update, so the whole target side runs as one
cuDNN GRU call in training (no per-step loop): that is what makes it train in minutes.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from models.common import Loaded, alternative_lines, get_device, load_checkpoint, shared

NAME = "translate"
PAD, UNK, BOS, EOS = 0, 1, 2, 3  # SentencePiece ids fixed at tokenizer training
MAX_CHARS = 300  # longer input is refused with a message (the training sentences are shorter)
MAX_SOURCE_TOKENS = 128
# Below this score (the best translation's log-probability per subword) the page says "Not sure": the 1st percentile
# of the validation sentences' scores at beam 5; a word, "ok", another language score lower ("ok" -> "C'est un
# imbécile" at -1.20). Chosen and measured by benchmarks/translate_sure.py (the card's metrics.not_sure).
NOT_SURE_SCORE = -0.83
NARROW_NBSP = "\u202f"  # French typography: a narrow no-break space before ? ! ; : and inside « »
APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'"}


class InputError(ValueError):
    """Input the translator refuses (too long), with a message for the page."""


# ---------------------------------------------------------------- text: one normalisation for all
def normalize(text: str) -> str:
    """The one text normalisation, for training data (both languages), references and user input.

    NFKC turns U+00A0 / U+202F (French no-break spaces) into plain spaces and full-width forms into
    ASCII; curly apostrophes become '; runs of whitespace become one space."""
    text = unicodedata.normalize("NFKC", text)
    for curly, straight in APOSTROPHES.items():
        text = text.replace(curly, straight)
    return re.sub(r"\s+", " ", text).strip()


def typeset_french(text: str) -> str:
    """For display only: put back French typography's narrow no-break spaces (« x », x ?, x !)."""
    text = re.sub(r" ([?!;:»])", NARROW_NBSP + r"\1", text)
    return re.sub(r"« ", "«" + NARROW_NBSP, text)


class Tokenizer:
    """A joint English+French SentencePiece unigram model, learned from the training split only.
    Its serialized bytes travel inside the checkpoint (a uint8 tensor): no separate file."""

    def __init__(self, model_proto: bytes):
        import sentencepiece as spm

        self.proto = bytes(model_proto)
        self.sp = spm.SentencePieceProcessor(model_proto=self.proto)

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Normalised texts -> subword ids (no BOS/EOS)."""
        return self.sp.encode([normalize(t) for t in texts])

    def pieces(self, ids) -> list[str]:
        return [self.sp.id_to_piece(int(i)) for i in ids]

    def unknown_characters(self, text: str) -> list[str]:
        """Characters of `text` that no subword covers (an emoji, a script never seen): they become <unk>."""
        return [c for c in dict.fromkeys(text) if not c.isspace() and UNK in self.sp.encode(c)]

    def decode(self, ids) -> str:
        return self.sp.decode([int(i) for i in ids if int(i) > EOS])

    @staticmethod
    def train(sentences, vocab_size: int, seed: int = 0) -> "Tokenizer":
        """Learn the subword vocabulary from (already normalised) sentences; -> Tokenizer."""
        import io

        import sentencepiece as spm

        spm.set_random_generator_seed(seed)
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
            model_type="unigram", character_coverage=1.0, pad_id=PAD, unk_id=UNK, bos_id=BOS,
            eos_id=EOS, normalization_rule_name="identity", num_threads=4,
            input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2,
        )
        return Tokenizer(model.getvalue())


# ---------------------------------------------------------------- the network
@dataclass
class Config:
    vocab_size: int = 8000  # joint English+French subwords; one embedding shared by both sides
    emb: int = 256
    enc_hidden: int = 256  # per direction
    enc_layers: int = 2
    dec_hidden: int = 512
    dec_layers: int = 2
    dropout: float = 0.3


@dataclass
class Memory:
    """The encoded source, what every decoder step attends to."""

    values: torch.Tensor  # (B, S, 2*enc_hidden): the encoder's output per source token
    keys: torch.Tensor  # (B, S, dec_hidden): values projected once (the "general" score's W)
    mask: torch.Tensor  # (B, S) True at real tokens
    hidden: torch.Tensor  # (dec_layers, B, dec_hidden): the decoder's initial state


class Translator(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        h2 = 2 * cfg.enc_hidden
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb, padding_idx=PAD)
        self.encoder = nn.GRU(cfg.emb, cfg.enc_hidden, cfg.enc_layers, batch_first=True,
                              bidirectional=True, dropout=cfg.dropout)
        self.bridge = nn.Linear(h2, cfg.dec_layers * cfg.dec_hidden)
        self.decoder = nn.GRU(cfg.emb, cfg.dec_hidden, cfg.dec_layers, batch_first=True, dropout=cfg.dropout)
        self.keys = nn.Linear(h2, cfg.dec_hidden, bias=False)
        self.combine = nn.Linear(cfg.dec_hidden + h2, cfg.dec_hidden)
        self.readout = nn.Linear(cfg.dec_hidden, cfg.emb)  # then tied to the embedding
        self.out_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.drop = nn.Dropout(cfg.dropout)
        # Not a child module (so not in the state_dict): a view over the layers above, see Inference.
        object.__setattr__(self, "inference", Inference(self))

    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> Memory:
        """src (B, S) ids ending in EOS, right-padded; lengths (B,) -> Memory."""
        x = self.drop(self.embed(src))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.encoder(packed)
        values, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        mask = src != PAD
        keys, hidden = self.inference.start(values, mask)
        return Memory(values, keys, mask, hidden)

    def attend(self, states: torch.Tensor, memory: Memory) -> tuple[torch.Tensor, torch.Tensor]:
        """states (B, T, D) -> (log-probs over the vocabulary (B, T, V), attention (B, T, S))."""
        return self.inference.attend(states, memory.keys, memory.values, memory.mask)

    def forward(self, src, lengths, tgt_in) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: tgt_in (B, T) = BOS + target -> (log-probs (B, T, V), attention (B, T, S))."""
        memory = self.encode(src, lengths)
        states, _ = self.decoder(self.drop(self.embed(tgt_in)), memory.hidden)
        return self.attend(states, memory)

    def step(self, tokens: torch.Tensor, hidden: torch.Tensor, memory: Memory):
        """One decoding step: tokens (B,) last outputs -> (log-probs (B, V), new hidden, attention (B, S))."""
        states, hidden = self.decoder(self.embed(tokens).unsqueeze(1), hidden)
        log_probs, attention = self.attend(states, memory)
        return log_probs[:, 0], hidden, attention[:, 0]


class Inference(nn.Module):
    """What a translation runs, over a Translator's own layers, in a form TorchScript compiles.

    Compiled for inference (`TranslateModel.compiled`): one call to encode a sentence and one per
    beam-search step, instead of a few dozen small torch ops each. Why it matters on a shared server: every
    torch op lets go of Python's global lock and must win it back from the other viewers' threads, which
    keep it for up to 5 ms each time (sys.getswitchinterval). Next to one busy Python thread
    (`python -m benchmarks.translate --busy-thread`, 10-word sentences, beam 5), the p95 of a ~35 ms
    translation was 8.9-10.8 s as eager ops, 0.6-0.8 s compiled (medians ~230 ms both).
    """

    def __init__(self, net: Translator):
        super().__init__()
        self.embed, self.encoder, self.bridge, self.keys = net.embed, net.encoder, net.bridge, net.keys
        self.decoder, self.combine, self.readout, self.drop = net.decoder, net.combine, net.readout, net.drop
        self.out_bias = net.out_bias
        self.layers, self.hidden_size = net.cfg.dec_layers, net.cfg.dec_hidden
        self.scale = net.cfg.dec_hidden**-0.5

    def start(self, values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder outputs (B, S, 2H), mask (B, S) -> attention keys (B, S, D) and the decoder's first
        state (L, B, D), from the mean of the source vectors."""
        mean = (values * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).to(values.dtype)  # (B, 2H)
        hidden = torch.tanh(self.bridge(mean)).view(-1, self.layers, self.hidden_size)
        return self.keys(values), hidden.transpose(0, 1).contiguous()

    @torch.jit.export
    def encode_one(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One sentence src (1, S), no padding (so no packing) -> values, keys, mask, hidden as in Memory."""
        values, _ = self.encoder(self.embed(src))
        mask = torch.ones_like(src, dtype=torch.bool)
        keys, hidden = self.start(values, mask)
        return values, keys, mask, hidden

    def attend(self, states: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
               mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """states (B, T, D), keys (B, S, D), values (B, S, 2H), mask (B, S) -> (log-probs (B, T, V), attention (B, T, S))."""
        scores = states @ keys.transpose(1, 2) * self.scale  # (B, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        attention = scores.softmax(-1)
        context = attention @ values  # (B, T, 2H)
        features = torch.tanh(self.combine(torch.cat([states, context], -1)))
        logits = self.readout(self.drop(features)) @ self.embed.weight.T + self.out_bias
        return logits.float().log_softmax(-1), attention

    def forward(self, last: list[int], parents: list[int], totals: list[float], hidden: torch.Tensor,
                keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, width: int):
        """One step for k partial translations: their last subwords, the rows of `hidden` (L, *, D) they grew
        from, their log-probabilities; keys/values/mask of one sentence (1, S, *) -> the `width` best
        extensions (total log-probs, flat indices row * V + subword), the new hidden (L, k, D), attention (k, S)."""
        device = keys.device
        hidden = hidden[:, torch.tensor(parents, device=device)].contiguous()
        k = len(last)
        states, hidden = self.decoder(self.embed(torch.tensor(last, device=device)).unsqueeze(1), hidden)
        log_probs, attention = self.attend(states, keys.expand(k, -1, -1), values.expand(k, -1, -1),
                                           mask.expand(k, -1))
        total = torch.tensor(totals, device=device).unsqueeze(1) + log_probs[:, 0]  # (k, V)
        top, flat = total.view(-1).topk(min(width, total.numel()))
        return top, flat, hidden, attention[:, 0]


def source_batch(ids: list[list[int]], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Subword ids per sentence -> (src (B, S) with EOS appended, right-padded; lengths (B,))."""
    rows = [row[: MAX_SOURCE_TOKENS - 1] + [EOS] for row in ids]
    lengths = torch.tensor([len(r) for r in rows])
    src = torch.full((len(rows), int(lengths.max())), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        src[i, : len(r)] = torch.tensor(r)
    return src.to(device), lengths.to(device)


def max_target_length(source_length: int) -> int:
    return 2 * source_length + 10


# ---------------------------------------------------------------- decoding
@torch.no_grad()
def greedy(model: Translator, src: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Batched greedy decoding: the most probable subword at each step, until EOS. -> ids per sentence."""
    model.eval()
    memory = model.encode(src, lengths)
    b = src.shape[0]
    tokens = torch.full((b,), BOS, dtype=torch.long, device=src.device)
    hidden, out = memory.hidden, []
    done = torch.zeros(b, dtype=torch.bool, device=src.device)
    for _ in range(max_target_length(int(lengths.max()))):
        log_probs, hidden, _ = model.step(tokens, hidden, memory)
        tokens = log_probs.argmax(-1)
        out.append(tokens)
        done |= tokens == EOS
        if bool(done.all()):
            break
    rows = torch.stack(out, 1).tolist()
    return [r[: r.index(EOS)] if EOS in r else r for r in rows]


@dataclass
class Hypothesis:
    tokens: list[int]  # without BOS/EOS
    log_prob: float  # sum over the tokens and the final EOS
    attention: list[np.ndarray]  # one row (S,) per output token, EOS included

    @property
    def score(self) -> float:
        """Length-normalised: log-probability per output token (EOS counted)."""
        return self.log_prob / (len(self.tokens) + 1)


@torch.no_grad()
def beam_search(model: Translator, src: torch.Tensor, lengths: torch.Tensor, beam_size: int = 5,
                step=None) -> list[Hypothesis]:
    """One sentence (src (1, S)) -> up to `beam_size` finished hypotheses, best first.

    Keeps the beam_size best partial translations by total log-probability; a hypothesis that
    emits EOS is set aside; search stops when beam_size are finished (or at the length limit).
    Finished ones are ranked by log-probability per token. With beam_size 1 this is greedy.
    `step`: model.inference, or the same compiled by TorchScript (TranslateModel.compiled)."""
    model.eval()
    step = step or model.inference
    memory = Memory(*step.encode_one(src))  # src (1, S): one sentence, no padding
    alive, parents = [Hypothesis([], 0.0, [])], [0]
    hidden = memory.hidden
    finished: list[Hypothesis] = []
    for _ in range(max_target_length(int(lengths[0]))):
        last = [h.tokens[-1] if h.tokens else BOS for h in alive]
        values, flat, hidden, attention = step(last, parents, [h.log_prob for h in alive], hidden,
                                               memory.keys, memory.values, memory.mask, 2 * beam_size)
        vocab = model.cfg.vocab_size
        attention = attention.float().cpu().numpy()
        next_alive, parents = [], []
        for rank, (value, index) in enumerate(zip(values.tolist(), flat.tolist())):
            row, word = divmod(index, vocab)
            parent = alive[row]
            grown = Hypothesis(parent.tokens + [word], value, parent.attention + [attention[row]])
            if word == EOS:
                if rank < beam_size:  # an ending counts only among the beam_size best (as fairseq)
                    finished.append(Hypothesis(parent.tokens, value, grown.attention))
                if len(finished) >= beam_size:
                    break
            elif len(next_alive) < beam_size:
                next_alive.append(grown)
                parents.append(row)
        if len(finished) >= beam_size or not next_alive:
            break
        alive = next_alive
    if not finished:  # hit the length limit: keep what there is
        finished = alive
    return sorted(finished, key=lambda h: h.score, reverse=True)[:beam_size]


# ---------------------------------------------------------------- the public API
@dataclass
class Candidate:
    text: str
    score: float  # log-probability per subword (length-normalised): closer to 0 = more confident


@dataclass
class Translation:
    text: str  # the best translation, with French typography for display
    candidates: list[Candidate]  # the n-best list, best first
    source_tokens: list[str]  # subword pieces of the (normalised) input, + "</s>"
    target_tokens: list[str]  # subword pieces of the best translation, + "</s>"
    attention: np.ndarray  # (len(target_tokens), len(source_tokens)); each row sums to 1
    source: str = ""  # the input after normalisation
    truncated: bool = False  # longer than MAX_SOURCE_TOKENS subwords: the rest was not read
    unknown: list[str] = field(default_factory=list)  # characters the vocabulary lacks (read as <unk>)

    @property
    def casual(self) -> bool:
        """Written as a chat line, not a sentence (no capital letter first, or no final punctuation)? Its training
        sentences are written out: "how are you" is read as "Comme c'est toi qui as l'air.", "How are you?" right."""
        letters = [c for c in self.source if c.isalpha()]
        return bool(letters) and (letters[0].islower() or self.source.rstrip()[-1:] not in ".?!…\"'»)")

    @property
    def sure(self) -> bool:
        """Is the best translation's score at or above NOT_SURE_SCORE (text like the sentences it learned from)?"""
        return self.candidates[0].score >= NOT_SURE_SCORE


class TranslateModel:
    """A loaded translator: the network, its tokenizer and its card (the checkpoint's JSON)."""

    def __init__(self, net: Translator, tokenizer: Tokenizer, meta: dict):
        self.net, self.tokenizer, self.meta = net, tokenizer, meta
        # One TorchScript call to encode, one per beam-search step (why: Inference); shares the net's weights.
        self.compiled = torch.jit.script(net.inference.eval())

    @property
    def device(self) -> torch.device:
        return self.net.embed.weight.device

    def translate(self, sentence: str, beam_size: int = 5) -> Translation:
        """English sentence -> Translation. Raises InputError for empty or over-long input."""
        source = normalize(sentence)
        if not source:
            raise InputError("Type an English sentence to translate.")
        if not any(c.isalpha() for c in source):  # "!!!???" came out "C'est !", sure of itself; "12345" "Il y a 334."
            raise InputError("There are no words here to translate: type an English sentence (numbers, symbols and "
                             "emoji alone are not one).")
        if len(source) > MAX_CHARS:
            raise InputError(f"That is {len(source)} characters; the translator takes up to {MAX_CHARS}. "
                             "Try one sentence at a time.")
        ids = self.tokenizer.sp.encode(source)
        src, lengths = source_batch([ids], self.device)
        hyps = beam_search(self.net, src, lengths, max(1, int(beam_size)), self.compiled)
        best = hyps[0]
        return Translation(
            text=typeset_french(self.tokenizer.decode(best.tokens)),
            candidates=[Candidate(typeset_french(self.tokenizer.decode(h.tokens)), h.score) for h in hyps],
            source_tokens=self.tokenizer.pieces(src[0, : int(lengths[0]) - 1]) + ["</s>"],
            target_tokens=self.tokenizer.pieces(best.tokens) + ["</s>"],
            attention=np.stack(best.attention)[:, : int(lengths[0])],
            source=source,
            truncated=len(ids) > MAX_SOURCE_TOKENS - 1,
            unknown=self.tokenizer.unknown_characters(source),
        )

    def translate_batch(self, sentences: list[str], beam_size: int = 5) -> list[str]:
        """Plain strings out (normalised, no typography), for scoring: beam search per sentence,
        or batched greedy decoding when beam_size is 1."""
        ids = self.tokenizer.encode(sentences)
        if beam_size == 1:
            out = []
            for i in range(0, len(ids), 256):
                src, lengths = source_batch(ids[i : i + 256], self.device)
                out += [self.tokenizer.decode(r) for r in greedy(self.net, src, lengths)]
            return out
        texts = []
        for row in ids:
            src, lengths = source_batch([row], self.device)
            texts.append(self.tokenizer.decode(beam_search(self.net, src, lengths, beam_size, self.compiled)[0].tokens))
        return texts


def checkpoint_tensors(net: Translator, tokenizer: Tokenizer, dtype=torch.float16) -> dict[str, torch.Tensor]:
    """What the safetensors file holds: the weights (fp16 halves the file) and the tokenizer's bytes."""
    tensors = {k: v.detach().to("cpu", dtype) for k, v in net.state_dict().items()}
    tensors["tokenizer"] = torch.frombuffer(bytearray(tokenizer.proto), dtype=torch.uint8).clone()
    return tensors


def from_tensors(tensors: dict[str, torch.Tensor], meta: dict, device=None) -> TranslateModel:
    tensors = dict(tensors)
    tokenizer = Tokenizer(tensors.pop("tokenizer").numpy().tobytes())
    net = Translator(Config(**meta["config"]))
    net.load_state_dict({k: v.float() for k, v in tensors.items()})
    return TranslateModel(net.to(device or get_device()).eval(), tokenizer, meta)


def load(weights_dir=None, device=None) -> Loaded:
    """Rebuild the translator from models/weights/translate.{safetensors,json} (no pickle): (model, meta)."""
    tensors, meta = load_checkpoint(NAME, weights_dir)
    return Loaded(from_tensors(tensors, meta, device), meta)


def default_model() -> TranslateModel:
    """The shipped translator, loaded once per process (models.common.shared)."""
    return shared(NAME).model


def translate(sentence: str, beam_size: int = 5) -> Translation:
    """English -> French with the shipped model (loaded once)."""
    return default_model().translate(sentence, beam_size)


# ---- the model card's text ----------------------------------------------------------------------


def card_text(meta: dict) -> list[str]:
    """The card's measured lines (markdown), from the checkpoint's JSON: BLEU per test set, selection, other recipes."""
    metrics, data = meta.get("metrics", {}), meta["data"]
    lines = [f"**Vocabulary:** {meta['tokenizer']['vocab_size']:,} {meta['tokenizer']['kind']}"]
    for name, label in (("tatoeba", f"Tatoeba test split ({data['test_tatoeba_sentences']:,} English "
                         f"sentences, {data['test_tatoeba_references']:,} references)"),
                        ("multi30k", f"Multi30k test_2016_flickr ({data['test_multi30k_sentences']:,} sentences)")):
        if name in metrics:
            m = metrics[name]
            lines.append(f"**{label}:** BLEU **{m['beam5']['bleu']:.1f}** with beam 5 ({m['beam1']['bleu']:.1f} greedy), "
                         f"chrF {m['beam5']['chrf']:.1f}")
    if metrics:
        lines.append(f"Scored with sacreBLEU (`{metrics['tatoeba']['beam5']['signature']}`) on detokenised text; "
                     "hypotheses and references normalised alike (NFKC).")
    lines.append(f"**Model selection:** epoch {meta['selected_epoch']} of {len(meta['curve'])}, best greedy BLEU on "
                 f"the validation sets ({data['val_tatoeba_sentences']:,} Tatoeba sentences + Multi30k val)")
    if "not_sure" in metrics:
        rule, b5 = metrics["not_sure"], metrics["not_sure"]["beam_5"]
        lines.append(f"**Not sure** below {rule['threshold']:.2f} log-probability per subword (chosen on the "
                     f"validation sentences): {b5['test_flagged']:.1%} of {b5['test_sentences']:,} test sentences "
                     f"flagged, and {b5['not_sentences_flagged']:.0%} of {b5['not_sentences']} inputs that are not "
                     "English sentences (a word, “ok”, German, key mashing), with beam 5")
    return lines + alternative_lines(meta, lambda a: f"BLEU {a['metrics']['tatoeba']['beam5']['bleu']:.1f} (Tatoeba) "
                                                  f"and {a['metrics']['multi30k']['beam5']['bleu']:.1f} (Multi30k) with "
                                                  f"beam 5, with a {a['parameters'] / 1e6:.1f}M-parameter network")
