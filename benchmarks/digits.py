"""Latency of models.digits.predict on a 280x280 canvas drawing (median and p95 of many calls).

    python -m benchmarks.digits [--calls 500]
"""
from __future__ import annotations

import torch

from benchmarks.common import latency_parser, report, timed
from harness.drawing import render
from models import digits
from models.common import device_name


def main() -> None:
    parser = latency_parser(__doc__, calls=500, warmup=20)
    args = parser.parse_args()

    model, _ = digits.load()
    drawings = [render(d, 40 + 5 * d, 30, 150 + 8 * d, 10 + d) for d in range(10)]
    ms = timed(lambda i: digits.predict(drawings[i % 10], model), args.calls, args.warmup, busy=args.busy_thread)
    report(f"digits.predict on a 280x280 RGBA canvas, {args.calls} calls, {device_name()}, torch {torch.__version__}",
           ms, args.busy_thread, decimals=2)


if __name__ == "__main__":
    main()
