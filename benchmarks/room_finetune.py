"""The room teaches the network: seconds to fine-tune a copy of the digit network on the room's drawings (one torch
thread), and what it does to the room's other drawings and to 2,000 MNIST test digits (models/room_finetune.py).

    python -m benchmarks.room_finetune [--drawings 100] [--repeats 3]

The room's drawings: canvas-like digits (harness/drawing.py) through the page's preprocessing, turned a quarter
(an odd hand the shipped network often misreads), each labelled, as the room's taps label them.
"""
from __future__ import annotations

import argparse
import statistics

import numpy as np

from harness.drawing import render


def room_drawings(n: int, turn: bool = True, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """n drawings as the page's network saw them, (n, 28, 28) uint8, and their digits; turn: a quarter turn."""
    from models import digits

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        image = render(i % 10, int(rng.integers(40, 80)), int(rng.integers(20, 60)), 180, int(rng.integers(12, 24)))
        x = (digits.preprocess(image) * 255).astype(np.uint8)
        images.append(np.rot90(x).copy() if turn else x)
        labels.append(i % 10)
    return np.stack(images), np.array(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drawings", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from models import room_finetune

    images, labels = room_drawings(args.drawings)
    room_finetune.mnist_subset()  # read once per server process: not a fine-tuning's cost
    results = [room_finetune.fine_tune(images, labels) for _ in range(args.repeats)]
    r = results[-1]
    print(f"{args.drawings} drawings: fine-tuned on {r.trained_on}, scored on {r.scored_on}; seconds per fine-tuning "
          f"(one thread) {', '.join(f'{x.seconds:.1f}' for x in results)}, "
          f"median {statistics.median(x.seconds for x in results):.1f}")
    print(f"the room's other drawings {r.room_before:.1%} -> {r.room_after:.1%}; "
          f"2,000 MNIST test digits {r.mnist_before:.2%} -> {r.mnist_after:.2%}")


if __name__ == "__main__":
    main()
