"""Train the photo CNN on CIFAR-10 from scratch (an airbench-style recipe, run longer).

    python -m train.photos --data-dir ../shared/data
    python -m train.photos --data-dir ../shared/data --minutes 55   # the schedule fits a time budget

Reads DATA_DIR/vision/cifar10/cifar10-jpeg.tar.gz straight from the archive (nothing is written
next to it), puts every image through `models.photos.preprocess`, trains, evaluates on the 10,000
test images with and without test-time augmentation, and writes models/weights/photos.safetensors
+ photos.json.

The recipe follows Keller Jordan's airbench (2024): a frozen whitening first layer, identity-initialised
convolutions, batch norm with fixed scale, Nesterov SGD with decoupled hyperparameters, label
smoothing, a triangular learning-rate schedule, lookahead averaging of the weights, random
translation and alternating flips. Trained for more epochs than airbench94's ten. On the CPU, the
small feature maps' weight gradients are computed as matrix products (`GemmWeightGradConv`), which
makes a training step 10-13 % faster there (`python -m benchmarks.photos_training`).
"""
from __future__ import annotations

import io
import math
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm import tqdm

from models import photos
from models.common import WEIGHTS_DIR, autocast, count_parameters, record_alternative, save_checkpoint
from train.common import (alternative_dir, alternative_entry, cnn_precision, default_data_dir, parse_config, start_run,
                          training_record)
from train.common import evaluate as common_evaluate

ARCHIVE = Path("vision") / "cifar10" / "cifar10-jpeg.tar.gz"
PROVENANCE = {
    "dataset": "CIFAR-10 (A. Krizhevsky, V. Nair, G. Hinton, 2009): 50,000 training + 10,000 test images, "
    "in a copy stored as JPEG quality 75",
    "files": "vision/cifar10/cifar10-jpeg.tar.gz (ImageFolder layout)",
    "license": "no formal license; the dataset page asks to cite Krizhevsky (2009), "
    "'Learning Multiple Layers of Features from Tiny Images'",
    "caveat": "the images are JPEG (quality 75) copies, so accuracy is not exactly comparable with "
    "published CIFAR-10 results (airbench94's recipe: 94.0 % on the original, 90.7 % on this copy)",
    "url": "https://www.cs.toronto.edu/~kriz/cifar.html",
}


@dataclass
class TrainConfig:
    """Train the CIFAR-10 photo CNN."""

    data_dir: str = default_data_dir()
    out_dir: str = str(WEIGHTS_DIR)
    epochs: int = 40
    minutes: float = 0.0  # time budget of the training loop; the schedule ends at whichever comes first
    batch_size: int = 256
    lr: float = 11.5  # per 1024 examples (decoupled from batch size and momentum)
    momentum: float = 0.85
    weight_decay: float = 0.0153  # per 1024 examples (decoupled from the learning rate)
    bias_scaler: float = 64.0  # BatchNorm biases learn this much faster
    label_smoothing: float = 0.2
    whiten_bias_epochs: int = 3
    translate: int = 2  # pixels, reflect padding
    cutout: int = 0  # side of a random square blanked out of each training image (0 = none)
    widths: str = "64,256,256"  # the three conv groups' channels
    bn_momentum: float = 0.4  # PyTorch's convention (airbench's 0.6)
    eval_every: int = 1  # epochs between test evaluations for the curve (the last epoch is always evaluated)
    seed: int = 0
    threads: int = 0
    dry_run: bool = False
    # Another recipe for the shipped model (e.g. "cpu"): weights to runs/photos/NAME, results into the shipped card.
    alternative: str = ""
    note: str = ""  # with --alternative: a line for the card


def load_split(data_dir: str, split: str, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """-> images (N, 3, 32, 32) float in [0, 1] after `preprocess`, labels (N,) int64."""
    images, labels = [], []
    counts = dict.fromkeys(photos.CLASSES, 0)
    with tarfile.open(Path(data_dir) / ARCHIVE) as tar:
        for member in tqdm(tar, desc=f"read {split}", leave=False):
            parts = member.name.split("/")
            if not (member.isfile() and member.name.endswith(".jpg") and parts[-3] == split):
                continue
            cls = parts[-2]
            if limit is not None and counts[cls] >= limit // len(photos.CLASSES):
                continue
            counts[cls] += 1
            image = Image.open(io.BytesIO(tar.extractfile(member).read()))
            images.append(photos.preprocess(image))
            labels.append(photos.CLASSES.index(cls))
    return torch.from_numpy(np.stack(images)), torch.tensor(labels)


# ---------------------------------------------------------------- airbench's initialisation


def init_whitening(layer: nn.Conv2d, images: torch.Tensor, eps: float = 5e-4) -> None:
    """Set the 2x2 first layer to whiten image patches: eigenvectors of their covariance, scaled by
    1/sqrt(eigenvalue), and their negatives (so that GELU keeps both signs). images: normalised."""
    c, (h, w) = images.shape[1], layer.weight.shape[2:]
    patches = images.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c * h * w).float()
    eigenvalues, eigenvectors = torch.linalg.eigh(patches.T @ patches / len(patches))
    filters = (eigenvectors.T / torch.sqrt(eigenvalues + eps)[:, None]).reshape(-1, c, h, w).flip(0)
    layer.weight.data[:] = torch.cat([filters, -filters])
    layer.weight.requires_grad = False


def init_network(model: photos.PhotoNet, cfg: TrainConfig) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m is not model.whiten:
            torch.nn.init.dirac_(m.weight.data[: m.weight.shape[1]])  # the first c_in filters start as identity
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = cfg.bn_momentum
            m.weight.requires_grad = False  # fixed scale of 1: only the shift is learned


class GemmWeightGradConv(torch.autograd.Function):
    """A 3x3 'same' convolution whose weight gradient is one matrix product over unfolded patches.

    On this CPU, oneDNN's bf16 weight gradient is slow for small feature maps: for 256 images of
    384 channels, 3x3 maps take 100 ms against 20 ms as a product, 7x7 maps 190 ms against 150 ms
    (measured layer by layer). Larger maps keep oneDNN's, which is faster there. Same numbers up to
    rounding (tests/test_photos.py); whole steps: `python -m benchmarks.photos_training`.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.bfloat16)
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return F.conv2d(x, weight, padding=1)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        b, c_in, h, w = x.shape
        if h * w > GEMM_MAX_PIXELS:
            return torch.ops.aten.convolution_backward(
                grad, x, weight, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                [ctx.needs_input_grad[0], True, False])[:2]
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, weight, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, False, False])[0]
        padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)  # (B, H + 2, W + 2, C_in)
        patches = torch.stack([padded[:, i : i + h, j : j + w] for i in range(3) for j in range(3)], 3)
        c_out = weight.shape[0]
        grad_w = grad.permute(0, 2, 3, 1).reshape(-1, c_out).t() @ patches.reshape(-1, 9 * c_in)  # (C_out, 9 C_in)
        return grad_x, grad_w.view(c_out, 3, 3, c_in).permute(0, 3, 1, 2).to(weight.dtype)


GEMM_MAX_PIXELS = 64  # feature maps up to 8x8 take the matrix-product weight gradient


class CpuTrainingConv2d(nn.Conv2d):
    """nn.Conv2d (same parameters, same state dict) that trains through `GemmWeightGradConv` on the CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and torch.is_grad_enabled() and self.kernel_size == (3, 3) and self.bias is None:
            return GemmWeightGradConv.apply(x, self.weight)
        return super().forward(x)


def use_cpu_training_convs(model: photos.PhotoNet) -> None:
    for group in (model.block1, model.block2, model.block3):
        for conv in (group.conv1, group.conv2):
            conv.__class__ = CpuTrainingConv2d  # a subclass with no state of its own: only forward changes


class Lookahead:
    """Every few steps, pull the weights towards a running average of themselves (and copy it back)."""

    def __init__(self, model: nn.Module):
        self.average = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, decay: float) -> None:
        for (k, v) in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.average[k].lerp_(v, 1 - decay)
                v.copy_(self.average[k])


# ---------------------------------------------------------------- training


def batches(x: torch.Tensor, cfg: TrainConfig, flip: torch.Tensor, epoch: int):
    """Yield random (index, augmented batch) pairs: a random translation of up to `translate` pixels
    (reflect padding) and alternating flips: each image is mirrored on every other epoch."""
    order = torch.randperm(len(x), device=x.device)
    pad = cfg.translate
    for i in range(0, len(x), cfg.batch_size):
        idx = order[i : i + cfg.batch_size]
        xb = x[idx]
        if pad:
            xb = translate(xb, pad)
        mirror = (flip[idx] ^ bool(epoch % 2)).view(-1, 1, 1, 1)
        xb = torch.where(mirror, xb.flip(-1), xb)
        yield idx, cutout(xb, cfg.cutout) if cfg.cutout else xb


def translate(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Shift each image of (B, 3, H, W) by its own random offset of up to `pad` pixels each way (reflect
    padding): one gather, no per-offset loop (which synchronised the GPU 25 times per batch)."""
    b, c, h, w = x.shape
    padded = F.pad(x, (pad,) * 4, mode="reflect")  # (B, 3, H + 2 pad, W + 2 pad)
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b, 1, 1, 1), device=x.device)
    rows = dy + torch.arange(h, device=x.device).view(1, 1, h, 1)  # (B, 1, H, 1)
    cols = dx + torch.arange(w, device=x.device).view(1, 1, 1, w)  # (B, 1, 1, W)
    return padded[torch.arange(b, device=x.device).view(b, 1, 1, 1), torch.arange(c, device=x.device).view(1, c, 1, 1), rows, cols]


def cutout(x: torch.Tensor, size: int) -> torch.Tensor:
    """Blank a random size x size square (it may hang over the border) in each image of (B, 3, H, W)
    with the data's mean (0 after normalisation): the network must use more than one part of the object."""
    b, _, h, w = x.shape
    centre = torch.stack([torch.randint(0, h, (b,), device=x.device), torch.randint(0, w, (b,), device=x.device)], 1)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - centre[:, 0].view(b, 1, 1) + size // 2
    cols = torch.arange(w, device=x.device).view(1, 1, w) - centre[:, 1].view(b, 1, 1) + size // 2
    hole = ((rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)).unsqueeze(1)  # (B, 1, H, W)
    mean = torch.tensor(photos.CIFAR_MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return torch.where(hole, mean, x)


def evaluate(model, x, y, device, tta: bool = False) -> tuple[float, float]:
    """-> (mean cross-entropy, accuracy) on (x, y); with tta, through `photos.tta_logits`."""
    return common_evaluate(model, x, y, device, batch_size=500, forward=photos.tta_logits if tta else None)


def make_optimizer(model: photos.PhotoNet, cfg: TrainConfig) -> torch.optim.Optimizer:
    # Decoupled hyperparameters (airbench): with Nesterov momentum m, steps are (1 + 1/(1-m)) times the
    # gradient; dividing by that and by 1024 makes lr a per-example step size, independent of m.
    kilostep = 1024 * (1 + 1 / (1 - cfg.momentum))
    lr = cfg.lr / kilostep
    wd = cfg.weight_decay * cfg.batch_size / kilostep
    norm_biases = [p for n, p in model.named_parameters() if "norm" in n and p.requires_grad]
    others = [p for n, p in model.named_parameters() if "norm" not in n and p.requires_grad]
    lr_bias = lr * cfg.bias_scaler
    groups = [dict(params=norm_biases, lr=lr_bias, weight_decay=wd / lr_bias), dict(params=others, lr=lr, weight_decay=wd / lr)]
    return torch.optim.SGD(groups, momentum=cfg.momentum, nesterov=True)


def triangle(progress: float, start=0.2, peak_at=0.23, end=0.07) -> float:
    """Learning-rate factor at `progress` (0..1) of training: linear from `start` up to 1 at `peak_at`,
    then down to `end`."""
    if progress < peak_at:
        return start + (1 - start) * progress / peak_at
    return 1 + (end - 1) * (progress - peak_at) / (1 - peak_at)


def train(cfg: TrainConfig) -> dict:
    process_start = start_run(cfg)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    limit = 500 if cfg.dry_run else None
    x_train, y_train = load_split(cfg.data_dir, "train", limit)
    x_test, y_test = load_split(cfg.data_dir, "test", limit)
    x_train, y_train = x_train.to(device), y_train.to(device)

    model_cfg = photos.Config(widths=tuple(int(w) for w in cfg.widths.split(",")))
    model = photos.PhotoNet(model_cfg).to(device)
    init_network(model, cfg)
    init_whitening(model.whiten, (x_train[:5000] - model.mean) / model.std)
    model = model.to(memory_format=torch.channels_last)
    if device.type == "cpu":
        use_cpu_training_convs(model)
    opt = make_optimizer(model, cfg)
    base_lrs = [group["lr"] for group in opt.param_groups]
    epochs = min(cfg.epochs, 2) if cfg.dry_run else cfg.epochs  # a dry run: 2 epochs of 2 batches
    total_steps = epochs * math.ceil(len(x_train) / cfg.batch_size)
    lookahead = Lookahead(model)
    flip = torch.rand(len(x_train), device=device) < 0.5

    curve, step, start = [], 0, time.time()
    progress = 0.0  # fraction of the schedule done: by steps, or by the time budget if that comes first
    for epoch in range(epochs):
        if progress >= 1:
            break
        model.train()
        model.whiten.bias.requires_grad = epoch < cfg.whiten_bias_epochs
        seen, loss_sum, correct = 0, 0.0, 0
        bar = tqdm(batches(x_train, cfg, flip, epoch), total=math.ceil(len(x_train) / cfg.batch_size),
                   desc=f"epoch {epoch + 1}/{epochs}", leave=False)
        for idx, xb in bar:
            for group, lr in zip(opt.param_groups, base_lrs):
                group["lr"] = lr * triangle(progress)
            yb = y_train[idx]
            with autocast(device):
                logits = model(xb.contiguous(memory_format=torch.channels_last)).float()
            loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing, reduction="sum")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            budget = (time.time() - start) / (cfg.minutes * 60) if cfg.minutes else 0.0
            progress = min(1.0, max(step / total_steps, budget))
            if step % 5 == 0:  # lookahead, its pull growing over training (airbench's schedule)
                lookahead.update(model, decay=0.95**5 * progress**3)
            seen += len(yb)
            loss_sum += loss.item()
            correct += (logits.argmax(1) == yb).sum().item()
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
            if progress >= 1:
                break
        last = progress >= 1 or epoch == epochs - 1
        if last:
            lookahead.update(model, decay=1.0)  # end on the averaged weights
        point = {"epoch": epoch + 1, "steps": step, "train_loss": round(loss_sum / seen, 5), "train_accuracy": round(correct / seen, 5)}
        # Under a time budget every evaluation takes time from training: --eval-every thins them out.
        if last or (epoch + 1) % cfg.eval_every == 0:
            test_loss, test_acc = evaluate(model, x_test, y_test, device)
            point |= {"test_loss": round(test_loss, 5), "test_accuracy": round(test_acc, 5)}
        curve.append(point | {"seconds": round(time.time() - start, 1)})
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v}" for k, v in curve[-1].items() if k != "epoch"), flush=True)
    seconds = time.time() - start

    model = model.to(memory_format=torch.contiguous_format)  # test_loss, test_acc: the last epoch's
    _, tta_acc = evaluate(model, x_test, y_test, device, tta=True)
    meta = {
        "name": photos.NAME,
        "architecture": "airbench-style CNN: fixed 2x2 whitening conv -> 3 conv groups (3x3 conv, 2x2 max-pool, "
        f"batch norm, GELU, 3x3 conv, batch norm, GELU; widths {'/'.join(map(str, model_cfg.widths))}) -> "
        "global max-pool -> linear 10",
        "config": photos.config_dict(model_cfg),
        "parameters": count_parameters(model),
        "classes": photos.CLASSES,
        "preprocessing": {"image_size": photos.IMAGE_SIZE, "mean": list(photos.CIFAR_MEAN), "std": list(photos.CIFAR_STD),
                          "crop": "largest centred square, LANCZOS resize to 32x32", "cam_layer": photos.CAM_LAYER},
        "metrics": {
            "test_accuracy": round(test_acc, 5),
            "test_accuracy_tta": round(tta_acc, 5),
            "tta": "6 views: the image and its mirror, unshifted and shifted one pixel up-left and down-right",
            "test_loss": round(test_loss, 5),
            "test_images": len(y_test),
            "train_images": len(y_train),
            "evaluated_on": "the 10,000 test images of the JPEG copy, each through models.photos.preprocess",
        },
        "curve": curve,
        "training": training_record("train.photos", cfg, seconds, process_start, cnn_precision(device)),
        "data": PROVENANCE,
    }
    if cfg.alternative:  # measured, not shipped: its weights under runs/, its results on the shipped card
        save_checkpoint(model, meta, photos.NAME, alternative_dir(photos.NAME, cfg.alternative))
        record_alternative(photos.NAME, alternative_entry(meta, cfg.alternative, cfg.note), cfg.out_dir)
    elif not cfg.dry_run or cfg.out_dir != str(WEIGHTS_DIR):
        save_checkpoint(model, meta, photos.NAME, cfg.out_dir)
    print(f"test accuracy {test_acc:.2%}, with TTA {tta_acc:.2%}; trained in {seconds / 60:.1f} min "
          f"({meta['training']['total_seconds'] / 60:.1f} min with data preparation)")
    return meta


if __name__ == "__main__":
    train(parse_config(TrainConfig))
