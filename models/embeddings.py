"""Explore word embeddings: skip-gram with negative sampling (Mikolov et al., 2013), trained from scratch.

Read top to bottom: constants, config, tokenisation (shared by training and the page),
the skip-gram network and its fused training step, then the trained vectors (`load`,
`nearest`, `analogy`) and the 3D views of them (t-SNE, PCA, clusters, categories).

    text -> tokenize: lower case, runs of letters a-z ("Don't" -> "don", "t")
         -> SkipGram: each word w has an input vector u_w and an output vector v_w;
            for a word and each word within a random window around it (a "pair"),
            maximise log s(u_w . v_c) + sum over k negatives log s(-u_w . v_n)
         -> the input vectors are the word vectors shown on the page.
"""
from __future__ import annotations

import difflib
import re
import threading
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from models.common import Loaded, load_checkpoint, shared

NAME = "embeddings"
TOKEN_PATTERN = re.compile(r"[a-z]+")
NEGATIVE_POWER = 0.75  # negatives are drawn from unigram counts ** 0.75 (word2vec)
DEFAULT_PERPLEXITY = 30.0  # the precomputed t-SNE views use this perplexity
# The most words a t-SNE is computed for on request (exact t-SNE: time and memory grow as words squared). On the
# 2-core CPU 2,000 words take ~14 s; 5,000 words at perplexity 5 took 10.6 min and +0.9 GB of server memory.
TSNE_COMPUTE_MAX_WORDS = 2000


def tokenize(text: str) -> list[str]:
    """Lower-case runs of letters: the tokenisation of the training corpus and of the page's queries."""
    return TOKEN_PATTERN.findall(text.lower())


@dataclass
class Config:
    vocab_size: int = 0
    dim: int = 300
    window: int = 10  # largest distance between a word and its context; each position draws 1..window
    negatives: int = 5  # negative samples per (word, context) pair
    sample: float = 1e-4  # subsampling threshold for frequent words
    min_count: int = 5
    block: int = 64  # positions per block; a block shares its negative samples
    shared_negatives: int = 64  # negative words drawn per block
    max_norm: float = 12.0  # rows are kept this short (99 % of word2vec-style vectors here are shorter)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec's subsampling: keep an occurrence of a word of frequency f with
    probability (sqrt(f / sample) + 1) * sample / f, capped at 1."""
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1) * sample / f)


def negative_distribution(counts: np.ndarray) -> np.ndarray:
    p = counts.astype(np.float64) ** NEGATIVE_POWER
    return p / p.sum()


class SkipGram(nn.Module):
    """Input and output vectors, and one fused SGD step on a stretch of text.

    The step computes the exact gradient of the skip-gram loss for every pair in a
    stretch of B * L positions at once, with matrix products instead of one gather per
    pair: the stretch is cut into B blocks of L positions; block j's centre vectors
    U (L, D) meet the output vectors of the L + 2W positions around the block in one
    product (L, L + 2W), masked to each centre's random window, and K negatives per
    pair are estimated by N words drawn per block, each weighted K * pairs / N.
    """

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.emb_in = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.emb_out = nn.Embedding(cfg.vocab_size, cfg.dim)
        with torch.no_grad():  # word2vec's initialisation
            self.emb_in.weight.uniform_(-0.5 / cfg.dim, 0.5 / cfg.dim)
            self.emb_out.weight.zero_()
        L, W = cfg.block, cfg.window
        # offset[i, r]: position of window slot r relative to centre i of a block
        self.register_buffer("offset", torch.arange(L + 2 * W)[None, :] - W - torch.arange(L)[:, None], persistent=False)

    @torch.no_grad()
    def step(self, tokens, sentences, windows, negatives, lr: float) -> float:
        """One SGD step. tokens, sentences, windows: (B*L,) word ids, sentence ids and window sizes
        (1..W); negatives: (B*N,) word ids. Returns the mean positive-pair loss.

        Every row moves by -lr * (the sum of its pair gradients). A frequent word's row sums
        hundreds of gradients computed from the same vectors (word2vec, updating pair by pair,
        never does) and now and then overshoots; the rows touched are then scaled back to at
        most cfg.max_norm, which stops one overshoot from feeding the next (a blow-up)."""
        cfg = self.cfg
        L, W, N, D = cfg.block, cfg.window, cfg.shared_negatives, cfg.dim
        B = tokens.numel() // L
        ein, eout = self.emb_in.weight, self.emb_out.weight
        # Pad W positions on both sides (sentence id -1: never a context).
        tp = torch.cat([tokens.new_zeros(W), tokens, tokens.new_zeros(W)])
        sp = torch.cat([sentences.new_full((W,), -1), sentences, sentences.new_full((W,), -1)])
        slot_sentence = sp.as_strided((B, L + 2 * W), (L, 1))  # block j, slot r -> padded position jL + r
        mask = (self.offset.abs() <= windows.view(B, L, 1)) & (self.offset != 0)
        mask = (mask & (slot_sentence[:, None, :] == sentences.view(B, L, 1))).float()  # (B, L, L+2W)
        pairs = mask.sum(-1)  # (B, L) contexts per centre
        neg_weight = (pairs * (cfg.negatives / N)).unsqueeze(-1)  # (B, L, 1)

        u = ein[tokens].view(B, L, D)
        vp = eout[tp]  # (B*L + 2W, D)
        vx = vp.as_strided((B, L + 2 * W, D), (L * D, D, 1))  # overlapping windows, no copy
        vn = eout[negatives].view(B, N, D)
        ub, vxb, vnb = u.bfloat16(), vx.bfloat16(), vn.bfloat16()  # products on AMX / AVX-512 in bf16
        s_pos = torch.bmm(ub, vxb.transpose(1, 2)).float()  # (B, L, L+2W)
        s_neg = torch.bmm(ub, vnb.transpose(1, 2)).float()  # (B, L, N)
        g_pos = ((torch.sigmoid(s_pos) - 1) * mask).bfloat16()  # d loss / d score
        g_neg = (torch.sigmoid(s_neg) * neg_weight).bfloat16()

        grad_u = (torch.bmm(g_pos, vxb) + torch.bmm(g_neg, vnb)).float().view(-1, D)  # (B*L, D)
        grad_vx = torch.bmm(g_pos.transpose(1, 2), ub).float()  # (B, L+2W, D)
        grad_vn = torch.bmm(g_neg.transpose(1, 2), ub).float().view(-1, D)  # (B*N, D)
        grad_vp = self._fold(grad_vx)  # (B*L + 2W, D)
        out_ids = torch.cat([tp, negatives])
        grad_out = torch.cat([grad_vp, grad_vn])
        ein.index_add_(0, tokens, grad_u, alpha=-lr)
        eout.index_add_(0, out_ids, grad_out, alpha=-lr)
        for table, ids in ((ein, tokens), (eout, out_ids)):
            ids = ids.unique()
            rows = table[ids]
            table[ids] = rows * (cfg.max_norm / rows.norm(dim=1, keepdim=True).clamp_min(cfg.max_norm))
        loss = -(torch.nn.functional.logsigmoid(s_pos) * mask).sum() / pairs.sum().clamp_min(1)
        return float(loss)

    def _fold(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, L+2W, K) values on each block's overlapping window -> (B*L + 2W, K) per padded
        position, summed where windows overlap (slot r of block j is position jL + r)."""
        B, _, K = windows.shape
        L, W = self.cfg.block, self.cfg.window
        out = torch.zeros(B * L + L, K)
        out[: B * L].view(B, L, K).add_(windows[:, :L])
        out[L:].view(B, L, K)[:, : 2 * W].add_(windows[:, L:])
        return out[: B * L + 2 * W]


class UnknownWordError(KeyError):
    """A word that is not in the vocabulary; carries close spellings that are."""

    def __init__(self, word: str, suggestions: list[str]):
        super().__init__(word)
        self.word = word
        self.suggestions = suggestions

    def __str__(self) -> str:
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        return f"“{self.word}” is not in the vocabulary.{hint}"


COMPUTED_VIEWS = 32  # maps computed on request and kept: 4 sizes x (PCA + 5 perplexities) fit


def coordinates_csv(words: list[str], xyz: np.ndarray, groups: list[str]) -> str:
    """A map as CSV (rank, word, x, y, z, group), for download."""
    rows = ["rank,word,x,y,z,group"]
    rows += [f"{i + 1},{w},{x:.5f},{y:.5f},{z:.5f},{g}" for i, (w, (x, y, z), g) in enumerate(zip(words, xyz, groups))]
    return "\n".join(rows) + "\n"


class Embeddings:
    """Trained word vectors: `.vocab` (most frequent first), `.vectors` (V, D) float32,
    cosine `nearest` and 3CosAdd `analogy`, both case-insensitive."""

    def __init__(self, vocab: list[str], vectors: np.ndarray, meta: dict | None = None, views: dict | None = None):
        self.vocab = list(vocab)
        self.meta = meta or {}
        self.views = views or {}  # "tsne_<n>" -> (n, 3) precomputed coordinates
        self.index = {w: i for i, w in enumerate(self.vocab)}
        vectors = np.asarray(vectors, dtype=np.float32)
        # Only the unit vectors and the lengths are kept (the vectors are their product when asked for): a second
        # (V, D) float32 table cost 72 MB of the server's memory for nothing the page uses.
        self.norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)  # (V, 1)
        self.unit = torch.from_numpy(vectors / self.norms)  # (V, D) rows of length 1
        self._computed: dict[tuple, np.ndarray] = {}  # (n, method, perplexity) -> (n, 3), oldest first
        self._lock = threading.Lock()

    @property
    def vectors(self) -> np.ndarray:
        """(V, D) float32: the trained vectors (unit vector x length; for the tests and benchmarks, not the page)."""
        return self.unit.numpy() * self.norms

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, word: str) -> bool:
        return word.strip().lower() in self.index

    def suggestions(self, word: str, n: int = 5) -> list[str]:
        """Close spellings among the 30,000 most frequent words (difflib ratio >= 0.75)."""
        return difflib.get_close_matches(word.strip().lower(), self.vocab[:30000], n=n, cutoff=0.75)

    def id(self, word: str) -> int:
        key = word.strip().lower()
        if key not in self.index:
            raise UnknownWordError(word.strip(), self.suggestions(key))
        return self.index[key]

    def _rank(self, query: torch.Tensor, exclude: list[int], k: int) -> list[tuple[str, float]]:
        scores = self.unit @ query  # (V,) cosine similarities
        scores[exclude] = -float("inf")
        top = torch.topk(scores, k)
        return [(self.vocab[i], float(s)) for s, i in zip(top.values, top.indices)]

    def nearest(self, word: str, k: int = 10, include_self: bool = False) -> list[tuple[str, float]]:
        """The k words of highest cosine similarity; the word itself (cosine 1) only if asked."""
        i = self.id(word)
        return self._rank(self.unit[i], [] if include_self else [i], k)

    def analogy(self, a: str, b: str, c: str, k: int = 10) -> list[tuple[str, float]]:
        """a is to b as c is to ?: the words nearest to b - a + c (unit vectors, 3CosAdd),
        excluding a, b and c; score = cosine with b - a + c. "man", "king", "woman" -> queen."""
        ids = [self.id(w) for w in (a, b, c)]
        target = self.unit[ids[1]] - self.unit[ids[0]] + self.unit[ids[2]]
        return self._rank(target / target.norm(), ids, k)

    def similarity(self, a: str, b: str) -> float:
        return float(self.unit[self.id(a)] @ self.unit[self.id(b)])

    # ---- 3D views of the n most frequent words -------------------------------------------
    def precomputed_sizes(self) -> list[int]:
        return sorted(int(k.split("_")[1]) for k in self.views if k.startswith("tsne_"))

    def _precomputed(self, n: int, method: str, perplexity: float) -> np.ndarray | None:
        """The shipped t-SNE view for these settings, if there is one."""
        return self.views.get(f"tsne_{n}") if method != "PCA" and perplexity == DEFAULT_PERPLEXITY else None

    def needs_computation(self, n: int, method: str = "t-SNE", perplexity: float = DEFAULT_PERPLEXITY) -> bool:
        """Whether `view` would run a t-SNE (seconds): neither precomputed nor computed before."""
        return (method == "t-SNE" and self._precomputed(n, method, perplexity) is None
                and (n, method, float(perplexity)) not in self._computed)

    def view(self, n: int, method: str = "t-SNE", perplexity: float = DEFAULT_PERPLEXITY, progress=None) -> np.ndarray:
        """(n, 3) coordinates of the n most frequent words: PCA, or t-SNE (precomputed at the
        default perplexity when available, else computed here; progress(i, total) per iteration).
        What is computed is kept (the last COMPUTED_VIEWS), for every caller of this object."""
        from models import tsne

        shipped = self._precomputed(n, method, perplexity)
        if shipped is not None:
            return shipped
        key = (n, method, float(perplexity))
        if key not in self._computed:
            unit = self.unit[:n].numpy()
            xyz = tsne.pca(unit, 3) if method == "PCA" else tsne.tsne(unit, 3, perplexity=perplexity, progress=progress)
            xyz.setflags(write=False)  # shared: nobody may change it in place
            with self._lock:
                self._computed[key] = xyz
                while len(self._computed) > COMPUTED_VIEWS:
                    self._computed.pop(next(iter(self._computed)))
        return self._computed[key]

    def clusters(self, n: int, k: int, seed: int = 0) -> np.ndarray:
        """k-means on the unit vectors of the n most frequent words -> (n,) labels 0..k-1,
        numbered by cluster size (0 = largest)."""
        from sklearn.cluster import KMeans

        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(self.unit[:n].numpy())
        order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
        return np.argsort(order)[labels]


# Curated semantic categories for colouring the map (a word belongs to at most one).
CATEGORIES: dict[str, list[str]] = {
    "numbers": "one two three four five six seven eight nine ten eleven twelve twenty thirty hundred thousand million billion first second third fourth fifth".split(),
    "months & days": "january february march april may june july august september october november december monday tuesday wednesday thursday friday saturday sunday".split(),
    "family": "father mother son daughter brother sister wife husband uncle aunt cousin grandfather grandmother king queen prince princess boy girl man woman child children parents".split(),
    "colours": "red green blue yellow black white brown orange purple pink grey gray golden silver".split(),
    "countries": "france germany italy spain england britain china japan india russia canada mexico brazil egypt greece ireland scotland poland sweden norway australia israel iran iraq turkey portugal netherlands austria hungary".split(),
    "cities": "london paris rome berlin moscow tokyo madrid vienna athens york boston chicago washington dublin edinburgh jerusalem cairo sydney beijing".split(),
    "animals": "dog dogs cat cats horse horses cow sheep pig bird birds fish lion tiger wolf bear fox deer snake eagle mouse rabbit elephant whale insects cattle".split(),
    "body": "head hand hands eye eyes face heart arm arms leg legs foot feet hair mouth blood skin bones lips ear teeth".split(),
    "verbs of motion": "go went gone come came walk walked run ran move moved fly flew ride rode travel travelled arrive arrived return returned leave left".split(),
    "science": "physics chemistry biology mathematics energy atoms molecules theory experiment electron protein cells genes equation".split(),
}


def categories_of(words: list[str]) -> list[str]:
    """The curated category of each word, or "other"."""
    lookup = {w: name for name, ws in CATEGORIES.items() for w in ws}
    return [lookup.get(w, "other") for w in words]


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V, D) float vectors -> (int8 (V, D), per-vector scale (V,) float32): each row divided by its largest |value|
    / 127 and rounded. Half the bytes of fp16: 60,000 words x 300 fit in 18 MB (the 20 MiB file limit); cosine
    similarities move by at most ~0.001 (train.embeddings measures it into the card)."""
    vectors = np.asarray(vectors, np.float32)
    scales = np.maximum(np.abs(vectors).max(axis=1), 1e-12) / 127.0
    return np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8), scales.astype(np.float32)


def dequantize(q: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """quantize's inverse, up to rounding: (V, D) float32."""
    return q.astype(np.float32) * scales[:, None]


def load(weights_dir=None, device=None) -> Loaded:
    """The shipped vectors (int8 with a per-vector scale on disk, or fp16 in older checkpoints -> float32),
    vocabulary and precomputed views: (Embeddings, meta). `device` is accepted for the common interface: the
    vectors live in NumPy, on the CPU."""
    tensors, meta = load_checkpoint(NAME, weights_dir)
    views = {k: v.float().numpy() for k, v in tensors.items() if k.startswith("tsne_")}
    if "vectors_int8" in tensors:
        vectors = dequantize(tensors["vectors_int8"].numpy(), tensors["scales"].numpy())
    else:
        vectors = tensors["vectors"].float().numpy()
    return Loaded(Embeddings(meta["vocab"], vectors, meta, views), meta)


def default_model() -> Embeddings:
    """The shipped vectors, loaded once per process (models.common.shared)."""
    return shared(NAME).model


def meta_config(cfg: Config) -> dict:
    return asdict(cfg)


# ---- the model card's text ------------------------------------------------------------------------


def card_text(meta: dict) -> list[str]:
    """The card's measured lines (markdown), from the checkpoint's JSON: vocabulary, corpus, word-similarity
    and analogy scores, the maps."""
    m = meta["metrics"]
    return [
        f"**Vocabulary:** {meta['vocabulary_training']:,} words seen at least {meta['preprocessing']['min_count']} times "
        f"(tokeniser: `{meta['preprocessing']['tokenizer']}`); {meta['shipped_words']:,} shipped",
        f"**Corpus:** {meta['corpus_tokens_all']:,} tokens ({meta['corpus_tokens']:,} after dropping rare words)",
        f"**WordSim-353** (Spearman ρ of cosine vs. human similarity): **{m['wordsim353_spearman']:.3f}** "
        f"({m['wordsim353_pairs']}/{m['wordsim353_total']} pairs covered)",
        f"**Google analogies** (3CosAdd among the {m['analogy_vocabulary']:,} most frequent words): "
        f"**{m['analogy_accuracy']:.1%}** of the {m['analogy_questions']:,} questions whose words are among "
        f"them ({m['analogy_questions'] / m['analogy_total']:.0%} of all {m['analogy_total']:,})",
        f"**Maps:** {meta['views']['method']}; precomputed for {', '.join(f'{s:,}' for s in meta['views']['sizes'])} words",
    ] + _rounding_lines(meta)


def _rounding_lines(meta: dict) -> list[str]:
    """What int8 storage changed (cards from train.embeddings since it stores int8), in one line."""
    r = meta.get("rounding")
    if not r or not r.get("metrics_float32"):
        return []
    f = r["metrics_float32"]
    worst = max(r["max_cosine_change_random_pairs"], r["max_cosine_change_wordsim_pairs"],
                r["max_cosine_change_nearest_10"])
    return [f"**Storage:** {r['storage']}: cosine similarities move by at most {worst:.4f} (over "
            f"{r['random_pairs']:,} random pairs, the WordSim pairs and the 2,000 most frequent words' 10 nearest); "
            f"{r['same_10_nearest']:.0%} of sampled words keep the same 10 nearest; with the float32 vectors, "
            f"WordSim ρ {f['wordsim353_spearman']:.3f} and analogies {f['analogy_accuracy']:.1%}"]
