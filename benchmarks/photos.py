"""Latency of models.photos.classify + gradcam on a photo (median and p95 of many calls).

    python -m benchmarks.photos [--calls 200] [--no-tta]

The photo is scikit-image's Chelsea the cat (451x300), the page's first example.
"""
from __future__ import annotations

import argparse
from importlib import resources

import torch

from benchmarks.common import latency_parser, report, timed
from models import photos
from models.common import device_name


def main() -> None:
    parser = latency_parser(__doc__, calls=200, warmup=10)
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    model, _ = photos.load()
    image = photos.open_image((resources.files("skimage") / "data" / "chelsea.png").read_bytes())

    def call(i: int) -> None:
        top = photos.classify(image, model, tta=args.tta)[0][0]
        photos.gradcam(image, top, model)

    ms = timed(call, args.calls, args.warmup, busy=args.busy_thread)
    report(f"photos.classify (tta={args.tta}) + gradcam on a {image.width}x{image.height} photo, {args.calls} calls, "
           f"{device_name()}, torch {torch.__version__}", ms, args.busy_thread)


if __name__ == "__main__":
    main()
