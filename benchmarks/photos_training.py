"""Seconds per training step of the photo CNN on this machine, with oneDNN's convolution weight
gradients and with `train.photos.GemmWeightGradConv` (median of many steps, the two alternated in one
process, so that the machine's drift hits both alike).

    python -m benchmarks.photos_training [--widths 128,384,384] [--steps 10]

Random images and labels (the step's cost does not depend on them); bf16 autocast + channels_last
as in training.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from models import photos
from models.common import autocast, device_name
from train.photos import CpuTrainingConv2d, TrainConfig, init_network, make_optimizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--widths", default=TrainConfig.widths)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--steps", type=int, default=10, help="timed pairs of steps per variant")
    args = parser.parse_args()

    torch.manual_seed(0)
    cfg = TrainConfig(widths=args.widths, batch_size=args.batch_size)
    model = photos.PhotoNet(photos.Config(widths=tuple(int(w) for w in args.widths.split(","))))
    init_network(model, cfg)
    model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, cfg)
    convs = [getattr(group, name) for group in (model.block1, model.block2, model.block3) for name in ("conv1", "conv2")]
    x = torch.rand(args.batch_size, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, len(photos.CLASSES), (args.batch_size,))

    def step() -> None:
        with autocast(x.device):
            logits = model(x).float()
        loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing, reduction="sum")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    seconds: dict[str, list[float]] = {"oneDNN weight gradients": [], "GemmWeightGradConv": []}
    for _ in range(args.steps):
        for label, cls in zip(seconds, (nn.Conv2d, CpuTrainingConv2d)):
            for conv in convs:
                conv.__class__ = cls
            step()  # warm-up after the switch
            start = time.perf_counter()
            step()
            step()
            seconds[label].append((time.perf_counter() - start) / 2)
    print(f"training step, widths {args.widths}, batch {args.batch_size}, {device_name()}, torch {torch.__version__}")
    for label, values in seconds.items():
        print(f"{label}: median {statistics.median(values):.3f} s per step ({len(values)} pairs)")


if __name__ == "__main__":
    main()
