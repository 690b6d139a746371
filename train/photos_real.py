"""The photo network trained on real photos too: a phone photo of a cat says "cat".

    python -m train.photos_real --data-dir ../shared/data --threads 1             # shipped (one CPU thread)
    python -m train.photos_real --data-dir ../shared/data --skip-train            # refit + measure a saved fine-tune
    python -m train.photos_real --data-dir ../shared/data --measure-only          # measure the shipped network

From the shipped CIFAR-10 network, fine-tuned with each step's batch made of
  - CIFAR-10 training photos (half of them through the real photos' path: up to 64x64, JPEG, back to 32x32), shifted
    and mirrored as train.photos trained them, lightly coloured;
  - real photos of the classes (Tiny ImageNet's training part: cars, birds, cats, dogs, frogs, ships, trucks;
    Caltech-101: airplanes, ships, cars), drawn class-balanced, augmented as a phone photo differs: crops at other
    scales, blur, colour and light, grey; there are none of deer or horses;
  - outliers of the "train" kinds (outlier exposure, Hendrycks et al. 2019: pushed towards a uniform answer),
    now that real photos of the ten carry the same look, so that "looks like a real photo" is no cue.
Then "none of the ten" (the learned likeness read-out, `photos_world.fit_likeness`) is refitted with real training
photos as "like the ten", and both thresholds are chosen by rules fixed before any test number (`choose_rules`):
  1. "not sure": the lowest top probability (0.01 steps) at which at least 95 % of the validation real photos that
     would be headlined are right;
  2. "none of the ten": the lowest likeness at which at most 5 % of the validation kinds' outliers are headlined.
Validation: 15 % of the real training photos, held out by a hash of the file's name (`real_group`), never trained
on; the outlier kinds of the "validation" group. Only then are CIFAR-10 test, real_photos_dev (evaluation only,
never trained on) and the "test" kinds measured.
"""
from __future__ import annotations

import hashlib
import io
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from models import photos
from models.common import WEIGHTS_DIR, autocast, save_checkpoint
from train import photos_world as W
from train.common import default_data_dir, parse_config, start_run, training_record
from train.photos import TrainConfig as BaseConfig, load_split, make_optimizer, translate

REAL_TRAIN = (Path("vision") / "tiny_imagenet" / "real_photos_train.tar",
              Path("vision") / "caltech101" / "real_photos_train.tar")
CACHE = Path("runs") / "photos_real"
PROVENANCE = {
    "dataset": "real photos of the classes: Tiny ImageNet's training part (Stanford CS231n; images from ImageNet, "
    "Deng et al. 2009) for automobile, bird, cat, dog, frog, ship, truck; Caltech-101 (Fei-Fei, Fergus, Perona 2004) "
    "for airplane, ship, automobile; no deer or horse photos",
    "files": "vision/tiny_imagenet/real_photos_train.tar, vision/caltech101/real_photos_train.tar (15 % of each held "
    "out for validation by a hash of the file name)",
    "license": "Tiny ImageNet: ImageNet's terms, non-commercial research and education only; Caltech-101: research "
    "and education use only (no licence stated; the images' owners keep their copyright)",
}


def real_group(member: str) -> str:
    """A real training photo's part, fixed by a hash of its file name: "validation" (15 %) or "train"."""
    name = member.rsplit("/", 1)[-1]
    return "validation" if int(hashlib.sha256(name.encode()).hexdigest(), 16) % 100 < 15 else "train"


def real_members(data_dir: str) -> list[tuple[Path, str]]:
    """(tar, member name) of every real training photo, in file order."""
    out = []
    for rel in REAL_TRAIN:
        with tarfile.open(Path(data_dir) / rel) as tar:
            out += [(rel, m.name) for m in tar if m.isfile() and m.name.lower().endswith((".jpeg", ".jpg"))]
    return out


def load_real_train(data_dir: str, limit: int | None = None) -> dict:
    """Both real-photo tars through `photos.preprocess` -> {"x": (N, 3, 32, 32), "y": (N,), "source": (N,) 0 Tiny
    ImageNet / 1 Caltech-101, "validation": (N,) bool}."""
    xs, ys, sources, val = [], [], [], []
    for source, rel in enumerate(REAL_TRAIN):
        with tarfile.open(Path(data_dir) / rel) as tar:
            members = [m for m in tar if m.isfile() and m.name.lower().endswith((".jpeg", ".jpg"))]
            for m in members[::(len(members) // limit if limit else 1) or 1]:
                image = Image.open(io.BytesIO(tar.extractfile(m).read())).convert("RGB")
                xs.append(photos.preprocess(image))
                ys.append(photos.CLASSES.index(m.name.split("/")[1]))
                sources.append(source)
                val.append(real_group(m.name) == "validation")
    return {"x": torch.from_numpy(np.stack(xs)), "y": torch.tensor(ys), "source": torch.tensor(sources),
            "validation": torch.tensor(val)}


def cached(data_dir: str, dry_run: bool) -> dict:
    """Everything read once (runs/photos_real/, git-ignored; safetensors, never pickle): CIFAR-10 train and test, its
    training photos through the real photos' path, the real training photos, real_photos_dev, the outliers."""
    from safetensors.torch import load_file, save_file

    path = CACHE / ("data_dry.safetensors" if dry_run else "data.safetensors")
    if path.exists():
        flat = load_file(path)
    else:
        limit = 500 if dry_run else None
        train, test = load_split(data_dir, "train", limit), load_split(data_dir, "test", limit)
        real = load_real_train(data_dir, 40 if dry_run else None)
        dev = W.load_real(data_dir)
        outliers = W.load_outliers(data_dir)
        if dry_run:
            outliers, dev = {k: v[:64] for k, v in outliers.items()}, tuple(t[::20] for t in dev)
        looked = W.tiny_imagenet_look(train[0], np.random.default_rng(0))
        flat = {"train.x": train[0], "train.y": train[1], "train.look": looked, "test.x": test[0], "test.y": test[1],
                "dev.x": dev[0], "dev.y": dev[1]} | {f"real.{k}": v for k, v in real.items()} \
            | {f"outliers.{k}": v for k, v in outliers.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in flat.items()}, path)
    real = {k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith("real.")}
    return {"train": (flat["train.x"], flat["train.y"]), "look": flat["train.look"],
            "test": (flat["test.x"], flat["test.y"]), "real": (flat["dev.x"], flat["dev.y"]), "real_train": real,
            "outliers": {k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith("outliers.")}}


@dataclass
class RealConfig:
    """Fine-tune the shipped photo network on CIFAR-10 and real photos together, with outlier exposure."""

    data_dir: str = default_data_dir()
    out_dir: str = str(WEIGHTS_DIR)
    steps: int = 1600
    minutes: float = 0.0  # a time budget for the loop (0: none); the schedule then ends at whichever comes first
    cifar_batch: int = 192
    real_batch: int = 128
    outlier_batch: int = 64
    oe_weight: float = 0.5
    lr: float = 2.0  # per 1024 examples (train.photos starts from 11.5; photos_world's trial used 3.0)
    label_smoothing: float = 0.2
    look_share: float = 0.5  # CIFAR-10 photos taken from their copy through the real photos' path
    crop_scale: float = 0.35  # real photos and outliers: random crops keep this share of the image or more
    blur: float = 0.3
    colour: float = 0.3
    grey: float = 0.1
    confidence_precision: float = 0.95  # rule 1
    let_through: float = 0.05  # rule 2
    likeness_photos: int = 16_000
    likeness_c: float = 0.1
    seed: int = 0
    threads: int = 0
    dry_run: bool = False
    skip_train: bool = False  # start from runs/photos_real/finetuned.safetensors (a finished fine-tune)
    faces: bool = False  # ORL's faces (people 0-29, assets/faces) among the read-out's outliers (tried: no change)
    mix: float = 1.0  # WiSE-FT (Wortsman et al. 2022): this share of the fine-tuned weights, the rest the CIFAR-10 network's
    measure_only: bool = False


def augment_cifar(x: torch.Tensor, look: torch.Tensor, cfg: RealConfig) -> torch.Tensor:
    """(B, 3, 32, 32) CIFAR photos and the same through the real photos' path -> one of the two, shifted <= 4 px,
    mirrored, lightly coloured: CIFAR-10 kept close to how the network learned it."""
    pick = torch.rand(len(x), 1, 1, 1) < cfg.look_share
    x = translate(torch.where(pick, look, x), 4)
    x = W.colour(x, cfg.colour / 2, grey=cfg.grey / 2)
    return torch.where(torch.rand(len(x), 1, 1, 1) < 0.5, x.flip(-1), x)


def augment_real(x: torch.Tensor, cfg: RealConfig) -> torch.Tensor:
    """Real photos and outliers (B, 3, 32, 32) -> as a phone photo differs: crops, blur, colour, grey, mirror."""
    x = W.random_resized_crop(x, scale=(cfg.crop_scale, 1.0))
    x = W.colour(W.blur(x, cfg.blur), cfg.colour, grey=cfg.grey)
    return torch.where(torch.rand(len(x), 1, 1, 1) < 0.5, x.flip(-1), x)


def fine_tune(model: photos.PhotoNet, data: dict, cfg: RealConfig) -> list[dict]:
    """`cfg.steps` steps of cifar_batch + real_batch + outlier_batch photos: cross-entropy on the photos of the ten,
    cross-entropy to the uniform answer on the outliers (sums over examples, as train.photos). -> the curve."""
    from train.photos import use_cpu_training_convs

    x, y = data["train"]
    look = data["look"]
    real = data["real_train"]
    train_idx = torch.nonzero(~real["validation"]).squeeze(1)
    ry = real["y"][train_idx]
    counts = torch.bincount(ry, minlength=len(photos.CLASSES)).float()
    weights = 1 / counts[ry]  # each class with real photos equally often
    xo = data["outliers"]["train"]
    W.freeze_like_airbench(model)
    model = model.to(memory_format=torch.channels_last)
    use_cpu_training_convs(model)
    batch = cfg.cifar_batch + cfg.real_batch
    opt = make_optimizer(model, BaseConfig(lr=cfg.lr, batch_size=batch))
    base = [g["lr"] for g in opt.param_groups]
    total = 2 if cfg.dry_run else cfg.steps
    curve, sums, start = [], np.zeros(4), time.time()
    model.train()
    for step in range(total):
        elapsed = (time.time() - start) / 60
        progress = max(step / total, elapsed / cfg.minutes if cfg.minutes else 0)
        if progress >= 1:
            break
        for g, lr in zip(opt.param_groups, base):  # warm up over 5 %, then linearly down to 0
            g["lr"] = lr * (progress / 0.05 if progress < 0.05 else (1 - progress) / 0.95)
        ci = torch.randint(0, len(x), (cfg.cifar_batch,))
        ri = train_idx[torch.multinomial(weights, cfg.real_batch, replacement=True)]
        oi = torch.randint(0, len(xo), (cfg.outlier_batch,))
        images = torch.cat([augment_cifar(x[ci], look[ci], cfg),
                            augment_real(torch.cat([real["x"][ri], xo[oi]]), cfg)])
        labels = torch.cat([y[ci], real["y"][ri]])
        with autocast(images.device):
            logits = model(images.contiguous(memory_format=torch.channels_last)).float()
        ce_all = F.cross_entropy(logits[:batch], labels, label_smoothing=cfg.label_smoothing, reduction="none")
        oe = -logits[batch:].log_softmax(-1).mean(-1)  # cross-entropy to uniform (its minimum is log 10)
        loss = ce_all.sum() + cfg.oe_weight * oe.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        right = (logits[:batch].argmax(1) == labels).float()
        sums += [float(ce_all.detach().mean()), float(oe.detach().mean()), float(right[: cfg.cifar_batch].mean()),
                 float(right[cfg.cifar_batch:].mean())]
        if (step + 1) % 50 == 0 or step + 1 == total:
            point = {"step": step + 1, "ce": round(sums[0] / 50, 4), "oe": round(sums[1] / 50, 4),
                     "cifar_train_accuracy": round(sums[2] / 50, 4), "real_train_accuracy": round(sums[3] / 50, 4),
                     "seconds": round(time.time() - start, 1)}
            curve.append(point)
            print(point, flush=True)
            sums[:] = 0
    model.eval()
    return curve


@torch.no_grad()
def mix_weights(model: photos.PhotoNet, base: photos.PhotoNet, mix: float, data: dict, batches: int = 40) -> None:
    """model <- mix * model + (1 - mix) * base, weight by weight (WiSE-FT: keeps more of what the base knew, here
    CIFAR-10, and much of what the fine-tune learned); then batch norm's running statistics measured anew on CIFAR-10
    and real training photos (averages of the two networks' statistics are not the mixed network's)."""
    own, other = model.state_dict(), base.state_dict()
    for k, v in own.items():
        if v.is_floating_point() and not k.startswith("likeness"):
            v.copy_(mix * v + (1 - mix) * other[k].to(v.dtype))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches below
    x, real = data["train"][0], data["real_train"]
    train_idx = torch.nonzero(~real["validation"]).squeeze(1)
    model.train()
    for _ in range(batches):
        images = torch.cat([x[torch.randint(0, len(x), (128,))], real["x"][train_idx[torch.randint(0, len(train_idx), (128,))]]])
        with autocast(images.device):
            model(images.contiguous(memory_format=torch.channels_last))
    model.eval()


def plain_network(model: photos.PhotoNet) -> photos.PhotoNet:
    """Back to plain convolutions and contiguous weights: what the card rebuilds."""
    for m in model.modules():
        if type(m).__name__ == "CpuTrainingConv2d":
            m.__class__ = torch.nn.Conv2d
    return model.to(memory_format=torch.contiguous_format)


def face_photos() -> torch.Tensor:
    """ORL's faces of people 0-29 (shipped in assets/faces; the face page's training people) and their mirrors, through
    `photos.preprocess` -> (600, 3, 32, 32): Tiny ImageNet's outlier kinds have hardly any people."""
    faces = np.load(Path(__file__).resolve().parent.parent / "assets" / "faces" / "orl.npz")
    x = torch.from_numpy(np.stack([photos.preprocess(Image.fromarray(f)) for f in faces["x"][faces["y"] < 30]]))
    return torch.cat([x, x.flip(-1)])


def fit_likeness(model: photos.PhotoNet, data: dict, cfg: RealConfig) -> dict:
    """`photos_world.fit_likeness` with the real training photos (train part only) among the photos like the ten,
    and (cfg.faces) people's faces among the outliers."""
    real = data["real_train"]
    keep = ~real["validation"]
    extended = dict(data, train=(torch.cat([data["train"][0][: cfg.likeness_photos], real["x"][keep]]),
                                 torch.cat([data["train"][1][: cfg.likeness_photos], real["y"][keep]])))
    if cfg.faces:
        extended["outliers"] = dict(data["outliers"], train=torch.cat([data["outliers"]["train"], face_photos()]))
    wcfg = W.WorldConfig(likeness_photos=cfg.likeness_photos + int(keep.sum()), likeness_c=cfg.likeness_c,
                         seed=cfg.seed)
    return W.fit_likeness(model, extended, wcfg) | {"real_photos": int(keep.sum()), "faces": 600 if cfg.faces else 0}


def choose_rules(model: photos.PhotoNet, data: dict, cfg: RealConfig) -> tuple[float, float, dict]:
    """The two thresholds, by the rules fixed before any test number (module docstring), on validation only.
    -> (confidence threshold, outlier threshold, what they were chosen on)."""
    real = data["real_train"]
    val = real["validation"]
    logits, _ = photos.logits_and_scores(model, real["x"][val])
    top, right = torch.softmax(logits, -1).max(-1).values, logits.argmax(1) == real["y"][val]
    confidence = 0.99
    for t in np.arange(0.99, 0.0, -0.01):  # down from 0.99 until the headlines fall below 95 % right
        sure = top >= t
        if sure.sum() < 20:  # too few headlined to judge yet
            continue
        if float(right[sure].float().mean()) < cfg.confidence_precision:
            break
        confidence = float(round(t, 2))
    ol, os_ = photos.logits_and_scores(model, data["outliers"]["validation"])
    threshold = W.choose_threshold(ol, cfg.let_through, os_, confidence=confidence)
    return confidence, threshold, {"validation_real_photos": int(val.sum()),
                                   "validation_outliers": len(data["outliers"]["validation"])}


def rates(logits: torch.Tensor, score: torch.Tensor, y: torch.Tensor, confidence: float, threshold: float) -> dict:
    """Top-1, share headlined and share headlined right of one set of photos."""
    said = photos.answered(logits, threshold, score, confidence)
    right = logits.argmax(1) == y
    return {"top1": round(float(right.float().mean()), 4), "answered": round(float(said.float().mean()), 4),
            "headlined_right": round(float((said & right).float().mean()), 4), "photos": len(y)}


def per_class(logits, score, y, confidence, threshold) -> dict:
    return {photos.CLASSES[c]: rates(logits[y == c], score[y == c], y[y == c], confidence, threshold)
            for c in sorted(set(y.tolist()))}


def measure(model: photos.PhotoNet, data: dict, confidence: float, threshold: float) -> dict:
    """The card's numbers by source and class: CIFAR-10 test, real_photos_dev, the validation parts of the real
    training photos (Tiny ImageNet, Caltech-101), each outlier group's share headlined."""
    model = model.to(memory_format=torch.channels_last)
    out = {}
    x, y = data["test"]
    lt, st = photos.logits_and_scores(model, x)
    with torch.inference_mode(), autocast(x.device):
        plain = torch.cat([model(p.contiguous(memory_format=torch.channels_last)).float() for p in x.split(500)])
    out["cifar10_test"] = rates(lt, st, y, confidence, threshold) | {
        "top1_plain": round(float((plain.argmax(1) == y).float().mean()), 5),
        "top1_tta": round(float((lt.argmax(1) == y).float().mean()), 5),
        "per_class": per_class(lt, st, y, confidence, threshold)}
    rx, ry = data["real"]
    lr, sr = photos.logits_and_scores(model, rx)
    out["real_photos_dev"] = rates(lr, sr, ry, confidence, threshold) | {
        "per_class": per_class(lr, sr, ry, confidence, threshold)}
    real = data["real_train"]
    for source, name in ((0, "tiny_imagenet_validation"), (1, "caltech101_validation")):
        keep = real["validation"] & (real["source"] == source)
        lv, sv = photos.logits_and_scores(model, real["x"][keep])
        out[name] = rates(lv, sv, real["y"][keep], confidence, threshold) | {
            "per_class": per_class(lv, sv, real["y"][keep], confidence, threshold)}
    for group, images in data["outliers"].items():
        lo, so = photos.logits_and_scores(model, images)
        out[f"outliers_{group}"] = {"headlined": round(float(photos.answered(lo, threshold, so, confidence)
                                                              .float().mean()), 4), "photos": len(images)}
    return out


def main(cfg: RealConfig) -> dict:
    from safetensors.torch import load_file, save_file

    process_start = start_run(cfg)
    data = cached(cfg.data_dir, cfg.dry_run)
    model, meta = photos.load(device=torch.device("cpu"))
    if cfg.measure_only:
        results = measure(model, data, photos.confidence_threshold(meta), photos.outlier_threshold(meta))
        print(results)
        return results
    start, curve = time.time(), []
    saved = CACHE / ("finetuned_dry.safetensors" if cfg.dry_run else "finetuned.safetensors")
    model = model.float()
    if cfg.skip_train:
        model.load_state_dict(load_file(saved), strict=False)
    else:
        curve = fine_tune(model, data, cfg)
        model = plain_network(model)
        save_file({k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("likeness")}, saved)
    if cfg.mix < 1:
        base, _ = photos.load(device=torch.device("cpu"))
        mix_weights(model, base.float(), cfg.mix, data)
    model = model.eval().to(memory_format=torch.channels_last)
    likeness = fit_likeness(model, data, cfg)
    seconds = time.time() - start
    confidence, threshold, chosen_on = choose_rules(model, data, cfg)
    results = measure(model, data, confidence, threshold)  # only now: the test sets and the test kinds
    print(f"confidence {confidence:.2f}, threshold {threshold:.4f}", results, f"{seconds / 60:.1f} min", flush=True)
    meta = real_card(meta, results, confidence, threshold, chosen_on, likeness, curve, cfg, seconds, process_start)
    model = plain_network(model)
    if not cfg.dry_run or cfg.out_dir != str(WEIGHTS_DIR):
        save_checkpoint({k: v.half() if v.is_floating_point() and not k.startswith("likeness") else v
                         for k, v in model.state_dict().items()}, meta, photos.NAME, cfg.out_dir)
    return meta


def real_card(meta, results, confidence, threshold, chosen_on, likeness, curve, cfg, seconds, process_start) -> dict:
    """The shipped card with this run on it: the numbers by source and class, both rules, the data's credit."""
    meta = dict(meta)
    c = results["cifar10_test"]
    meta["metrics"] = {k: v for k, v in meta["metrics"].items() if k not in ("test_loss", "world")} | {
        "test_accuracy_tta": c["top1_tta"], "test_accuracy": c["top1_plain"], "real": results,
        "real_command": "python -m train.photos_real --data-dir DATA --measure-only"}
    rule_kinds = W.kinds_of(cfg.data_dir)
    meta["outlier"] = {
        "threshold": round(threshold, 4), "confidence": confidence, "score": photos.OUTLIER_SCORE,
        "rule": f"not sure: the lowest top probability (0.01 steps) at which at least {cfg.confidence_precision:.0%} "
                f"of the {chosen_on['validation_real_photos']:,} validation real photos headlined are right; none of "
                f"the ten: the lowest likeness at which at most {cfg.let_through:.0%} of the validation kinds' "
                f"outliers are headlined; both chosen before any test number was measured",
        "kinds": {g: sorted(k for k in rule_kinds if W.kind_group(k) == g) for g in ("train", "validation", "test")},
        "likeness": likeness}
    meta.pop("fine_tune", None)
    meta["real_training"] = training_record("train.photos_real", cfg, seconds, process_start,
                                            "bf16 autocast, channels_last") | {"curve": curve}
    meta["config"] = meta["config"] | {"likeness": True}
    meta["data"] = meta["data"] | {"outliers": W.PROVENANCE, "real_photos": PROVENANCE,
                                   "license": meta["data"]["license"].split("; outliers")[0]
                                   + "; outliers: " + W.PROVENANCE["license"] + "; real photos: " + PROVENANCE["license"]}
    return meta


if __name__ == "__main__":
    main(parse_config(RealConfig))
