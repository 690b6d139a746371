"""Upload a photo: an airbench-style CNN trained from scratch on CIFAR-10, with Grad-CAM.

Read top to bottom: constants, config, the network, reading an upload safely, preprocessing
(shared by training and the page), loading, `classify` and `gradcam`.

    photo (any format, size, mode, EXIF orientation)
      -> open_image: refuse what can't be read or is too large, before decoding; RGB, upright
      -> preprocess: the largest centred square, resized to 32x32
      -> PhotoNet: fixed 2x2 whitening conv -> 3 conv groups (conv, max-pool, BN, GELU, conv, BN, GELU)
         -> global max-pool -> linear -> softmax over the ten CIFAR-10 classes
"""
from __future__ import annotations

import io
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import nn

from models.common import Loaded, alternative_lines, get_device, load_checkpoint, run_recording, shared

NAME = "photos"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

IMAGE_SIZE = 32  # CIFAR-10's resolution
# Per-channel statistics of CIFAR-10's training images in [0, 1]; the network normalises with them.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

# Uploads: refuse before decoding anything bigger (a decompression bomb can claim any size).
MAX_PIXELS = 50_000_000  # 50 megapixels: above any phone camera's full-resolution photo
MAX_BYTES = 25 * 1024 * 1024
MIN_SIDE = 8  # smaller than this is refused as a file that can't be used
MIN_ANSWER_SIDE = 24  # below this on its short side an image gets "too small to tell", not a class
WORKING_SIDE = 1024  # the page shrinks photos to this before anything else
# Below this top probability the page says "not sure", unless the card has its own (chosen by train.photos_real's
# rule on validation photos: `confidence_threshold`).
CONFIDENCE_THRESHOLD = 0.5
# "None of the ten": a photo whose likeness score is below the card's outlier threshold (chosen by
# train.photos_world on outlier kinds it never trained on) looks like none of the classes. The score is learned: a
# linear read-out of the photo's pooled features and logits, fitted on CIFAR-10 training photos against photos of
# other kinds of thing (Tiny ImageNet); the network itself is unchanged. Without one, the largest logit (with TTA).
OUTLIER_SCORE = "a learned likeness to the ten classes: a linear read-out of the photo's pooled block3 features and logits"
FALLBACK_SCORE = "the largest logit, with test-time augmentation"
# The layer Grad-CAM explains: block3's first convolution, before pooling (7x7 cells).
CAM_LAYER = "block3.conv1"


class BadImageError(ValueError):
    """An upload that can't be used; the message is meant for the user."""


@dataclass
class Config:
    widths: tuple[int, int, int] = (64, 256, 256)
    whiten_width: int = 24  # 2 x 3 x 2 x 2: the whitening filters and their negatives
    scale: float = 1 / 9  # logits scale (keeps the initial softmax soft)
    likeness: bool = False  # a learned outlier read-out (train.photos_world); off: the largest logit is the score


class ConvGroup(nn.Module):
    """conv -> 2x2 max-pool -> BN -> GELU -> conv -> BN -> GELU (airbench's block)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor, name: str, activations: dict | None) -> torch.Tensor:
        x = self.conv1(x)
        if activations is not None:
            activations[f"{name}.conv1"] = x
        x = F.gelu(self.norm1(F.max_pool2d(x, 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class PhotoNet(nn.Module):
    def __init__(self, cfg: Config = Config()):
        super().__init__()
        w1, w2, w3 = cfg.widths
        self.scale = cfg.scale
        # Fixed 2x2 conv initialised to whiten the image patches (set by training, then frozen).
        self.whiten = nn.Conv2d(3, cfg.whiten_width, 2, bias=True)  # (B, 24, 31, 31)
        self.block1 = ConvGroup(cfg.whiten_width, w1)  # (B, w1, 15, 15)  edges, colours
        self.block2 = ConvGroup(w1, w2)  # (B, w2, 7, 7)  textures, parts
        self.block3 = ConvGroup(w2, w3)  # (B, w3, 3, 3)  object parts
        self.head = nn.Linear(w3, len(CLASSES), bias=False)
        # [pooled features (w3), logits (10), their logsumexp (1)] -> likeness to the ten classes (high: like them)
        self.likeness = nn.Linear(w3 + len(CLASSES) + 1, 1) if cfg.likeness else None
        self.register_buffer("mean", torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CIFAR_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor, activations: dict | None = None) -> torch.Tensor:
        """(B, 3, 32, 32) RGB in [0, 1] -> logits (B, 10). If `activations` is a dict, it receives
        each block's output and each block's first conv output (before pooling)."""
        x = F.gelu(self.whiten((x - self.mean) / self.std))
        for name in ("block1", "block2", "block3"):
            x = getattr(self, name)(x, name, activations)
            if activations is not None:
                activations[name] = x
        x = F.adaptive_max_pool2d(x, 1).flatten(1)  # (B, w3)
        if activations is not None:
            activations["head.input"] = x  # ("." in the name: not a feature map to show)
        return self.head(x) * self.scale


# ---------------------------------------------------------------- reading an upload


def open_image(data: bytes, max_side: int | None = None) -> Image.Image:
    """Bytes of an uploaded file -> an upright RGB PIL image, or BadImageError with a clear message.

    The size is checked from the header, before any pixel is decoded. Everything stays in memory.
    max_side: shrink the image to fit (the page uses WORKING_SIDE: plenty for a 32x32 network, and every
    later step, Grad-CAM's upsampling and the picture sent to the browser, gets cheaper).
    """
    if not data:
        raise BadImageError("The file is empty (0 bytes).")
    if len(data) > MAX_BYTES:
        raise BadImageError(f"The file is {len(data) / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise BadImageError(
                    f"The image is {width}×{height} = {width * height / 1e6:.0f} megapixels; "
                    f"the limit is {MAX_PIXELS / 1e6:.0f} megapixels."
                )
            image.seek(0)  # an animation: its first frame
            image.load()
            image = ImageOps.exif_transpose(image)  # a phone photo's orientation tag
    except BadImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImageError(f"The image is too large; the limit is {MAX_PIXELS / 1e6:.0f} megapixels.") from None
    except Exception:  # PIL raises many types for broken files: all mean the same to the user
        raise BadImageError("This file is not an image that can be read (or it is corrupt or truncated).") from None
    if min(image.size) < MIN_SIDE:
        raise BadImageError(f"The image is {width}×{height} pixels; it needs at least {MIN_SIDE} on each side.")
    image = to_rgb(image)
    if max_side is not None:
        image.thumbnail((max_side, max_side))
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB: transparency over white, 16-bit and float scaled to 8 bits, CMYK converted."""
    if image.mode.startswith("I") or image.mode == "F":
        a = np.asarray(image, dtype=np.float32)
        # 16-bit grey (0..65535) -> 0..255; 32-bit integers as 16-bit unless they fit in 8 bits;
        # floats as 0..1 when they fit, else as 0..255.
        if image.mode == "F":
            full_scale = 1.0 if a.max() <= 1.0 else 255.0
        else:
            full_scale = 65535.0 if image.mode.startswith("I;16") or a.max() > 255 else 255.0
        image = Image.fromarray(np.clip(a / full_scale * 255, 0, 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


# ---------------------------------------------------------------- preprocessing


def crop_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest centred square of an image of `size` (width, height): (left, top, right, bottom)."""
    w, h = size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return left, top, left + side, top + side


def preprocess(image: Image.Image) -> np.ndarray:
    """RGB PIL image -> (3, 32, 32) float32 in [0, 1]: the largest centred square, resized to 32x32.

    Used by the training set (CIFAR's 32x32 images pass through unchanged) and by the page.
    """
    image = image.convert("RGB")
    if image.size != (IMAGE_SIZE, IMAGE_SIZE):
        image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS, box=crop_box(image.size))
    return np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0


def tta_views(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, 32, 32) -> (6, B, 3, 32, 32): the image and its mirror, each as is and shifted by one
    pixel up-left and down-right (reflect padding), for test-time augmentation."""
    views = []
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    for v in (x, padded[..., :IMAGE_SIZE, :IMAGE_SIZE], padded[..., 2:, 2:]):
        views += [v, v.flip(-1)]
    return torch.stack(views)


def combine_views(logits: torch.Tensor) -> torch.Tensor:
    """(6, B, 10) logits of `tta_views` -> (B, 10), weighted as airbench does: half on the unshifted
    pair, half on the two shifted pairs."""
    return 0.5 * logits[:2].mean(0) + 0.5 * logits[2:].mean(0)


def tta_logits(model: PhotoNet, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, 32, 32) -> (B, 10) logits with test-time augmentation."""
    views = tta_views(x)
    return combine_views(model(views.flatten(0, 1)).view(*views.shape[:2], -1))


# ---------------------------------------------------------------- loading and inference


def load(weights_dir=None, device=None) -> Loaded:
    """Rebuild the network from its JSON and load its safetensors: (model in eval mode, meta)."""
    state, meta = load_checkpoint(NAME, weights_dir)
    model = PhotoNet(Config(**meta["config"]))
    model.load_state_dict(state)
    # channels_last weights, as in training: the bf16 convolutions then skip a weight reordering on every call
    return Loaded(model.to(device or get_device(), memory_format=torch.channels_last).eval(), meta)


def default_model() -> PhotoNet:
    """The shipped network, loaded once per process (models.common.shared)."""
    return shared(NAME).model


def _input(image: Image.Image, model: PhotoNet) -> torch.Tensor:
    return torch.from_numpy(preprocess(image))[None].to(next(model.parameters()).device)


def _ranking(logits: torch.Tensor) -> list[tuple[str, float]]:
    probs = torch.softmax(logits.float(), -1).cpu().numpy()
    return sorted(zip(CLASSES, probs.tolist()), key=lambda cp: -cp[1])


@dataclass
class Analysis:
    ranking: list[tuple[str, float]]  # all ten classes, most probable first (with TTA if asked)
    alternative: list[tuple[str, float]]  # the same without TTA if it was asked, else with it
    input: np.ndarray  # (32, 32, 3) float in [0, 1]: what the network saw
    crop: tuple[int, int, int, int]  # the square of the photo it saw (left, top, right, bottom)
    tta: bool
    activations: dict[str, np.ndarray] = field(default_factory=dict)  # block -> (C, H, W)
    score: float = float("inf")  # outlier score (`outlier_scores`): low = none of the ten
    outlier_threshold: float | None = None  # the card's; None: a network without one (no outlier answer)
    size: tuple[int, int] = (IMAGE_SIZE, IMAGE_SIZE)  # the photo's (width, height)
    confidence: float = CONFIDENCE_THRESHOLD  # the card's "not sure" threshold (`confidence_threshold`)

    @property
    def sure(self) -> bool:
        return self.ranking[0][1] >= self.confidence

    @property
    def outlier(self) -> bool:
        """True when the photo looks like none of the ten classes."""
        return self.outlier_threshold is not None and self.score < self.outlier_threshold

    @property
    def too_small(self) -> bool:
        return min(self.size) < MIN_ANSWER_SIDE

    @property
    def answered(self) -> bool:
        """The page names a class in large type only when this holds."""
        return self.sure and not self.outlier and not self.too_small


def confidence_threshold(meta: dict | None = None) -> float:
    """The "not sure" threshold on the card (chosen by train.photos_real's rule), else CONFIDENCE_THRESHOLD."""
    meta = meta if meta is not None else shared(NAME).meta
    return meta.get("outlier", {}).get("confidence", CONFIDENCE_THRESHOLD)


def outlier_threshold(meta: dict | None = None) -> float | None:
    """The outlier threshold on the card (the shipped one if no card is given); None if it has none."""
    meta = meta if meta is not None else shared(NAME).meta
    return meta.get("outlier", {}).get("threshold")


def scores(logits: torch.Tensor) -> torch.Tensor:
    """(B, 10) logits -> (B,) the fallback outlier score (FALLBACK_SCORE): the largest logit."""
    return logits.float().max(-1).values


def likeness_inputs(pooled: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """(B, w3) pooled features, (B, 10) logits of the photo itself -> (B, w3 + 11): what the read-out sees."""
    logits = logits.float()
    return torch.cat([pooled.float(), logits, logits.logsumexp(-1, keepdim=True)], -1)


def outlier_scores(model: PhotoNet, pooled: torch.Tensor, plain: torch.Tensor, combined: torch.Tensor) -> torch.Tensor:
    """(B,) scores, low = none of the ten: the learned likeness of the photo itself (pooled features and `plain`
    logits of its unshifted view) when the network has one, else the largest of the TTA-`combined` logits."""
    if model.likeness is None:
        return scores(combined)
    return model.likeness.float()(likeness_inputs(pooled, plain)).squeeze(-1)


@torch.inference_mode()
def logits_and_scores(model: PhotoNet, x: torch.Tensor, batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, 32, 32) photos -> (N, 10) TTA logits and (N,) outlier scores, exactly as `analyze` computes them."""
    logits, out = [], []
    for part in x.split(batch):
        views = tta_views(part)  # (6, B, 3, 32, 32)
        raw, activations = run_recording(model, views.flatten(0, 1))
        raw = raw.view(*views.shape[:2], -1).float()  # (6, B, 10)
        pooled = activations["head.input"].view(*views.shape[:2], -1)[0]  # (B, w3): the unshifted view
        combined = combine_views(raw)
        logits.append(combined)
        out.append(outlier_scores(model, pooled, raw[0], combined).float())
    return torch.cat(logits), torch.cat(out)


def answered(logits: torch.Tensor, threshold: float | None, score: torch.Tensor | None = None,
             confidence: float = CONFIDENCE_THRESHOLD) -> torch.Tensor:
    """(B, 10) logits, (B,) outlier scores (default: the fallback's) -> (B,) bool: sure (top probability at least
    `confidence`) and not an outlier, exactly as `Analysis.answered` for a large photo."""
    sure = torch.softmax(logits.float(), -1).max(-1).values >= confidence
    score = scores(logits) if score is None else score
    return sure if threshold is None else sure & (score >= threshold)


@torch.inference_mode()
def analyze(image: Image.Image, model: PhotoNet | None = None, tta: bool = True,
            threshold: float | None | str = "card") -> Analysis:
    """Classify a photo with and without TTA (one batch of 6 views, the first being the photo itself)
    and keep what the page shows: the input, and each block's feature maps for the photo itself.
    threshold: the outlier threshold ("card": the shipped card's; None: no outlier answer)."""
    model = model or default_model()
    x = _input(image, model)
    views = tta_views(x)  # (6, 1, 3, 32, 32)
    logits, activations = run_recording(model, views.flatten(0, 1))
    logits = logits.view(*views.shape[:2], -1)  # (6, 1, 10)
    combined = combine_views(logits)[0]
    plain, augmented = _ranking(logits[0, 0]), _ranking(combined)
    maps = {k: v[0].float().cpu().numpy() for k, v in activations.items() if "." not in k}
    ranking, alternative = (augmented, plain) if tta else (plain, augmented)
    pooled = activations["head.input"].view(*views.shape[:2], -1)[0]  # (1, w3): the photo itself
    score = float(outlier_scores(model, pooled, logits[0].float(), combine_views(logits.float()))[0])
    return Analysis(ranking, alternative, x[0].permute(1, 2, 0).cpu().numpy(), crop_box(image.size), tta, maps,
                    score, outlier_threshold() if threshold == "card" else threshold, image.size,
                    confidence_threshold() if threshold == "card" else CONFIDENCE_THRESHOLD)


@torch.inference_mode()
def classify(image: Image.Image, model: PhotoNet | None = None, tta: bool = True) -> list[tuple[str, float]]:
    """All ten classes with their probabilities, most probable first (they sum to 1).

    With tta (the default), averaged over 6 views of the photo (see `tta_views`)."""
    model = model or default_model()
    x = _input(image, model)
    views = tta_views(x) if tta else x[None]  # (6 or 1, 1, 3, 32, 32)
    logits, _ = run_recording(model, views.flatten(0, 1))
    return _ranking(combine_views(logits.view(*views.shape[:2], -1))[0] if tta else logits[0])


def gradcam(image: Image.Image, class_name: str, model: PhotoNet | None = None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) for `class_name`: an (H, W) map in [0, 1] at the photo's size.

    Each channel of CAM_LAYER is weighted by the mean gradient of the class's score with respect to
    it; the positive part of the weighted sum says where the evidence for that class lies. Outside
    the centred square the network saw, the map is 0.
    """
    model = model or default_model()
    x = _input(image, model)
    with torch.enable_grad():
        logits, activations = run_recording(model, x)
        feature = activations[CAM_LAYER]  # (1, C, 7, 7) after the conv, before pooling (bf16)
        (grad,) = torch.autograd.grad(logits[0, CLASSES.index(class_name)], feature)
    feature, grad = feature.detach().float(), grad.float()
    weights = grad.mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1)
    cam = F.relu((weights * feature).sum(1, keepdim=True))  # (1, 1, 7, 7)
    left, top, right, bottom = crop_box(image.size)
    cam = F.interpolate(cam, size=(bottom - top, right - left), mode="bilinear", align_corners=False)[0, 0]
    cam = cam / cam.max() if cam.max() > 0 else cam
    out = np.zeros((image.size[1], image.size[0]), np.float32)
    out[top:bottom, left:right] = cam.cpu().numpy()
    return out


def first_layer_filters(model: PhotoNet) -> np.ndarray:
    """The whitening filters as small RGB images (N, 2, 2, 3), each stretched to [0, 1] to be seen."""
    w = model.whiten.weight.detach().float().cpu().permute(0, 2, 3, 1).numpy()  # (N, 2, 2, 3)
    lo, hi = w.min(axis=(1, 2, 3), keepdims=True), w.max(axis=(1, 2, 3), keepdims=True)
    return (w - lo) / np.maximum(hi - lo, 1e-12)


def config_dict(cfg: Config) -> dict:
    return asdict(cfg)


# ---------------------------------------------------------------- the model card's text


def how_taught(meta: dict) -> str:
    """The card's line on how "none of the ten" was learned: a read-out on the unchanged network, or a fine-tune."""
    outlier, tiny = meta["outlier"], "Tiny ImageNet (Stanford CS231n; images from ImageNet, Deng et al. 2009: " \
        "non-commercial research and education only)"
    if "fine_tune" in meta:
        t = meta["fine_tune"]
        return (f"**Fine-tuned for the world** ({t['seconds'] / 60:.0f} min on {t['hardware']}) from the CIFAR-10 "
                f"network with outlier exposure on {len(outlier['kinds']['train'])} other kinds of thing ({tiny}) "
                f"and real-photo augmentations: `{t['command']}`")
    fit, run = outlier.get("likeness", {}), outlier.get("chosen_by", {})
    return (f"**How it learned “none of the ten”:** the CIFAR-10 network unchanged; a linear read-out of its pooled "
            f"features and logits, fitted on {fit.get('photos', 0):,} CIFAR-10 training photos against "
            f"{fit.get('outliers', 0):,} photos of {len(outlier['kinds']['train'])} other kinds of thing ({tiny}), "
            f"{run.get('seconds', 0) / 60:.0f} min: `{run.get('command', 'python -m train.photos_world --epochs 0')}`. "
            "Fine-tuning the network with outlier exposure was tried and not shipped: it learned Tiny ImageNet's "
            "look, and real photos of the ten classes fell to 48 % (docs/experiments.md)")


def headline(meta: dict) -> str:
    """The photo model's headline, in a few words: the home page's card and the README say the same."""
    m = meta["metrics"]
    if "real" in m:
        return (f"{m['real']['real_photos_dev']['headlined_right']:.1%} of real photos of its classes named right in "
                f"large type; {m['test_accuracy_tta']:.2%} on the {m['test_images']:,} CIFAR-10 test photos")
    return f"{m['test_accuracy_tta']:.2%} on the {m['test_images']:,} CIFAR-10 test photos"


def learned_from(meta: dict) -> str:
    """One sentence for the page: what the shipped network learned from, and what it has no real photos of."""
    if "real" not in meta["metrics"]:
        return ""
    dev = meta["metrics"]["real"]["real_photos_dev"]
    missing = [k for k in CLASSES if k not in dev["per_class"] and k != "airplane"]
    return (f"Then it learned from {meta['outlier']['likeness'].get('real_photos', 0):,} real photos of its classes "
            f"(Tiny ImageNet, Caltech-101) and from photos of other things, to say “none of the ten”; it has no "
            f"real photos of {' or '.join(missing)}, which it knows from CIFAR-10 only.")


def outlier_caveat(meta: dict) -> str:
    """The "none of the ten" caption's last sentence: how often real photos of its classes land there (card)."""
    m = meta["metrics"]
    if "real" in m:
        dev = m["real"]["real_photos_dev"]
        return (f" It is not perfect: {dev['headlined_right']:.1%} of real photos of its classes are named right in "
                f"large type (the others get “not sure”, this answer or, rarely, a wrong class), and "
                f"{m['real']['outliers_test']['headlined']:.1%} of photos of other things get a class (model card).")
    if "world" in m:
        return (f" Real photos that look unlike CIFAR-10's can land here too: only {m['world']['real_photos_answered']:.0%} "
                "of real photos of its classes got a class in large type (model card).")
    return ""


def credit_and_limits(meta: dict) -> str:
    """The card's credit and limits line for the page."""
    if "real" in meta["metrics"]:
        return ("Real photos: Tiny ImageNet (Stanford CS231n; images from ImageNet, Deng et al. 2009; non-commercial "
                "research and education only) and Caltech-101 (Fei-Fei, Fergus, Perona 2004; research and education "
                "use only); Tiny ImageNet's photos of other things taught “none of the ten”. Limits: it knows ten "
                "classes only, sees 32×32 pixels, and has no real photos of deer or horses.")
    return ("Tiny ImageNet (Stanford CS231n; images from ImageNet, Deng et al. 2009; non-commercial research and "
            "education only) taught the “none of the ten” read-out. Limits: it knows ten classes only; it was trained "
            "on tiny, centred photos, and real photos of its classes often look unlike them.")


def _rates(r: dict) -> str:
    return f"**{r['headlined_right']:.1%}** named right in large type, {r['top1']:.1%} top-1, {r['answered']:.1%} answered"


def real_card_lines(meta: dict) -> list[str]:
    """The card's lines for a network trained on real photos too (train.photos_real): by source and class."""
    m, outlier, run = meta["metrics"]["real"], meta["outlier"], meta["real_training"]
    c, dev = m["cifar10_test"], m["real_photos_dev"]
    no_real = [k for k in CLASSES if k not in dev["per_class"] and k != "airplane"]  # deer, horse
    per = lambda part: ", ".join(f"{k} {v['headlined_right']:.0%}/{v['top1']:.0%}"  # noqa: E731
                                 for k, v in part["per_class"].items())
    return [
        f"**Real photos of its classes** (`real_photos_dev`: {dev['photos']:,} Tiny ImageNet photos of cats, dogs, "
        f"birds, frogs, cars, trucks and ships; evaluation only, never trained on): {_rates(dev)}. By class "
        f"(named right in large type / top-1): {per(dev)}",
        f"**CIFAR-10 test photos:** {_rates(c)}; " + ", ".join(
            f"{k} (no real photos to learn from) {c['per_class'][k]['headlined_right']:.0%}/{c['per_class'][k]['top1']:.0%}"
            for k in no_real),
        f"**Held-out real training photos** (15 % by a hash of the file name, never trained on): Tiny ImageNet "
        f"({m['tiny_imagenet_validation']['photos']:,}) {_rates(m['tiny_imagenet_validation'])}; Caltech-101 airplanes, "
        f"ships and cars ({m['caltech101_validation']['photos']:,}) {_rates(m['caltech101_validation'])}",
        f"**None of the ten:** photos of {len(outlier['kinds']['test'])} kinds of thing it never saw (neither trained "
        f"nor tuned on) given a class in large type: **{m['outliers_test']['headlined']:.1%}** "
        f"({m['outliers_validation']['headlined']:.1%} on the {len(outlier['kinds']['validation'])} kinds that chose "
        f"the threshold). Rules: {outlier['rule']} (not sure below {outlier['confidence']:.0%}; likeness threshold "
        f"{outlier['threshold']:.2f})",
        f"**How it learned from real photos:** the CIFAR-10 network fine-tuned on CIFAR-10 and "
        f"{outlier['likeness'].get('real_photos', 0):,} real photos together (none of deer or horses: "
        f"{', '.join(no_real)} learn from CIFAR-10 only), with outlier exposure on "
        f"{len(outlier['kinds']['train'])} other kinds of thing; {run['seconds'] / 60:.0f} min on {run['hardware']}: "
        f"`{run['command']}`. Measured by `{meta['metrics']['real_command']}`",
        "**Credit:** CIFAR-10 (Krizhevsky, Nair, Hinton 2009); Tiny ImageNet (Stanford CS231n; images from ImageNet, "
        "Deng et al. 2009: non-commercial research and education only); Caltech-101 (Fei-Fei, Fergus, Perona 2004: "
        "research and education use only)"]


def card_text(meta: dict) -> list[str]:
    """The card's measured lines (markdown), from the checkpoint's JSON: test accuracy, input, other recipes."""
    m = meta["metrics"]
    lines = [f"**CIFAR-10 test accuracy:** {m['test_accuracy']:.2%}; with test-time augmentation "
             f"{m['test_accuracy_tta']:.2%} ({m['test_images']:,} test images)"]
    w, outlier = m.get("world"), meta.get("outlier")
    if "real" in m:
        lines += real_card_lines(meta)
    elif w and outlier:
        lines += [
            f"**Answered** (sure, and not “none of the ten”): **{w['cifar10_test_answered']:.1%}** of CIFAR-10's test "
            "photos; the others get “not sure” or “none of the ten”",
            f"**Real photos of its classes** (1,050 Tiny ImageNet photos of cats, dogs, birds, frogs, cars, trucks and "
            f"ships; never trained on): **{w['real_photos_top1']:.1%}** named right; {w['real_photos_answered']:.1%} "
            f"answered, {w['real_photos_answered_right']:.1%} answered and right",
            f"**None of the ten:** photos of {len(outlier['kinds']['test'])} kinds of thing it never saw (neither "
            f"trained nor tuned on) given a class in the answer's type: **{w['outliers_test_headlined']:.1%}** "
            f"({w['outliers_validation_headlined']:.1%} on the {len(outlier['kinds']['validation'])} kinds that chose "
            f"the threshold). The score: {outlier['score']}, threshold {outlier['threshold']:.2f}, {outlier['rule']}",
            how_taught(meta)]
    lines.append(f"**Input:** the photo's largest centred square, resized to {IMAGE_SIZE}×{IMAGE_SIZE}; images under "
                 f"{MIN_ANSWER_SIDE} px on their short side are too small to tell")
    return lines + alternative_lines(meta, lambda a: f"{a['metrics']['test_accuracy_tta']:.2%} with test-time "
                                                  f"augmentation ({a['metrics']['test_accuracy']:.2%} without)")
