"""Latency of models.digits.predict on a 280x280 canvas drawing (median and p95 of many calls).

    python -m benchmarks.digits [--calls 500]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from drawing import render  # noqa: E402

from models import digits  # noqa: E402
from models.common import device_name  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    model, _ = digits.load()
    drawings = [render(d, 40 + 5 * d, 30, 150 + 8 * d, 10 + d) for d in range(10)]
    times = []
    for i in range(args.warmup + args.calls):
        start = time.perf_counter()
        digits.predict(drawings[i % 10], model)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    print(f"digits.predict on a 280x280 RGBA canvas, {args.calls} calls, {device_name()}, torch {torch.__version__}")
    print(f"median {np.median(ms):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, min {ms.min():.2f} ms")


if __name__ == "__main__":
    main()
