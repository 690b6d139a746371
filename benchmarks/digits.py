"""Latency of models.digits.predict on a 280x280 canvas drawing (median and p95 of many calls).

    python -m benchmarks.digits [--calls 500]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from drawing import render  # noqa: E402

from benchmarks.common import add_busy_flag, summary, timed
from models import digits  # noqa: E402
from models.common import device_name  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    add_busy_flag(parser)
    args = parser.parse_args()

    model, _ = digits.load()
    drawings = [render(d, 40 + 5 * d, 30, 150 + 8 * d, 10 + d) for d in range(10)]
    ms = timed(lambda i: digits.predict(drawings[i % 10], model), args.calls, args.warmup, busy=args.busy_thread)
    print(f"digits.predict on a 280x280 RGBA canvas, {args.calls} calls, {device_name()}, torch {torch.__version__}")
    print(("next to a busy Python thread: " if args.busy_thread else "") + summary(ms, decimals=2))


if __name__ == "__main__":
    main()
