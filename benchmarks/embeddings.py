"""Latency of the word-embedding lookups and of a t-SNE recompute (median and p95 of many calls).

    python -m benchmarks.embeddings [--calls 200] [--tsne-words 2000] [--tsne-runs 3]

nearest(word, 10) and analogy(a, b, c, 5) over the whole shipped vocabulary, for words drawn from the
5,000 most frequent; then t-SNE of the n most frequent words at a perplexity that is not precomputed
(what the page does when a user picks another perplexity), and PCA.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.common import timed
from models import embeddings, tsne
from models.common import device_name


def report(name: str, ms: np.ndarray) -> None:
    print(f"{name}: median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms ({len(ms)} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--tsne-words", type=int, default=2000)
    parser.add_argument("--tsne-runs", type=int, default=3)
    parser.add_argument("--perplexity", type=float, default=20.0)
    args = parser.parse_args()

    start = time.perf_counter()
    emb, _ = embeddings.load()
    print(f"load: {time.perf_counter() - start:.2f} s; {len(emb):,} words x {emb.vectors.shape[1]} dims; "
          f"{device_name()}, torch {torch.__version__}")
    rng = np.random.default_rng(0)
    words = [emb.vocab[i] for i in rng.integers(0, 5000, 5 + args.calls)]
    report("nearest(word, 10)", timed(lambda i: emb.nearest(words[i], 10), args.calls))
    triples = [[emb.vocab[i] for i in rng.integers(0, 5000, 3)] for _ in range(5 + args.calls)]
    report("analogy(a, b, c, 5)", timed(lambda i: emb.analogy(*triples[i], 5), args.calls))
    # The computations themselves (Embeddings.view keeps what it computed: a second call costs nothing).
    unit = emb.unit[: args.tsne_words].numpy()
    report(f"PCA of {args.tsne_words:,} words", timed(lambda i: tsne.pca(unit, 3), 20, warmup=2))
    seconds = []
    for _ in range(args.tsne_runs):
        start = time.perf_counter()
        tsne.tsne(unit, 3, perplexity=args.perplexity)
        seconds.append(time.perf_counter() - start)
    print(f"t-SNE of {args.tsne_words:,} words in 3D, perplexity {args.perplexity:g}, 750 iterations: "
          f"median {np.median(seconds):.1f} s over {args.tsne_runs} runs ({', '.join(f'{s:.1f}' for s in seconds)})")


if __name__ == "__main__":
    main()
