"""The photo network in the world: "none of the ten" and real photos of its ten classes.

    python -m train.photos_world --data-dir ../shared/data --epochs 0 --threads 2   # shipped: the learned read-out only
    python -m train.photos_world --data-dir ../shared/data --threads 1        # + fine-tuning (tried, not shipped)
    python -m train.photos_world --data-dir ../shared/data --measure-only     # measure the shipped network

Shipped (2026-12-05): the CIFAR-10 network unchanged, with a learned "likeness" read-out (`fit_likeness`): logistic
regression on each photo's pooled features and logits, CIFAR-10 training photos (half of them put through a Tiny
ImageNet-like pipeline, so that the look of the source is no cue) against the "train" kinds of outliers.

With --epochs N it first fine-tunes the network (measured, not shipped: docs/experiments.md) with
  - outlier exposure (Hendrycks et al., 2019): photos of things that are none of the ten (Tiny ImageNet's
    outliers, only the kinds of the "train" group) are pushed towards a uniform prediction, so that the
    network's largest logit falls on them; `models.photos` calls a photo an outlier when that score is low;
  - augmentations that look like real photos: crops at other scales, blur, colour and light.
Then it chooses the outlier threshold by a rule fixed before any test number is seen (`choose_threshold`):
on the "validation" kinds of outliers, never trained on, only then measures the "test" kinds, CIFAR-10's
test photos and the real photos of its classes (`real_photos_dev`: evaluation only, never trained on).

The kinds are split by a hash of their ImageNet id (`kind_group`): 70 % train, 15 % validation, 15 % test.
"""
from __future__ import annotations

import hashlib
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

from models import photos
from models.common import WEIGHTS_DIR, autocast, load_checkpoint, save_checkpoint
from train.common import default_data_dir, parse_config, start_run, training_record
from train.photos import load_split, make_optimizer, translate, TrainConfig as BaseConfig

TINY = Path("vision") / "tiny_imagenet"
OUTLIERS = TINY / "outliers_train.tar"
REAL = TINY / "real_photos_dev.tar"
PROVENANCE = {
    "dataset": "Tiny ImageNet (Stanford CS231n), images from ImageNet (Deng et al., 2009): 64x64 photos of 79 kinds of "
    "thing that are none of CIFAR-10's classes (outlier exposure; the kinds of the train group only)",
    "files": "vision/tiny_imagenet/outliers_train.tar (real_photos_dev.tar: evaluation only, never trained on)",
    "license": "ImageNet's terms: non-commercial research and education only",
    "url": "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
}


def kind_group(wnid: str) -> str:
    """An outlier kind's group, fixed by its ImageNet id: "train" (70 %), "validation" (15 %) or "test" (15 %)."""
    h = int(hashlib.sha256(wnid.encode()).hexdigest(), 16) % 100
    return "train" if h < 70 else "validation" if h < 85 else "test"


def read_tar(path: Path) -> tuple[torch.Tensor, list[str], list[str]]:
    """Every JPEG of a Tiny ImageNet tar through `photos.preprocess` -> (images (N, 3, 32, 32) in [0, 1],
    the folder under the top one (a kind's id, or a CIFAR-10 class), the file's ImageNet id)."""
    images, folders, wnids = [], [], []
    with tarfile.open(path) as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".JPEG")):
                continue
            parts = member.name.split("/")
            image = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            images.append(photos.preprocess(image))
            folders.append(parts[1])
            wnids.append(parts[-1].split("_")[0])
    return torch.from_numpy(np.stack(images)), folders, wnids


def load_outliers(data_dir: str) -> dict[str, torch.Tensor]:
    """The outlier photos by group of kinds: {"train": (N, 3, 32, 32), "validation": ..., "test": ...}."""
    images, kinds, _ = read_tar(Path(data_dir) / OUTLIERS)
    groups = np.array([kind_group(k) for k in kinds])
    return {g: images[torch.from_numpy(np.flatnonzero(groups == g))] for g in ("train", "validation", "test")}


def load_real(data_dir: str) -> tuple[torch.Tensor, torch.Tensor]:
    """real_photos_dev (evaluation only): images (1050, 3, 32, 32), CIFAR-10 labels (1050,)."""
    images, classes, _ = read_tar(Path(data_dir) / REAL)
    return images, torch.tensor([photos.CLASSES.index(c) for c in classes])


# ---------------------------------------------------------------- augmentations that look like real photos


def random_resized_crop(x: torch.Tensor, scale=(0.35, 1.0), ratio=(0.75, 1.33)) -> torch.Tensor:
    """(B, 3, H, W) -> each image's random crop (area share `scale`, aspect `ratio`) resized back to H x W, as one
    affine grid sample: objects closer and further than CIFAR-10 frames them."""
    b, _, h, w = x.shape
    area = torch.empty(b).uniform_(*scale)
    aspect = torch.exp(torch.empty(b).uniform_(math.log(ratio[0]), math.log(ratio[1])))
    sw, sh = (area * aspect).sqrt().clamp(max=1), (area / aspect).sqrt().clamp(max=1)
    cx, cy = (torch.rand(b) * 2 - 1) * (1 - sw), (torch.rand(b) * 2 - 1) * (1 - sh)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sw, cx, sh, cy
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def blur(x: torch.Tensor, p: float = 0.3) -> torch.Tensor:
    """A share p of (B, 3, H, W) blurred by a 3x3 binomial filter (a soft lens, a downscaled photo)."""
    k = torch.tensor([1.0, 2.0, 1.0], device=x.device)
    k = (k[:, None] * k[None]) / 16
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), k.expand(3, 1, 3, 3).to(x.dtype), groups=3)
    pick = (torch.rand(len(x), 1, 1, 1, device=x.device) < p)
    return torch.where(pick, blurred, x)


def colour(x: torch.Tensor, strength: float = 0.3, grey: float = 0.1) -> torch.Tensor:
    """Brightness, contrast and saturation each scaled by up to +-strength; a share `grey` made grey."""
    b = len(x)
    r = lambda: 1 + (torch.rand(b, 1, 1, 1, device=x.device) * 2 - 1) * strength  # noqa: E731
    luma = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:]).expand_as(x)
    x = luma + (x - luma) * r()  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * r()  # contrast
    x = x * r()  # brightness
    x = torch.where(torch.rand(b, 1, 1, 1, device=x.device) < grey, luma, x)
    return x.clamp(0, 1)


def real_photo_augment(x: torch.Tensor, cfg: "WorldConfig") -> torch.Tensor:
    """CIFAR-10 or outlier batch (B, 3, 32, 32) -> augmented like a real photo, then flipped at random."""
    if cfg.crop_scale < 1:
        x = random_resized_crop(x, scale=(cfg.crop_scale, 1.0))
    else:
        x = translate(x, 4)
    x = colour(blur(x, cfg.blur), cfg.colour)
    mirror = torch.rand(len(x), 1, 1, 1, device=x.device) < 0.5
    return torch.where(mirror, x.flip(-1), x)


# ---------------------------------------------------------------- fine-tuning


@dataclass
class WorldConfig:
    """Fine-tune the shipped photo network for the world: outlier exposure and real-photo augmentations."""

    data_dir: str = default_data_dir()
    out_dir: str = str(WEIGHTS_DIR)
    epochs: int = 6
    batch_size: int = 256  # CIFAR-10 photos per step
    outlier_batch: int = 128  # outlier photos per step (train kinds only)
    oe_weight: float = 0.5  # the outlier-exposure term's weight (Hendrycks et al.)
    lr: float = 3.0  # per 1024 examples, as train.photos (which starts at 11.5): a fine-tune's smaller steps
    crop_scale: float = 0.35  # random crops keep this share of the image or more (1: shifts of 4 px only)
    blur: float = 0.3  # share of images blurred
    colour: float = 0.3  # brightness/contrast/saturation jitter
    label_smoothing: float = 0.2
    let_through: float = 0.05  # the rule: the threshold lets this share of validation-kind outliers be headlined
    likeness_photos: int = 16_000  # CIFAR-10 training photos the read-out sees (half through tiny_imagenet_look)
    likeness_c: float = 0.1  # the logistic regression's inverse regularisation
    seed: int = 0
    threads: int = 0
    dry_run: bool = False
    measure_only: bool = False  # measure the shipped network (no fine-tuning, nothing written)


def cached(data_dir: str, dry_run: bool) -> dict:
    """CIFAR-10 (train, test), the outliers by group and the real photos, read once (runs/, git-ignored; safetensors,
    never pickle)."""
    from safetensors.torch import load_file, save_file

    path = Path("runs") / "photos_world" / ("data_dry.safetensors" if dry_run else "data.safetensors")
    if path.exists():
        flat = load_file(path)
        return {"train": (flat["train.x"], flat["train.y"]), "test": (flat["test.x"], flat["test.y"]),
                "outliers": {k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith("outliers.")},
                "real": (flat["real.x"], flat["real.y"])}
    limit = 500 if dry_run else None
    data = {"train": load_split(data_dir, "train", limit), "test": load_split(data_dir, "test", limit),
            "outliers": load_outliers(data_dir), "real": load_real(data_dir)}
    if dry_run:
        data["outliers"] = {k: v[:64] for k, v in data["outliers"].items()}
        data["real"] = tuple(t[::20] for t in data["real"])
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = {f"{k}.{part}": t.contiguous() for k in ("train", "test", "real") for part, t in zip("xy", data[k])}
    flat.update({f"outliers.{k}": v.contiguous() for k, v in data["outliers"].items()})
    save_file(flat, path)
    return data


def choose_threshold(outlier_logits: torch.Tensor, let_through: float, score: torch.Tensor | None = None,
                     confidence: float = photos.CONFIDENCE_THRESHOLD) -> float:
    """The rule, fixed before any test number: the lowest outlier threshold at which at most `let_through` of the
    validation kinds' outliers would be headlined (sure and scoring at or above it). score: their outlier scores
    (default: the fallback's, the largest logit)."""
    sure = torch.softmax(outlier_logits, -1).max(-1).values >= confidence
    score = photos.scores(outlier_logits) if score is None else score
    s = torch.sort(score[sure], descending=True).values  # the headline candidates
    allowed = int(math.floor(let_through * len(outlier_logits)))
    if allowed >= len(s):
        return float("-inf") if len(s) == 0 else float(s[-1])
    return float(s[allowed]) + 1e-4  # just above the (allowed + 1)-th highest: it is refused


def measure(model: photos.PhotoNet, data: dict, threshold: float | None) -> dict:
    """The card's world numbers: CIFAR-10 test top-1 and share answered, real photos top-1 and share answered
    (and answered right), each outlier group's share headlined."""
    model = model.to(memory_format=torch.channels_last)
    x, y = data["test"]
    lt, st = photos.logits_and_scores(model, x)
    rx, ry = data["real"]
    lr, sr = photos.logits_and_scores(model, rx)
    with torch.inference_mode(), autocast(x.device):
        plain = torch.cat([model(x[i : i + 500].contiguous(memory_format=torch.channels_last)).float()
                           for i in range(0, len(x), 500)])
    out = {"cifar10_test_accuracy_tta": round(float((lt.argmax(1) == y).float().mean()), 5),
           "cifar10_test_accuracy": round(float((plain.argmax(1) == y).float().mean()), 5),
           "cifar10_test_answered": round(float(photos.answered(lt, threshold, st).float().mean()), 4),
           "cifar10_test_images": len(y),
           "real_photos_top1": round(float((lr.argmax(1) == ry).float().mean()), 4),
           "real_photos_answered": round(float(photos.answered(lr, threshold, sr).float().mean()), 4),
           "real_photos_answered_right": round(float((photos.answered(lr, threshold, sr) & (lr.argmax(1) == ry)).float().mean()), 4),
           "real_photos": len(ry),
           "real_photos_per_class": {photos.CLASSES[c]: round(float((lr[ry == c].argmax(1) == c).float().mean()), 3)
                                     for c in sorted(set(ry.tolist()))}}
    for group, images in data["outliers"].items():
        lo, so = photos.logits_and_scores(model, images)
        out[f"outliers_{group}_headlined"] = round(float(photos.answered(lo, threshold, so).float().mean()), 4)
        out[f"outliers_{group}_images"] = len(images)
    return out


def tiny_imagenet_look(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(N, 3, 32, 32) CIFAR-10 photos -> the same through the outliers' path: up to 64x64 (bicubic), saved as JPEG
    (quality 60-95), back through `photos.preprocess`. The read-out must not tell the sources apart by their look."""
    out = []
    for image in x:
        big = Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).resize(
            (64, 64), Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        big.save(buffer, "JPEG", quality=int(rng.integers(60, 96)))
        out.append(photos.preprocess(Image.open(buffer)))
    return torch.from_numpy(np.stack(out))


@torch.inference_mode()
def likeness_inputs(model: photos.PhotoNet, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """(N, 3, 32, 32) -> (N, w3 + 11): the read-out's inputs for each photo itself (no TTA), as the page makes them."""
    from models.common import run_recording

    out = []
    for part in x.split(batch):
        logits, activations = run_recording(model, part)
        out.append(photos.likeness_inputs(activations["head.input"], logits).float())
    return torch.cat(out)


def fit_likeness(model: photos.PhotoNet, data: dict, cfg: WorldConfig) -> dict:
    """The learned outlier score: logistic regression, CIFAR-10 training photos (like the ten) against the train
    kinds' outliers (not), folded into `model.likeness` (high: like the ten). -> its record for the card."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(cfg.seed)
    x = data["train"][0]
    idx = torch.from_numpy(rng.choice(len(x), min(cfg.likeness_photos, len(x)), replace=False))
    half = len(idx) // 2
    inside = torch.cat([x[idx[:half]], tiny_imagenet_look(x[idx[half:]], rng)])
    features = torch.cat([likeness_inputs(model, inside), likeness_inputs(model, data["outliers"]["train"])]).numpy()
    labels = np.r_[np.zeros(len(inside)), np.ones(len(features) - len(inside))]  # 1: none of the ten
    scaler = StandardScaler().fit(features)
    clf = LogisticRegression(C=cfg.likeness_c, max_iter=3000, class_weight="balanced").fit(
        scaler.transform(features), labels)
    # likeness = -(decision) = -(coef . (f - mean) / scale + intercept), as one linear layer on f
    weight = -clf.coef_[0] / scaler.scale_
    bias = -(clf.intercept_[0] - float(np.sum(clf.coef_[0] * scaler.mean_ / scaler.scale_)))
    model.likeness = torch.nn.Linear(len(weight), 1)
    with torch.no_grad():
        model.likeness.weight.copy_(torch.from_numpy(weight).float()[None])
        model.likeness.bias.fill_(bias)
    return {"photos": len(inside), "tiny_imagenet_look": len(inside) - half, "outliers": len(labels) - len(inside),
            "c": cfg.likeness_c, "train_accuracy": round(float(clf.score(scaler.transform(features), labels)), 4)}


def freeze_like_airbench(model: photos.PhotoNet) -> None:
    """As train.photos trained it: the whitening layer fixed, batch norm's scale fixed at 1 (only shifts learn)."""
    for p in model.whiten.parameters():
        p.requires_grad = False
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.requires_grad = False


def fine_tune(model: photos.PhotoNet, data: dict, cfg: WorldConfig) -> list[dict]:
    """Epochs over CIFAR-10's 50,000 photos, each step with `outlier_batch` outliers of the train kinds:
    cross-entropy on the photos, cross-entropy to the uniform distribution on the outliers. -> the curve."""
    from train.photos import use_cpu_training_convs

    x, y = data["train"]
    xo = data["outliers"]["train"]
    device = x.device
    freeze_like_airbench(model)
    model = model.to(memory_format=torch.channels_last)
    if device.type == "cpu":
        use_cpu_training_convs(model)
    opt = make_optimizer(model, BaseConfig(lr=cfg.lr, batch_size=cfg.batch_size))
    base = [g["lr"] for g in opt.param_groups]
    steps_per_epoch = len(x) // cfg.batch_size if not cfg.dry_run else 2
    total, step, curve, start = cfg.epochs * steps_per_epoch, 0, [], time.time()
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(x))
        sums = np.zeros(3)
        for i in range(steps_per_epoch):
            progress = step / total  # warm up over 10 %, then linearly down to 0
            for g, lr in zip(opt.param_groups, base):
                g["lr"] = lr * (progress / 0.1 if progress < 0.1 else (1 - progress) / 0.9)
            idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            oidx = torch.randint(0, len(xo), (cfg.outlier_batch,))
            batch = real_photo_augment(torch.cat([x[idx], xo[oidx]]), cfg).contiguous(memory_format=torch.channels_last)
            with autocast(device):
                logits = model(batch).float()
            n = len(idx)
            # Summed over examples, as train.photos: its optimizer's lr is per example and its weight decay is
            # wd / lr, so a mean-reduced loss (gradients 1/batch as large, the decay unchanged) shrinks the weights
            # until every answer is soft (measured: CIFAR-10 answered 29 %, real photos 62 % top-1).
            ce = F.cross_entropy(logits[:n], y[idx], label_smoothing=cfg.label_smoothing, reduction="sum")
            oe = -logits[n:].log_softmax(-1).mean(-1).sum()  # cross-entropy to uniform (its minimum is log 10)
            loss = ce + cfg.oe_weight * oe
            ce, oe = ce / n, oe / (len(batch) - n)  # per example, for the log
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            sums += [ce.item(), oe.item(), float((logits[:n].argmax(1) == y[idx]).float().mean())]
            if step % 20 == 0:
                print(f"step {step}/{total}: ce {sums[0] / (i + 1):.3f}, oe {sums[1] / (i + 1):.3f}, "
                      f"{time.time() - start:.0f} s", flush=True)
        point = {"epoch": epoch + 1, "steps": step, "train_ce": round(float(sums[0]) / steps_per_epoch, 4),
                 "train_oe": round(float(sums[1]) / steps_per_epoch, 4),
                 "train_accuracy": round(float(sums[2]) / steps_per_epoch, 4),
                 "seconds": round(time.time() - start, 1)}
        curve.append(point)
        print(point, flush=True)
    return curve


def main(cfg: WorldConfig) -> dict:
    process_start = start_run(cfg)
    data = cached(cfg.data_dir, cfg.dry_run)
    model, meta = photos.load(device=torch.device("cpu"))
    if cfg.measure_only:
        results = measure(model, data, photos.outlier_threshold(meta))
        print(results)
        return results
    start = time.time()
    # --epochs 0: the shipped CIFAR-10 network unchanged, only its threshold chosen (what ships since 2026-12-05:
    # fine-tuning with outlier exposure learned Tiny ImageNet's look, not "none of the ten": docs/experiments.md)
    curve = fine_tune(model.float(), data, cfg) if cfg.epochs else []
    model.eval()
    model = model.to(memory_format=torch.channels_last)
    likeness = fit_likeness(model, data, cfg)
    seconds = time.time() - start
    validation_logits, validation_scores = photos.logits_and_scores(model, data["outliers"]["validation"])
    threshold = choose_threshold(validation_logits, cfg.let_through, validation_scores)
    results = measure(model, data, threshold)  # only now: CIFAR-10 test, real photos, the test kinds
    print(f"threshold {threshold:.4f}", results, f"fine-tuned and read-out fitted in {seconds / 60:.1f} min", flush=True)
    meta = world_card(meta, results, threshold, curve, cfg, seconds, process_start)
    meta["config"] = meta["config"] | {"likeness": True}
    meta["parameters"] = sum(p.numel() for p in model.parameters())  # the read-out's 396 included
    meta["outlier"]["likeness"] = likeness
    model = model.to(memory_format=torch.contiguous_format)
    for m in model.modules():  # back to plain convolutions: the card rebuilds a plain PhotoNet
        if type(m).__name__ == "CpuTrainingConv2d":
            m.__class__ = torch.nn.Conv2d
    if not cfg.dry_run or cfg.out_dir != str(WEIGHTS_DIR):
        save_checkpoint({k: v.half() if v.is_floating_point() and not k.startswith("likeness") else v
                         for k, v in model.state_dict().items()},
                        meta, photos.NAME, cfg.out_dir)
    return meta


def world_card(meta: dict, results: dict, threshold: float, curve: list[dict], cfg: WorldConfig, seconds: float,
               process_start: float) -> dict:
    """The shipped card with the fine-tune on it: the new test numbers, the world's numbers, the outlier
    threshold and its rule, the fine-tune's record beside the CIFAR-10 training's, Tiny ImageNet's licence."""
    meta = dict(meta)
    meta["metrics"] = {k: v for k, v in meta["metrics"].items() if k != "test_loss"} | {
        "test_accuracy_tta": results["cifar10_test_accuracy_tta"], "test_accuracy": results["cifar10_test_accuracy"],
        "world": results, "world_command": "python -m train.photos_world --data-dir DATA --measure-only"}
    meta["outlier"] = {"threshold": round(threshold, 4), "score": photos.OUTLIER_SCORE,
                       "rule": f"the lowest threshold at which at most {cfg.let_through:.0%} of the validation kinds' "
                       "outliers (never trained on) would be headlined; chosen before any test number was measured",
                       "kinds": {g: sorted({k for k in kinds_of(cfg.data_dir) if kind_group(k) == g})
                                 for g in ("train", "validation", "test")}}
    if not cfg.epochs:
        meta["outlier"]["rule"] += ("; the network is the CIFAR-10 run unchanged (no outlier exposure); the train "
                                    "kinds taught only the likeness read-out")
        meta.pop("fine_tune", None)
        meta["outlier"]["chosen_by"] = training_record("train.photos_world", cfg, seconds, process_start, "bf16 autocast")
        meta["data"] = meta["data"] | {"outliers": PROVENANCE}
        return meta
    # "training" stays the CIFAR-10 run it started from (train.photos); the fine-tune is recorded beside it
    meta["fine_tune"] = training_record("train.photos_world", cfg, seconds, process_start,
                                        "bf16 autocast, channels_last") | {"curve": curve}
    meta["data"] = meta["data"] | {"outliers": PROVENANCE,
                                   "license": meta["data"]["license"] + "; outliers: " + PROVENANCE["license"]}
    return meta


def kinds_of(data_dir: str) -> list[str]:
    """The outlier kinds' ImageNet ids, from the tar's folder names."""
    with tarfile.open(Path(data_dir) / OUTLIERS) as tar:
        return sorted({m.name.split("/")[1] for m in tar if m.isfile() and m.name.count("/") >= 2})


if __name__ == "__main__":
    main(parse_config(WorldConfig))
