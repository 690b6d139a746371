"""Train the digit CNN on MNIST with backpropagation.

    python -m train.digits --data-dir ../shared/data

Reads the four official IDX .gz files from DATA_DIR/vision/MNIST/raw (read-only: nothing is
written there), puts every image through `models.digits.preprocess` (what the page does to a
drawing), trains with augmentation that imitates drawing on a canvas, evaluates on the 10,000
official test images and writes models/weights/digits.safetensors + digits.json.
"""
from __future__ import annotations

import gzip
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from models import digits
from models.common import WEIGHTS_DIR, count_parameters, save_checkpoint
from train.common import autocast, default_data_dir, evaluate, parse_config, start_run, training_record

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
PROVENANCE = {
    "dataset": "MNIST (Y. LeCun, C. Cortes, C. J. C. Burges): 60,000 training + 10,000 test images",
    "files": "vision/MNIST/raw/*.gz, the four official IDX files (md5-verified)",
    "license": "CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)",
    "url": "http://yann.lecun.com/exdb/mnist/",
}


@dataclass
class TrainConfig:
    """Train the MNIST digit CNN."""

    data_dir: str = default_data_dir()
    out_dir: str = str(WEIGHTS_DIR)
    epochs: int = 14
    batch_size: int = 128
    lr: float = 4e-3
    weight_decay: float = 5e-4
    max_rotation: float = 12.0  # degrees
    max_scale: float = 0.12  # +/- fraction of size
    max_shear: float = 0.15  # slant, as people write
    max_shift: float = 1.5  # pixels, after centring by centre of mass
    thickness: float = 0.8  # stroke thickening/thinning strength (0 = off)
    seed: int = 0
    threads: int = 0  # 0 = all cores
    dry_run: bool = False  # a few batches on a small subset, for tests


def read_idx(path: Path, offset: int) -> np.ndarray:
    return np.frombuffer(gzip.open(path).read(), np.uint8, offset=offset)


def load_split(data_dir: str, split: str, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """-> images (N, 1, 28, 28) float in [0, 1] after `preprocess`, labels (N,) int64."""
    raw = Path(data_dir) / "vision" / "MNIST" / "raw"
    images_file, labels_file = MNIST_FILES[split]
    images = read_idx(raw / images_file, 16).reshape(-1, 28, 28)[:limit]
    labels = read_idx(raw / labels_file, 8)[:limit]
    x = np.stack([digits.preprocess(a) for a in tqdm(images, desc=f"preprocess {split}", leave=False)])
    return digits.to_batch(x), torch.as_tensor(labels.astype(np.int64))


def augment(x: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """Make a batch look like canvas drawings: rotate, scale, slant, shift, thicken or thin strokes.

    x: (B, 1, 28, 28) in [0, 1]. All random per sample, done on the batch in one grid_sample.
    """
    b = x.shape[0]
    u = lambda m: (torch.rand(b, device=x.device) * 2 - 1) * m  # noqa: E731  uniform in [-m, m]
    angle = u(math.radians(cfg.max_rotation))
    scale = 1 + u(cfg.max_scale)
    aspect = 1 + u(cfg.max_scale)
    shear = u(cfg.max_shear)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # theta maps output coords to input coords (normalised to [-1, 1]); (B, 2, 3)
    theta = torch.zeros(b, 2, 3, device=x.device)
    theta[:, 0, 0] = cos / (scale * aspect)
    theta[:, 0, 1] = (-sin + shear) / scale
    theta[:, 1, 0] = sin / (scale * aspect)
    theta[:, 1, 1] = cos / scale
    theta[:, :, 2] = torch.stack([u(cfg.max_shift), u(cfg.max_shift)], 1) * 2 / digits.IMAGE_SIZE
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    if cfg.thickness > 0:
        # Blend towards a 3x3 dilation (thicker pen) or erosion (thinner pen).
        t = u(cfg.thickness).view(b, 1, 1, 1)
        thick = F.max_pool2d(x, 3, 1, 1)
        thin = -F.max_pool2d(-x, 3, 1, 1)
        x = torch.where(t > 0, x + t * (thick - x), x - 0.5 * t * (thin - x))
    return x.clamp_(0, 1)


def train(cfg: TrainConfig) -> dict:
    process_start = start_run(cfg)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    limit = 512 if cfg.dry_run else None
    x_train, y_train = load_split(cfg.data_dir, "train", limit)
    x_test, y_test = load_split(cfg.data_dir, "test", limit)
    if device.type == "cuda":
        x_train, y_train = x_train.to(device), y_train.to(device)

    model_cfg = digits.Config()
    model = digits.DigitNet(model_cfg).to(device).to(memory_format=torch.channels_last)
    epochs = 1 if cfg.dry_run else cfg.epochs
    steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=epochs * steps_per_epoch, pct_start=0.2)

    curve, start = [], time.time()
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(x_train), device=x_train.device)
        seen, loss_sum, correct = 0, 0.0, 0
        bar = tqdm(range(0, len(x_train), cfg.batch_size), desc=f"epoch {epoch}/{epochs}", leave=False)
        for i in bar:
            idx = perm[i : i + cfg.batch_size]
            xb = augment(x_train[idx].to(device), cfg).contiguous(memory_format=torch.channels_last)
            yb = y_train[idx].to(device)
            with autocast(device):
                logits = model(xb).float()
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # backpropagation: gradients of the loss for every weight
            opt.step()
            sched.step()
            seen += len(yb)
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
        test_loss, test_acc = evaluate(model, x_test, y_test, device)
        curve.append(
            {
                "epoch": epoch,
                "train_loss": round(loss_sum / seen, 5),
                "train_accuracy": round(correct / seen, 5),
                "test_loss": round(test_loss, 5),
                "test_accuracy": round(test_acc, 5),
                "seconds": round(time.time() - start, 1),
            }
        )
        print(f"epoch {epoch}: " + ", ".join(f"{k} {v}" for k, v in curve[-1].items() if k != "epoch"), flush=True)
    seconds = time.time() - start

    model = model.to(memory_format=torch.contiguous_format)
    test_loss, test_acc = evaluate(model, x_test, y_test, device)
    meta = {
        "name": digits.NAME,
        "architecture": "5 conv blocks (3x3 conv, batch norm, ReLU; max-pool after 2, 4, 5) -> dropout -> "
        f"linear {model_cfg.hidden} -> batch norm -> ReLU -> dropout -> linear 10",
        "config": digits.config_dict(model_cfg),
        "parameters": count_parameters(model),
        "classes": digits.CLASSES,
        "preprocessing": {
            "image_size": digits.IMAGE_SIZE,
            "box_size": digits.BOX_SIZE,
            "center": list(digits.MNIST_CENTER),
            "mean": digits.MNIST_MEAN,
            "std": digits.MNIST_STD,
            "ink_threshold": digits.INK_THRESHOLD,
        },
        "metrics": {
            "test_accuracy": round(test_acc, 5),
            "test_errors": round((1 - test_acc) * len(y_test)),
            "test_loss": round(test_loss, 5),
            "test_images": len(y_test),
            "train_images": len(y_train),
            "evaluated_on": "official MNIST test set, each image through models.digits.preprocess",
        },
        "curve": curve,
        "training": training_record("train.digits", cfg, seconds, process_start),
        "data": PROVENANCE,
    }
    if not cfg.dry_run or cfg.out_dir != str(WEIGHTS_DIR):
        save_checkpoint(model, meta, digits.NAME, cfg.out_dir)
    print(f"test accuracy {test_acc:.4%} ({meta['metrics']['test_errors']} errors), trained in {seconds:.0f} s "
          f"({meta['training']['total_seconds']:.0f} s with data preparation)")
    return meta


if __name__ == "__main__":
    train(parse_config(TrainConfig))
