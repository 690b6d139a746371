"""Train the English -> French translator (GRU encoder-decoder with attention) from scratch.

    python -m train.translate --data-dir ../shared/data                 # CPU recipe (see README)
    python -m train.translate --data-dir data --minutes 6 --batch-size 256   # on a GPU

Reads DATA_DIR/text/tatoeba_eng_fra.tsv.gz (Tatoeba, CC BY 2.0 FR) and DATA_DIR/text/multi30k/raw
(read-only: nothing is written there). Tatoeba is split by English sentence (no English sentence in
two splits; fixed seed SPLIT_SEED), so a test sentence's French references are all its translations.
Learns a joint SentencePiece vocabulary from the training split, trains with teacher forcing and
label smoothing, measures greedy BLEU on the validation sets each epoch, saves
models/weights/translate.safetensors + .json, then scores the saved (fp16) weights on the test sets
with beam search (sacreBLEU, 13a tokenisation; chrF too). `--evaluate` only re-scores a checkpoint.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from contextlib import nullcontext

from tqdm import tqdm

from models import translate as tr
from models.common import (WEIGHTS_DIR, count_parameters, get_device, read_card, record_alternative, save_checkpoint,
                           write_card)
from train.common import (alternative_dir, alternative_entry, default_data_dir, hardware, parse_config, start_run,
                          training_record)

SPLIT_SEED = 0  # the Tatoeba split never changes with the training seed
PROVENANCE = {
    "tatoeba": "English-French sentence pairs from the Tatoeba Project (https://tatoeba.org), contributors of "
    "Tatoeba, as compiled by www.manythings.org/anki (2019-04-07 release, 163,887 pairs); licensed CC BY 2.0 FR. "
    "Normalised (NFKC, straight apostrophes) and split by English sentence for this project.",
    "multi30k": "Multi30k task 1 English-French (Elliott et al. 2016; Flickr30k captions), official train / val / "
    "test_2016_flickr files; research and educational use.",
    "files": "text/tatoeba_eng_fra.tsv.gz, text/multi30k/raw/{train,val,test_2016_flickr}.{en,fr}.gz",
    "dataset": "Tatoeba English-French (manythings.org, 2019-04-07) + Multi30k task 1 train",
    "license": "Tatoeba: CC BY 2.0 FR (attribution required); Multi30k: research and educational use",
}
ARCHITECTURE = ("shared subword embedding -> 2-layer bidirectional GRU encoder -> 2-layer GRU decoder with "
                "global attention (Luong et al. 2015, general score) -> readout tied to the embedding; beam search")


@dataclass
class TrainConfig:
    """Train the English -> French GRU encoder-decoder with attention."""

    data_dir: str = default_data_dir()
    out_dir: str = str(WEIGHTS_DIR)
    vocab_size: int = 8000
    emb: int = 256
    enc_hidden: int = 256
    enc_layers: int = 2
    dec_hidden: int = 512
    dec_layers: int = 2
    dropout: float = 0.3
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    warmup_steps: int = 300
    clip: float = 1.0
    epochs: int = 30
    minutes: float = 0.0  # time budget of the training loop; the schedule ends at whichever comes first
    multi30k_repeat: int = 1  # times Multi30k train is seen per epoch (Tatoeba is 5x larger)
    val_sentences: int = 2000  # English sentences (with all their translations)
    test_sentences: int = 5000
    beam_size: int = 5
    final_eval: bool = True  # beam-search BLEU on the test sets after saving (minutes on a CPU)
    evaluate: bool = False  # only re-score the checkpoint in out_dir on the test sets
    seed: int = 0
    threads: int = 0
    dry_run: bool = False
    # Another recipe for the shipped model (e.g. "cpu"): weights to runs/translate/NAME, results into the shipped card.
    alternative: str = ""
    note: str = ""  # with --alternative: a line for the card


# ---------------------------------------------------------------- data
def read_tatoeba(data_dir: str) -> list[tuple[str, str]]:
    path = Path(data_dir) / "text" / "tatoeba_eng_fra.tsv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    return [(tr.normalize(en), tr.normalize(fr)) for en, fr in rows]


def read_multi30k(data_dir: str, split: str) -> list[tuple[str, str]]:
    raw = Path(data_dir) / "text" / "multi30k" / "raw"
    side = lambda lang: gzip.open(raw / f"{split}.{lang}.gz", "rt", encoding="utf-8").read().splitlines()  # noqa: E731
    return [(tr.normalize(en), tr.normalize(fr)) for en, fr in zip(side("en"), side("fr"), strict=True)]


def group(pairs) -> list[tuple[str, list[str]]]:
    """(en, fr) pairs -> (en, all its French translations), in first-seen order."""
    refs: dict[str, list[str]] = {}
    for en, fr in pairs:
        refs.setdefault(en, []).append(fr)
    return list(refs.items())


def split_tatoeba(pairs, val_n: int, test_n: int):
    """-> (train pairs, val groups, test groups), split by English sentence with SPLIT_SEED."""
    groups = group(pairs)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(groups))
    test = [groups[i] for i in order[:test_n]]
    val = [groups[i] for i in order[test_n : test_n + val_n]]
    train = [(en, fr) for i in order[test_n + val_n :] for en, fr in [(groups[i][0], f) for f in groups[i][1]]]
    return train, val, test


def datasets(cfg: TrainConfig) -> dict:
    """Every split, normalised. Test/val sets are (English, [French references])."""
    train, val, test = split_tatoeba(read_tatoeba(cfg.data_dir), cfg.val_sentences, cfg.test_sentences)
    m_train = read_multi30k(cfg.data_dir, "train")
    sets = {
        "train": train + m_train * cfg.multi30k_repeat,
        "tokenizer_text": [s for p in train + m_train for s in p],
        "val": {"tatoeba": val, "multi30k": [(en, [fr]) for en, fr in read_multi30k(cfg.data_dir, "val")]},
        "test": {"tatoeba": test, "multi30k": [(en, [fr]) for en, fr in read_multi30k(cfg.data_dir, "test_2016_flickr")]},
    }
    if cfg.dry_run:
        sets["train"] = sets["train"][:: max(1, len(sets["train"]) // 2000)]
        sets["tokenizer_text"] = [s for p in sets["train"] for s in p]
        sets["val"] = {k: v[:40] for k, v in sets["val"].items()}
        sets["test"] = {k: v[:20] for k, v in sets["test"].items()}
    return sets


def split_summary(sets: dict) -> dict:
    digest = hashlib.sha256("\n".join(en for en, _ in sets["test"]["tatoeba"]).encode()).hexdigest()[:16]
    return {
        "train_pairs": len(sets["train"]),
        **{f"{part}_{name}_sentences": len(v) for part in ("val", "test") for name, v in sets[part].items()},
        "test_tatoeba_references": sum(len(r) for _, r in sets["test"]["tatoeba"]),
        "split": f"Tatoeba split by English sentence, numpy seed {SPLIT_SEED}; sha256 of the test English "
        f"sentences: {digest}",
    }


# ---------------------------------------------------------------- scoring
def scores(hypotheses: list[str], groups: list[tuple[str, list[str]]]) -> dict:
    """sacreBLEU (detokenised, 13a) and chrF against all references of each sentence."""
    from sacrebleu.metrics import BLEU, CHRF

    width = max(len(r) for _, r in groups)
    streams = [[r[i] if i < len(r) else None for _, r in groups] for i in range(width)]
    metric = BLEU()
    bleu = metric.corpus_score(hypotheses, streams)
    chrf = CHRF().corpus_score(hypotheses, streams)
    return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2), "signature": str(metric.get_signature())}


def evaluate_sets(model: tr.TranslateModel, sets: dict, beam_size: int) -> dict:
    out = {}
    for name, groups in sets.items():
        hyps = model.translate_batch([en for en, _ in groups], beam_size)
        out[name] = scores(hyps, groups)
    return out


# ---------------------------------------------------------------- training
def cpu_bf16(device: torch.device):
    """bf16 autocast on the CPU only (AMX: ~1.7x faster here); on a GPU the GRUs train in fp32 with TF32 matmuls,
    unlike the CNNs (models.common.autocast, bf16 on CUDA too)."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if device.type == "cpu" else nullcontext()


def batches(src: list[list[int]], tgt: list[list[int]], batch_size: int, rng: random.Random):
    """Batches of similar source length (less padding), in random order. -> lists of indices."""
    order = sorted(range(len(src)), key=lambda i: len(src[i]) + rng.random() * 2)
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    return chunks


def collate(src, tgt, idx, device):
    """-> src (B, S) + EOS, lengths (B,), tgt_in (B, T) = BOS + y, tgt_out (B, T) = y + EOS."""
    s, lengths = tr.source_batch([src[i] for i in idx], device)
    rows = [tgt[i] for i in idx]
    t = max(len(r) for r in rows) + 1
    tgt_in = torch.full((len(rows), t), tr.PAD, dtype=torch.long)
    tgt_out = torch.full((len(rows), t), tr.PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        tgt_in[i, : len(r) + 1] = torch.tensor([tr.BOS] + r)
        tgt_out[i, : len(r) + 1] = torch.tensor(r + [tr.EOS])
    return s, lengths, tgt_in.to(device), tgt_out.to(device)


def loss_fn(log_probs: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Label-smoothed cross-entropy over real target tokens. log_probs (B, T, V), target (B, T)."""
    mask = target != tr.PAD
    nll = -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    smooth = -log_probs.mean(-1)
    return (((1 - smoothing) * nll + smoothing * smooth) * mask).sum() / mask.sum()


def schedule(cfg: TrainConfig, step: int, progress: float) -> float:
    """Linear warm-up, then cosine decay to 0 as `progress` (steps or time, whichever is further) -> 1."""
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train(cfg: TrainConfig) -> None:
    process_start = start_run(cfg)
    device = get_device()
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    sets = datasets(cfg)
    tokenizer = tr.Tokenizer.train(sets["tokenizer_text"], min(cfg.vocab_size, 800 if cfg.dry_run else cfg.vocab_size), cfg.seed)
    src = tokenizer.encode([en for en, _ in sets["train"]])
    tgt = tokenizer.encode([fr for _, fr in sets["train"]])
    model_cfg = tr.Config(len(tokenizer), cfg.emb, cfg.enc_hidden, cfg.enc_layers, cfg.dec_hidden, cfg.dec_layers, cfg.dropout)
    net = tr.Translator(model_cfg).to(device)
    model = tr.TranslateModel(net, tokenizer, {})
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = random.Random(cfg.seed)
    steps_per_epoch = math.ceil(len(src) / cfg.batch_size)
    total_steps = (2 if cfg.dry_run else cfg.epochs) * steps_per_epoch
    print(f"{len(src):,} training pairs, {len(tokenizer)} subwords, {count_parameters(net):,} parameters, {device}")
    start, step, curve, best = time.time(), 0, [], -1.0
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        total, count = 0.0, 0
        chunks = batches(src, tgt, cfg.batch_size, rng)[: 3 if cfg.dry_run else None]
        for idx in tqdm(chunks, desc=f"epoch {epoch}", leave=False, mininterval=10):
            progress = max(step / total_steps, (time.time() - start) / (cfg.minutes * 60) if cfg.minutes else 0)
            if progress >= 1:
                break
            for g in opt.param_groups:
                g["lr"] = schedule(cfg, step, progress)
            s, lengths, tgt_in, tgt_out = collate(src, tgt, idx, device)
            with cpu_bf16(device):
                log_probs, _ = net(s, lengths, tgt_in)
            loss = loss_fn(log_probs, tgt_out, cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            opt.step()
            step += 1
            total, count = total + loss.item(), count + 1
        val = evaluate_sets(model, sets["val"], beam_size=1)
        curve.append({"epoch": epoch, "steps": step, "seconds": round(time.time() - start, 1),
                      "train_loss": round(total / max(count, 1), 4),
                      **{f"val_{k}_bleu_greedy": v["bleu"] for k, v in val.items()}})
        print(json.dumps(curve[-1]), flush=True)
        if sum(v["bleu"] for v in val.values()) > best:  # keep the epoch best on the validation sets
            best = sum(v["bleu"] for v in val.values())
            save(net, tokenizer, cfg, sets, curve, time.time() - start, process_start)
        if cfg.dry_run or progress >= 1 or step >= total_steps:
            break
    if cfg.final_eval or cfg.alternative:
        evaluate_checkpoint(cfg, sets)


def save(net, tokenizer, cfg: TrainConfig, sets: dict, curve: list, seconds: float, process_start: float) -> dict:
    model_cfg = net.cfg
    meta = {
        "name": tr.NAME,
        "architecture": ARCHITECTURE,
        "config": asdict(model_cfg),
        "parameters": count_parameters(net),
        "tokenizer": {"kind": "SentencePiece unigram, joint English+French, learned from the training split",
                      "vocab_size": len(tokenizer), "specials": {"pad": tr.PAD, "unk": tr.UNK, "bos": tr.BOS, "eos": tr.EOS}},
        "preprocessing": {"normalize": "NFKC, curly apostrophes -> ', whitespace collapsed (models.translate.normalize)",
                          "max_chars": tr.MAX_CHARS, "max_source_tokens": tr.MAX_SOURCE_TOKENS},
        "data": {**PROVENANCE, **split_summary(sets)},  # "dataset" and "license": for the model card
        "curve": curve,  # greedy BLEU on the validation sets after each epoch
        "selected_epoch": curve[-1]["epoch"],  # saved when the validation BLEU (sum of both sets) was best
        "training": training_record("train.translate", cfg, seconds, process_start,
                                    ("bf16 autocast" if get_device().type == "cpu" else "fp32 with TF32 matmuls")
                                    + "; weights stored as fp16"),
        "metrics": {},
    }
    save_checkpoint(tr.checkpoint_tensors(net, tokenizer), meta, tr.NAME, run_dir(cfg))
    return meta


def evaluate_checkpoint(cfg: TrainConfig, sets: dict | None = None) -> dict:
    """Score the saved checkpoint (what ships: fp16 weights) on the test sets; write into its JSON."""
    sets = sets or datasets(cfg)
    model, _ = tr.load(run_dir(cfg), get_device())
    start = time.time()
    metrics = {}
    for beam in (1, cfg.beam_size):
        for name, result in evaluate_sets(model, sets["test"], beam).items():
            metrics.setdefault(name, {})[f"beam{beam}"] = result
    metrics["seconds"] = round(time.time() - start, 1)
    metrics["command"] = "python -m train.translate --evaluate --data-dir DATA_DIR"
    metrics["hardware"] = hardware()
    meta = read_card(tr.NAME, run_dir(cfg))
    meta["metrics"] = metrics
    write_card(meta, tr.NAME, run_dir(cfg))
    if cfg.alternative:  # measured, not shipped: its results go into the shipped card
        record_alternative(tr.NAME, alternative_entry(meta, cfg.alternative, cfg.note), cfg.out_dir)
    print(json.dumps(metrics, indent=1))
    return metrics


def run_dir(cfg: TrainConfig) -> str:
    """Where this run's checkpoint goes: the shipped weights' folder, or runs/ for an --alternative recipe."""
    return alternative_dir(tr.NAME, cfg.alternative) if cfg.alternative else cfg.out_dir


if __name__ == "__main__":
    config = parse_config(TrainConfig)
    if config.evaluate:
        start_run(config)
        evaluate_checkpoint(config)
    else:
        train(config)
