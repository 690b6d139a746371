"""Train the digit CNN on MNIST with backpropagation.

    python -m train.digits --data-dir ../shared/data

Reads the four official IDX .gz files from DATA_DIR/vision/MNIST/raw (read-only: nothing is
written there), puts every image through `models.digits.preprocess` (what the page does to a
drawing), trains with augmentation that imitates drawing on a canvas, evaluates on the 10,000
official test images and writes models/weights/digits.safetensors + digits.json.

An eleventh class, "not a digit", is trained on scribbles, letters and shapes drawn as on the canvas by
train/scribbles.py (a pool of --scribbles drawings, --scribbles-per-epoch of them mixed into each epoch),
put through the same `preprocess`. Measured: MNIST test digits flagged as not digits, and held-out draws of
the same generator (--val-scribbles, another seed) flagged; tests/scribbles.py measures drawings of another
generator that training never sees.
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
from models.common import WEIGHTS_DIR, autocast, count_parameters, save_checkpoint
from train import scribbles
from train.common import cnn_precision, default_data_dir, logits_on, parse_config, start_run, training_record

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
    scribbles: int = 16000  # generated not-a-digit drawings (train/scribbles.py) in the training pool
    scribbles_per_epoch: int = 10000  # of them, mixed at random into each epoch's 60,000 digits
    val_scribbles: int = 2000  # held-out draws of the same generator (another seed), to measure
    not_digit_weight: float = 1.0  # weight of the not-a-digit output's loss (binary cross-entropy)
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


NOT_DIGIT_LABEL = len(digits.CLASSES)  # the network's output after the ten digits
SCRIBBLE_CHUNK = 500  # drawings per generator task (each with its own seed: the same pool for any worker count)


def make_scribbles(n: int, seed: int, workers: int) -> tuple[torch.Tensor, list[str]]:
    """n not-a-digit drawings through `preprocess` -> ((n, 1, 28, 28) in [0, 1], their families)."""
    from concurrent.futures import ProcessPoolExecutor

    chunks = [(min(SCRIBBLE_CHUNK, n - i), seed * 100_003 + i) for i in range(0, n, SCRIBBLE_CHUNK)]
    if workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(scribbles.make, *zip(*chunks)))
    else:
        parts = [scribbles.make(k, s) for k, s in chunks]
    x = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 28, 28), np.float32)
    return digits.to_batch(x), [f for p in parts for f in p[1]]


def loss_of(logits: torch.Tensor, y: torch.Tensor, not_digit_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy of the ten digit logits on the digits (labels 0-9), plus binary cross-entropy of the
    not-a-digit logit on everything (1 for label 10, 0 for a digit). A network without that logit: the first."""
    is_digit = y < NOT_DIGIT_LABEL
    loss = F.cross_entropy(logits[is_digit, :NOT_DIGIT_LABEL], y[is_digit]) if is_digit.any() else logits.sum() * 0
    if logits.shape[1] > NOT_DIGIT_LABEL:
        loss = loss + not_digit_weight * F.binary_cross_entropy_with_logits(logits[:, NOT_DIGIT_LABEL], (~is_digit).float())
    return loss


def decisions(logits: torch.Tensor) -> torch.Tensor:
    """What the page says: 10 (not a digit) when flagged, else the best digit."""
    digit_probs, p_not = digits.decide(logits)
    return torch.where(p_not >= digits.NOT_DIGIT_THRESHOLD, NOT_DIGIT_LABEL, digit_probs.argmax(1))


def measure(model, x: torch.Tensor, y: torch.Tensor, device) -> dict:
    """Digits (labels 0-9) -> loss (`loss_of`), accuracy (the best of the ten digits, as the page names it),
    flagged (the fraction the page would call not a digit), correct_and_not_flagged, and the flagged ones'
    indices. Not-a-digit drawings (label 10) -> loss and flagged."""
    logits = logits_on(model, x, device)
    y = y.cpu()
    digit_probs, p_not = digits.decide(logits)
    flagged = p_not >= digits.NOT_DIGIT_THRESHOLD
    correct = digit_probs.argmax(1) == y
    loss = loss_of(logits, y).item()
    return {
        "loss": loss,
        "accuracy": correct.float().mean().item(),
        "flagged": flagged.float().mean().item(),
        "correct_and_not_flagged": (correct & ~flagged).float().mean().item(),
        "flagged_indices": torch.nonzero(flagged).flatten().tolist(),
    }


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
    workers = cfg.threads or torch.get_num_threads()
    n_scribbles, per_epoch, n_val = ((256, 256, 128) if cfg.dry_run else (cfg.scribbles, cfg.scribbles_per_epoch, cfg.val_scribbles))
    t = time.time()
    x_scribbles, _ = make_scribbles(n_scribbles, cfg.seed, workers)
    x_val, val_families = make_scribbles(n_val, cfg.seed + 1, workers)  # another seed: draws training never saw
    y_val = torch.full((len(x_val),), NOT_DIGIT_LABEL)
    print(f"{n_scribbles + n_val} scribbles drawn and preprocessed in {time.time() - t:.0f} s", flush=True)
    x_all = torch.cat([x_train, x_scribbles])
    y_all = torch.cat([y_train, torch.full((len(x_scribbles),), NOT_DIGIT_LABEL)])
    if device.type == "cuda":
        x_all, y_all = x_all.to(device), y_all.to(device)

    model_cfg = digits.Config()
    model = digits.DigitNet(model_cfg).to(device).to(memory_format=torch.channels_last)
    epochs = 1 if cfg.dry_run else cfg.epochs
    epoch_size = len(x_train) + min(per_epoch, len(x_scribbles))
    steps_per_epoch = math.ceil(epoch_size / cfg.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=epochs * steps_per_epoch, pct_start=0.2)

    curve, start = [], time.time()
    for epoch in range(1, epochs + 1):
        model.train()
        # All the digits, and a fresh draw of scribbles from the pool, shuffled together.
        chosen = len(x_train) + torch.randperm(len(x_scribbles))[: epoch_size - len(x_train)]
        order = torch.cat([torch.arange(len(x_train)), chosen])
        perm = order[torch.randperm(len(order))].to(x_all.device)
        seen, loss_sum, correct = 0, 0.0, 0
        bar = tqdm(range(0, len(perm), cfg.batch_size), desc=f"epoch {epoch}/{epochs}", leave=False)
        for i in bar:
            idx = perm[i : i + cfg.batch_size]
            xb = augment(x_all[idx].to(device), cfg).contiguous(memory_format=torch.channels_last)
            yb = y_all[idx].to(device)
            with autocast(device):
                logits = model(xb).float()
            loss = loss_of(logits, yb, cfg.not_digit_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # backpropagation: gradients of the loss for every weight
            opt.step()
            sched.step()
            seen += len(yb)
            loss_sum += loss.item() * len(yb)
            correct += (decisions(logits.detach()) == yb).sum().item()
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
        test = measure(model, x_test, y_test, device)
        val = measure(model, x_val, y_val, device)
        curve.append(
            {
                "epoch": epoch,
                "train_loss": round(loss_sum / seen, 5),
                "train_accuracy": round(correct / seen, 5),  # of 11 classes, digits and scribbles
                "test_loss": round(test["loss"], 5),
                "test_accuracy": round(test["accuracy"], 5),
                "test_flagged": round(test["flagged"], 5),
                "val_scribbles_flagged": round(val["flagged"], 5),
                "seconds": round(time.time() - start, 1),
            }
        )
        print(f"epoch {epoch}: " + ", ".join(f"{k} {v}" for k, v in curve[-1].items() if k != "epoch"), flush=True)
    seconds = time.time() - start

    model = model.to(memory_format=torch.contiguous_format)
    test = measure(model, x_test, y_test, device)
    val = measure(model, x_val, y_val, device)
    flagged_val = set(val["flagged_indices"])
    by_family = {}
    for family in scribbles.FAMILIES:
        members = [i for i, f in enumerate(val_families) if f == family]
        if members:
            by_family[family] = round(sum(i in flagged_val for i in members) / len(members), 4)
    meta = {
        "name": digits.NAME,
        "architecture": "5 conv blocks (3x3 conv, batch norm, ReLU; max-pool after 2, 4, 5) -> dropout -> "
        f"linear {model_cfg.hidden} -> batch norm -> ReLU -> dropout -> linear {model_cfg.outputs} "
        "(ten digit logits, softmax; one not-a-digit logit, sigmoid)",
        "config": digits.config_dict(model_cfg),
        "parameters": count_parameters(model),
        "classes": digits.CLASSES + [digits.NOT_DIGIT],
        "preprocessing": {
            "image_size": digits.IMAGE_SIZE,
            "box_size": digits.BOX_SIZE,
            "center": list(digits.MNIST_CENTER),
            "mean": digits.MNIST_MEAN,
            "std": digits.MNIST_STD,
            "ink_threshold": digits.INK_THRESHOLD,
        },
        "decision": {
            "not_digit_threshold": digits.NOT_DIGIT_THRESHOLD,
            "confidence_threshold": digits.CONFIDENCE_THRESHOLD,
        },
        "metrics": {
            "test_accuracy": round(test["accuracy"], 5),
            "test_errors": round((1 - test["accuracy"]) * len(y_test)),
            "test_loss": round(test["loss"], 5),
            "test_flagged": round(test["flagged"], 5),
            "test_flagged_count": len(test["flagged_indices"]),
            "test_correct_and_not_flagged": round(test["correct_and_not_flagged"], 5),
            "test_images": len(y_test),
            "train_images": len(y_train),
            "evaluated_on": "official MNIST test set, each image through models.digits.preprocess; accuracy: the "
            "best of the ten digits; flagged: p(not a digit) >= not_digit_threshold",
            "val_scribbles_flagged": round(val["flagged"], 5),
            "val_scribbles_flagged_by_family": by_family,
            "val_scribbles": len(x_val),
            "train_scribbles": len(x_scribbles),
            "scribbles_per_epoch": epoch_size - len(x_train),
            "scribbles_evaluated_on": "held-out draws (another seed) of the training generator, train/scribbles.py; "
            "tests/scribbles.py measures another generator's drawings (tests/test_digits.py)",
        },
        "curve": curve,
        "training": training_record("train.digits", cfg, seconds, process_start, cnn_precision(device)),
        "data": {**PROVENANCE, "not_digits": "generated by train/scribbles.py: scribbles, letters and shapes "
                 "drawn as on the canvas (no data set)"},
    }
    if not cfg.dry_run or cfg.out_dir != str(WEIGHTS_DIR):
        save_checkpoint(model, meta, digits.NAME, cfg.out_dir)
    print(f"test accuracy {test['accuracy']:.4%} ({meta['metrics']['test_errors']} errors), MNIST flagged "
          f"{test['flagged']:.2%}, held-out scribbles flagged {val['flagged']:.2%} {by_family}; trained in "
          f"{seconds:.0f} s ({meta['training']['total_seconds']:.0f} s with data preparation)")
    return meta


if __name__ == "__main__":
    train(parse_config(TrainConfig))
