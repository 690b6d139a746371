"""How a real photo becomes 32x32, measured on real photos of the ten classes (issue 35).

    python -m benchmarks.photos_preprocess --data-dir ../shared/data [--weights DIR]

real_photos_dev (Tiny ImageNet, 64x64 photos of 7 of the ten classes; evaluation only, never trained on) through
each way of shrinking and framing, then the shipped network with test-time augmentation: top-1 per variant. The
page's way is `models.photos.preprocess` (the largest centred square, Lanczos: an antialiased downscale).
"""
from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from models import photos
from train.common import default_data_dir

REAL = "vision/tiny_imagenet/real_photos_dev.tar"
FILTERS = {"lanczos (the page)": Image.Resampling.LANCZOS, "bilinear": Image.Resampling.BILINEAR,
           "nearest (no antialiasing)": Image.Resampling.NEAREST}
CROPS = (1.0, 0.8)  # the share of the centred square's side kept (1: the whole frame)


def real_photos(data_dir: str) -> tuple[list[Image.Image], torch.Tensor]:
    images, labels = [], []
    with tarfile.open(Path(data_dir) / REAL) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".JPEG"):
                images.append(Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB"))
                labels.append(photos.CLASSES.index(member.name.split("/")[1]))
    return images, torch.tensor(labels)


def shrink(image: Image.Image, resample, crop: float) -> np.ndarray:
    left, top, right, bottom = photos.crop_box(image.size)
    cut = (right - left) * (1 - crop) / 2
    box = (left + cut, top + cut, right - cut, bottom - cut)
    small = image.resize((photos.IMAGE_SIZE, photos.IMAGE_SIZE), resample, box=box)
    return np.asarray(small, dtype=np.float32).transpose(2, 0, 1) / 255.0


def measure(model, images: list[Image.Image], labels: torch.Tensor) -> dict[str, float]:
    results = {}
    for name, resample in FILTERS.items():
        for crop in CROPS:
            x = torch.from_numpy(np.stack([shrink(im, resample, crop) for im in images]))
            logits, _ = photos.logits_and_scores(model, x)  # as the page computes them
            results[f"{name}, centre {crop:.0%}"] = round(float((logits.argmax(1) == labels).float().mean()), 4)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--weights", default=None, help="a weights folder (default: the shipped models/weights)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = photos.load(args.weights, device=torch.device("cpu")).model
    images, labels = real_photos(args.data_dir)
    for variant, top1 in measure(model, images, labels).items():
        print(f"{variant:38s} {top1:.1%} of {len(labels)}")


if __name__ == "__main__":
    main()
