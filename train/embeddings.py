"""Train skip-gram word vectors from scratch on the English corpora, evaluate, precompute the 3D maps.

    python -m train.embeddings --data-dir ../shared/data

Reads DATA_DIR/text/corpus/*.txt.gz (Wikipedia 2015 15M tokens, Gutenberg 5M, NLTK corpora),
tokenises with `models.embeddings.tokenize` (what the page does to a query), trains
`models.embeddings.SkipGram` with linearly decaying SGD, evaluates after every epoch on
WordSim-353 (Spearman) and the Google analogy set (3CosAdd over the 30,000 most frequent
words, as word2vec's compute-accuracy does), then writes models/weights/embeddings.safetensors
(int8 vectors with a per-vector scale + t-SNE views) and embeddings.json.
"""
from __future__ import annotations

import collections
import gzip
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from models import embeddings as E
from models import tsne
from models.common import WEIGHTS_DIR, save_checkpoint
from train.common import default_data_dir, parse_config, start_run, training_record

CORPUS_FILES = ["enwiki_2015_15m", "gutenberg_en", "nltk_abc", "nltk_brown", "nltk_inaugural_state_union"]
ANALOGY_TOP = 30000
VIEW_SIZES = (500, 1000, 2000, 5000)  # t-SNE maps precomputed at the default perplexity
PROVENANCE = {
    "dataset": "English Wikipedia 2015 (first 6,064 articles, 15.0M tokens), 100 Project Gutenberg books (5.1M), "
    "NLTK Brown, ABC and inaugural/State of the Union corpora (2.2M)",
    "files": "text/corpus/*.txt.gz; evaluation: text/eval/wordsim353/combined.tab, text/eval/questions-words.txt",
    "license": "Wikipedia text CC BY-SA 3.0 (Wikipedia contributors); Gutenberg books public domain in the USA; "
    "Brown: non-commercial use; inaugural/State of the Union: public domain. WordSim-353: Finkelstein et al. 2002; "
    "analogies: Mikolov et al. 2013 (Apache-2.0)",
}


@dataclass
class TrainConfig:
    """Train skip-gram word vectors with negative sampling."""

    data_dir: str = default_data_dir()
    out_dir: str = str(WEIGHTS_DIR)
    dim: int = 300
    window: int = 10
    negatives: int = 5
    sample: float = 1e-4
    min_count: int = 5
    epochs: int = 15
    lr: float = 0.025  # word2vec's starting rate, decayed linearly to 0
    blocks: int = 8  # blocks of 64 positions per step (512 positions)
    ship_words: int = 60000  # keep the vectors of this many most frequent words (0 = all): 17.5 MiB in int8
    seed: int = 0
    threads: int = 0  # 0 = all cores
    dry_run: bool = False  # a slice of one corpus, a few steps, tiny maps: for tests


def read_corpus(data_dir: str, max_lines: int | None = None):
    """-> (vocab, counts, tokens, sentences): words with count >= min_count are kept later;
    here every line (a paragraph) becomes one sentence of tokens."""
    folder = Path(data_dir) / "text" / "corpus"
    lines = []
    for name in CORPUS_FILES[:1] if max_lines else CORPUS_FILES:
        with gzip.open(folder / f"{name}.txt.gz", "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if max_lines and i >= max_lines:
                    break
                words = E.tokenize(line)
                if words:
                    lines.append(words)
    return lines


def build_vocab(lines, min_count: int):
    """-> (vocab most frequent first, counts, token ids (T,), sentence ids (T,)) without rare words, total tokens."""
    counts = collections.Counter(w for words in lines for w in words)
    vocab = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
    total = sum(counts.values())  # every token, rare words included
    index = {w: i for i, w in enumerate(vocab)}
    ids = [[index[w] for w in words if w in index] for words in lines]
    tokens = np.fromiter((i for s in ids for i in s), dtype=np.int64)
    sentences = np.repeat(np.arange(len(ids)), [len(s) for s in ids])
    return vocab, np.array([counts[w] for w in vocab], dtype=np.int64), tokens, sentences, total


def read_wordsim(data_dir: str) -> list[tuple[str, str, float]]:
    path = Path(data_dir) / "text" / "eval" / "wordsim353" / "combined.tab"
    rows = path.read_text(encoding="ascii").splitlines()[1:]
    return [(a.lower(), b.lower(), float(s)) for a, b, s in (r.split("\t")[:3] for r in rows)]


def read_analogies(data_dir: str) -> list[list[str]]:
    path = Path(data_dir) / "text" / "eval" / "questions-words.txt"
    return [line.lower().split() for line in path.read_text(encoding="ascii").splitlines() if not line.startswith(":")]


def wordsim_score(emb: E.Embeddings, pairs) -> tuple[float, int]:
    """-> (Spearman correlation of cosines with human scores, pairs covered)."""
    from scipy.stats import spearmanr

    covered = [(a, b, s) for a, b, s in pairs if a in emb.index and b in emb.index]
    cosines = [emb.similarity(a, b) for a, b, _ in covered]
    return float(spearmanr(cosines, [s for *_, s in covered]).correlation), len(covered)


@torch.no_grad()
def analogy_accuracy(emb: E.Embeddings, questions, top: int = ANALOGY_TOP) -> tuple[float, int]:
    """-> (3CosAdd accuracy, questions covered): only questions whose four words are among the
    `top` most frequent are asked, and answers are searched among those words (as word2vec does)."""
    ids = [[emb.index[w] for w in q] for q in questions if all(emb.index.get(w, top) < top for w in q)]
    if not ids:
        return 0.0, 0
    q, unit, correct = torch.tensor(ids), emb.unit[:top], 0
    for i in range(0, len(q), 1024):
        b = q[i : i + 1024]
        scores = (unit[b[:, 1]] - unit[b[:, 0]] + unit[b[:, 2]]) @ unit.T  # (n, top)
        scores.scatter_(1, b[:, :3], -float("inf"))
        correct += int((scores.argmax(1) == b[:, 3]).sum())
    return correct / len(q), len(q)


def evaluate(emb: E.Embeddings, data_dir: str) -> dict:
    rho, pairs = wordsim_score(emb, read_wordsim(data_dir))
    acc, asked = analogy_accuracy(emb, read_analogies(data_dir))
    return {"wordsim353_spearman": round(rho, 4), "wordsim353_pairs": pairs, "wordsim353_total": 353,
            "analogy_accuracy": round(acc, 4), "analogy_questions": asked, "analogy_total": 19544,
            "analogy_vocabulary": ANALOGY_TOP}


def train_epoch(model: E.SkipGram, tokens, sentences, keep, table, cfg: TrainConfig, rng, step0, total_steps, max_steps=None):
    """One pass over the corpus: subsample, draw windows and negatives, fused SGD steps."""
    kept = rng.random(len(tokens)) < keep[tokens]  # subsampling, drawn afresh every epoch
    tok, sent = torch.from_numpy(tokens[kept]), torch.from_numpy(sentences[kept])
    per_step = cfg.blocks * model.cfg.block
    steps = len(tok) // per_step if max_steps is None else min(max_steps, len(tok) // per_step)
    n_neg = cfg.blocks * model.cfg.shared_negatives
    losses = []
    for s in tqdm(range(steps), leave=False, mininterval=2):
        lr = cfg.lr * max(1e-4, 1 - (step0 + s) / total_steps)
        window = torch.randint(1, cfg.window + 1, (per_step,))
        negatives = table[torch.randint(0, len(table), (n_neg,))]
        lo = s * per_step
        losses.append(model.step(tok[lo : lo + per_step], sent[lo : lo + per_step], window, negatives, lr))
    return float(np.mean(losses)) if losses else float("nan"), steps, len(tok)


def shipped(model: E.SkipGram, vocab, cfg: TrainConfig, rounded: bool = True) -> E.Embeddings:
    """The input vectors, rounded to int8 as they are saved (E.quantize): every reported score is the shipped
    one's. rounded=False: the float32 vectors as trained."""
    n = cfg.ship_words or len(vocab)
    vectors = model.emb_in.weight[:n].detach().float().numpy()
    return E.Embeddings(vocab[:n], E.dequantize(*E.quantize(vectors)) if rounded else vectors)


def rounding_effect(exact: E.Embeddings, rounded: E.Embeddings, data_dir: str, pairs: int = 200_000,
                    seed: int = 0, score: bool = True) -> dict:
    """How far int8 storage moves cosine similarities: over random pairs of shipped words, the WordSim pairs,
    and each of the 2,000 most frequent words' 10 nearest neighbours; and the metrics with float32 vectors."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(exact.vocab), (2, pairs))
    random_change = (exact.unit[a] * exact.unit[b]).sum(1) - (rounded.unit[a] * rounded.unit[b]).sum(1)
    ws = [(exact.index[x], exact.index[y]) for x, y, _ in read_wordsim(data_dir) if x in exact.index and y in exact.index]
    wa, wb = torch.tensor(ws).T
    wordsim_change = (exact.unit[wa] * exact.unit[wb]).sum(1) - (rounded.unit[wa] * rounded.unit[wb]).sum(1)
    n = min(2000, len(exact.vocab))
    top = exact.unit[:n] @ exact.unit.T  # (n, V)
    neighbours = torch.topk(top, 11, dim=1).indices[:, 1:]  # each word's 10 nearest (itself left out)
    rows = torch.arange(n)[:, None].expand_as(neighbours)
    near_change = top[rows, neighbours] - (rounded.unit[:n] @ rounded.unit.T)[rows, neighbours]
    same_top10 = float(np.mean([set(torch.topk(rounded.unit[i] @ rounded.unit.T, 11).indices[1:].tolist())
                                == set(neighbours[i].tolist()) for i in range(0, n, 10)]))
    return {"storage": "int8, one float32 scale per vector (largest |value| / 127)",
            "max_cosine_change_random_pairs": round(float(random_change.abs().max()), 5),
            "max_cosine_change_wordsim_pairs": round(float(wordsim_change.abs().max()), 5),
            "max_cosine_change_nearest_10": round(float(near_change.abs().max()), 5),
            "same_10_nearest": round(same_top10, 4), "random_pairs": pairs,
            "metrics_float32": evaluate(exact, data_dir) if score else {}}


def train(cfg: TrainConfig) -> dict:
    process_start = start_run(cfg)
    rng = np.random.default_rng(cfg.seed)
    lines = read_corpus(cfg.data_dir, max_lines=2000 if cfg.dry_run else None)
    vocab, counts, tokens, sentences, total_tokens = build_vocab(lines, 2 if cfg.dry_run else cfg.min_count)
    del lines
    print(f"{len(tokens):,} tokens, vocabulary {len(vocab):,}", flush=True)
    model_cfg = E.Config(vocab_size=len(vocab), dim=cfg.dim, window=cfg.window, negatives=cfg.negatives,
                         sample=cfg.sample, min_count=cfg.min_count)
    model = E.SkipGram(model_cfg)
    keep = E.keep_probabilities(counts, cfg.sample)
    # A table of 10M words drawn from counts^0.75: negatives are uniform picks from it (word2vec's trick).
    table = torch.from_numpy(rng.choice(len(vocab), size=10_000_000, p=E.negative_distribution(counts)))

    epochs = 1 if cfg.dry_run else cfg.epochs
    per_step = cfg.blocks * model_cfg.block
    expected_kept = float((keep[tokens]).sum())
    total_steps = max(1, int(epochs * expected_kept // per_step))
    curve, step, start = [], 0, time.time()
    for epoch in range(epochs):
        loss, steps, kept = train_epoch(model, tokens, sentences, keep, table, cfg, rng, step, total_steps,
                                        max_steps=20 if cfg.dry_run else None)
        step += steps
        scores = {} if cfg.dry_run else evaluate(shipped(model, vocab, cfg), cfg.data_dir)
        curve.append({"epoch": epoch + 1, "train_loss": round(loss, 4), "tokens_after_subsampling": kept,
                      "wordsim353": scores.get("wordsim353_spearman"), "analogy": scores.get("analogy_accuracy"),
                      "seconds": round(time.time() - start, 1)})
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v}" for k, v in curve[-1].items() if k != "epoch"), flush=True)
    seconds = time.time() - start

    emb = shipped(model, vocab, cfg)
    metrics = {} if cfg.dry_run else evaluate(emb, cfg.data_dir)
    exact = shipped(model, vocab, cfg, rounded=False)
    rounding = rounding_effect(exact, emb, cfg.data_dir, pairs=1000 if cfg.dry_run else 200_000,
                               score=not cfg.dry_run)
    if not cfg.dry_run:  # the float32 vectors of the whole vocabulary, for later experiments (git-ignored)
        Path("runs/embeddings").mkdir(parents=True, exist_ok=True)
        np.save("runs/embeddings/vectors_fp32.npy", model.emb_in.weight.detach().float().numpy())
        Path("runs/embeddings/vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    views, view_seconds = {}, {}
    for n in (50,) if cfg.dry_run else VIEW_SIZES:
        t = time.time()
        views[f"tsne_{n}"] = torch.from_numpy(tsne.tsne(emb.unit[:n].numpy(), 3, perplexity=E.DEFAULT_PERPLEXITY))
        view_seconds[n] = round(time.time() - t, 1)
    meta = {
        "name": E.NAME,
        "architecture": f"skip-gram with negative sampling: {len(emb.vocab):,} words x {cfg.dim} dims "
        f"(input and output vectors, window 1..{cfg.window}, {cfg.negatives} negatives, subsampling {cfg.sample:g})",
        "config": E.meta_config(model_cfg),
        "parameters": 2 * len(vocab) * cfg.dim,
        "shipped_words": len(emb.vocab),
        "corpus_tokens": int(len(tokens)),
        "corpus_tokens_all": int(total_tokens),
        "vocabulary_training": len(vocab),
        "preprocessing": {"tokenizer": E.TOKEN_PATTERN.pattern + " on lower-cased text", "min_count": cfg.min_count},
        "metrics": metrics,
        "rounding": rounding,
        "curve": curve,
        "views": {"perplexity": E.DEFAULT_PERPLEXITY, "sizes": sorted(int(k.split("_")[1]) for k in views),
                  "seconds": view_seconds, "method": "exact t-SNE (models/tsne.py), 750 iterations, PCA init"},
        "training": training_record("train.embeddings", cfg, seconds, process_start, "fp32 vectors, bf16 products"),
        "data": PROVENANCE,
        "vocab": emb.vocab,
    }
    q, scales = E.quantize(exact.vectors)
    tensors = {"vectors_int8": torch.from_numpy(q), "scales": torch.from_numpy(scales), **views}
    if not cfg.dry_run or cfg.out_dir != str(WEIGHTS_DIR):  # a dry run never replaces the shipped model
        save_checkpoint(tensors, meta, E.NAME, cfg.out_dir)
    print({k: v for k, v in metrics.items()}, f"training {seconds / 60:.1f} min", flush=True)
    return meta


if __name__ == "__main__":
    train(parse_config(TrainConfig))
