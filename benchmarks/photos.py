"""Latency of models.photos.classify + gradcam on a photo (median and p95 of many calls).

    python -m benchmarks.photos [--calls 200] [--no-tta]

The photo is scikit-image's Chelsea the cat (451x300), the page's first example.
"""
from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np
import torch

from models import photos
from models.common import device_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    model, _ = photos.load()
    image = photos.open_image((resources.files("skimage") / "data" / "chelsea.png").read_bytes())
    times = []
    for i in range(args.warmup + args.calls):
        start = time.perf_counter()
        top = photos.classify(image, model, tta=args.tta)[0][0]
        photos.gradcam(image, top, model)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    print(f"photos.classify (tta={args.tta}) + gradcam on a {image.width}x{image.height} photo, {args.calls} calls, "
          f"{device_name()}, torch {torch.__version__}")
    print(f"median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, min {ms.min():.1f} ms")


if __name__ == "__main__":
    main()
