"""Draw a digit: a compact CNN trained with backpropagation on MNIST.

Read top to bottom: constants, config, the network, preprocessing (shared by
training and the page), loading, and `predict`.

    image (canvas RGBA, RGB, grey or PIL; any size, either polarity)
      -> preprocess: ink map -> crop to the ink -> fit in 20x20 -> centre of mass at the centre of 28x28
      -> DigitNet: 5 conv blocks (batch norm, ReLU, max-pool) -> dropout -> linear -> 11 outputs:
         ten digit logits (softmax: which digit) and one "not a digit" logit (sigmoid: is it one at all?),
         trained on MNIST and on generated scribbles, letters and shapes (train/scribbles.py)
      -> p(not a digit), and each digit's probability times p(a digit): eleven numbers that sum to 1
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from models.common import Loaded, get_device, load_checkpoint, run_recording, shared

NAME = "digits"
CLASSES = [str(d) for d in range(10)]  # the ten digits: the page's bar chart
NOT_DIGIT = "not a digit"  # the network's extra output, after the ten digits

# MNIST geometry (LeCun et al.): each digit was size-normalised into a 20x20 box,
# keeping its aspect ratio, then centred by its centre of mass in a 28x28 field.
IMAGE_SIZE = 28
BOX_SIZE = 20
# Centre of mass of the average MNIST training digit, in pixel-index coordinates
# (row, col); measured on the first 5,000 training images: (13.99, 14.00), std 0.29.
MNIST_CENTER = (14.0, 14.0)
# Pixel statistics of MNIST in [0, 1]; the network normalises its input with them.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

# A pixel counts as ink above this (on a 0..1 scale); fewer ink pixels than
# MIN_INK_PIXELS means "nothing drawn".
INK_THRESHOLD = 0.2
MIN_INK_PIXELS = 4
# Below this top probability the page says "not sure" instead of naming a digit.
CONFIDENCE_THRESHOLD = 0.7
# At or above this probability of "not a digit", the page says "that doesn't look like a digit" (and shows the
# best digit only as a guess). 0.5: more likely not a digit than a digit; not tuned on any test set. What it
# gives (MNIST test digits flagged, generated scribbles flagged) is in models/weights/digits.json.
NOT_DIGIT_THRESHOLD = 0.5
# Refuse images larger than this many pixels before doing any work on them.
MAX_PIXELS = 4096 * 4096


class UnreadableImageError(ValueError):
    """Bytes that are not an image that can be read: corrupt, truncated or oversized."""


class EmptyImageError(ValueError):
    """Raised when an image holds no ink: there is nothing to classify."""


@dataclass
class Config:
    channels: tuple[int, int, int] = (32, 64, 128)
    hidden: int = 256
    dropout: float = 0.3
    outputs: int = len(CLASSES) + 1  # ten digit logits + one not-a-digit logit (a card without this field: 10)


class ConvBlock(nn.Sequential):
    """3x3 convolution -> batch norm -> ReLU (the conv has no bias: BN provides it)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


# (name, pool after it?) for the convolutional blocks, in order.
CONV_LAYERS = (("conv1", False), ("conv2", True), ("conv3", False), ("conv4", True), ("conv5", True))


class DigitNet(nn.Module):
    def __init__(self, cfg: Config = Config()):
        super().__init__()
        c1, c2, c3 = cfg.channels
        self.conv1 = ConvBlock(1, c1)  # (B, c1, 28, 28)  strokes and edges
        self.conv2 = ConvBlock(c1, c1)  # (B, c1, 28, 28) -> pool 14x14
        self.conv3 = ConvBlock(c1, c2)  # (B, c2, 14, 14)  corners, curves
        self.conv4 = ConvBlock(c2, c2)  # (B, c2, 14, 14) -> pool 7x7
        self.conv5 = ConvBlock(c2, c3)  # (B, c3, 7, 7) -> pool 3x3  loops, digit parts
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(cfg.dropout),
            nn.Linear(c3 * 3 * 3, cfg.hidden),
            nn.BatchNorm1d(cfg.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.outputs),
        )

    def forward(self, x: torch.Tensor, activations: dict | None = None) -> torch.Tensor:
        """(B, 1, 28, 28) in [0, 1] -> logits (B, outputs): 0..9, then "not a digit". If `activations` is a dict, each conv
        block's output (B, C, H, W) is stored in it under the block's name."""
        x = (x - MNIST_MEAN) / MNIST_STD
        for name, pool in CONV_LAYERS:
            x = getattr(self, name)(x)
            if activations is not None:
                activations[name] = x
            if pool:
                x = F.max_pool2d(x, 2)
        return self.head(x)


# ---------------------------------------------------------------- preprocessing


def to_ink(image) -> np.ndarray:
    """Any image -> (H, W) float32 ink map in [0, 1]: 1 = ink, 0 = background.

    RGBA with transparency (what the canvas returns): the alpha channel is the ink.
    Otherwise the grey level, inverted when the background (the border's median) is light,
    so light-on-dark and dark-on-light give the same map.
    """
    if isinstance(image, Image.Image):
        if image.width * image.height > MAX_PIXELS:
            raise ValueError(f"image too large: over {MAX_PIXELS:,} pixels")
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = np.asarray(image.convert("RGBA" if has_alpha else "L"))
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected an H x W, H x W x 3 or H x W x 4 image, got shape {a.shape}")
    if a.size == 0 or a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise ValueError(f"image must have between 1 and {MAX_PIXELS:,} pixels, got shape {a.shape}")
    full = float(np.iinfo(a.dtype).max) if np.issubdtype(a.dtype, np.integer) else 1.0  # floats: in [0, 1]
    if a.ndim == 3 and a.shape[2] == 4:
        alpha = a[..., 3]
        if alpha.min() < full:  # transparent background: strokes are the opaque pixels
            return np.clip(alpha.astype(np.float32) / full, 0.0, 1.0)
        a = a[..., :3]  # opaque: read the colours (converting only what is used keeps this fast)
    a = a.astype(np.float32) / full
    grey = a @ np.array([0.299, 0.587, 0.114], np.float32) if a.ndim == 3 and a.shape[2] == 3 else a.reshape(a.shape[:2])
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    if background > 0.5:  # dark ink on a light background
        ink = (background - grey) / background
    else:
        ink = (grey - background) / max(1.0 - background, 1e-6)
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def center_of_mass(a: np.ndarray) -> tuple[float, float]:
    """(row, col) of the intensity-weighted centre of a 2-D array."""
    total = a.sum()
    rows, cols = np.indices(a.shape)
    return float((rows * a).sum() / total), float((cols * a).sum() / total)


def preprocess(image) -> np.ndarray:
    """Any image -> the (28, 28) float32 array in [0, 1] that the network sees, made as MNIST was.

    Raises EmptyImageError when there is no ink. Used by the training set and by `predict`.
    """
    ink = to_ink(image)
    mask = ink > INK_THRESHOLD
    if mask.sum() < MIN_INK_PIXELS:
        raise EmptyImageError("no digit found: the image is blank")
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    # Fit the longer side to BOX_SIZE, keeping the aspect ratio; LANCZOS anti-aliases like MNIST.
    scale = BOX_SIZE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL wants (width, height)
    box = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.LANCZOS))
    box = np.clip(box, 0.0, 1.0)
    # Paste so that the centre of mass lands on MNIST's centre (integer shift, kept inside the field).
    cy, cx = center_of_mass(box)
    top = int(np.clip(round(MNIST_CENTER[0] - cy), 0, IMAGE_SIZE - box.shape[0]))
    left = int(np.clip(round(MNIST_CENTER[1] - cx), 0, IMAGE_SIZE - box.shape[1]))
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    out[top : top + box.shape[0], left : left + box.shape[1]] = box
    return out


def to_batch(inputs: np.ndarray, device=None) -> torch.Tensor:
    """(N, 28, 28) or (28, 28) float arrays -> (N, 1, 28, 28) float tensor on `device`."""
    t = torch.as_tensor(np.asarray(inputs, np.float32))
    return t.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE).to(device or "cpu")


# ---------------------------------------------------------------- loading and inference


def decide(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (B, 10 or 11) -> (the probability of each digit (B, 10), the probability that it is not a digit
    (B,)); each row's eleven numbers sum to 1. The ten digit logits go through a softmax (which digit, if it is
    one), the eleventh through a sigmoid (not a digit at all?); a network without it never says "not a digit".
    The one place that reads the outputs: `predict` and training (train.digits) both use it."""
    logits = logits.float()
    which = torch.softmax(logits[:, : len(CLASSES)], dim=1)
    if logits.shape[1] == len(CLASSES):
        return which, torch.zeros(len(logits), device=logits.device)
    p_not = torch.sigmoid(logits[:, len(CLASSES)])
    return which * (1 - p_not)[:, None], p_not


def load(weights_dir=None, device=None) -> Loaded:
    """Rebuild the network from its JSON and load its safetensors: (model in eval mode, meta)."""
    state, meta = load_checkpoint(NAME, weights_dir)
    model = DigitNet(Config(**{"outputs": len(CLASSES), **meta["config"]}))  # cards before "not a digit": 10 outputs
    model.load_state_dict(state)
    # channels_last weights, as in training: the bf16 convolutions then skip a weight reordering on every call
    return Loaded(model.to(device or get_device(), memory_format=torch.channels_last).eval(), meta)


def default_model() -> DigitNet:
    """The shipped network, loaded once per process (models.common.shared)."""
    return shared(NAME).model


@dataclass
class Prediction:
    probabilities: np.ndarray  # (10,) each digit's probability; with p_not_digit they sum to 1
    digit: int  # the most probable digit (only a guess when not_digit)
    confidence: float  # its probability
    input: np.ndarray  # (28, 28) in [0, 1]: what the network saw
    p_not_digit: float = 0.0  # the probability that the drawing is not a digit at all
    activations: dict[str, np.ndarray] = field(default_factory=dict)  # conv name -> (C, H, W)

    @property
    def not_digit(self) -> bool:
        """It doesn't look like a digit: `digit` is only the best guess, were it one."""
        return self.p_not_digit >= NOT_DIGIT_THRESHOLD

    @property
    def is_digit(self) -> bool:
        return not self.not_digit

    @property
    def sure(self) -> bool:
        """A digit, named with enough confidence to say so."""
        return self.is_digit and self.confidence >= CONFIDENCE_THRESHOLD


@torch.inference_mode()
def predict(image, model: DigitNet | None = None) -> Prediction:
    """Classify one drawn or photographed digit, or find it is not one (`not_digit`). Raises EmptyImageError on a
    blank image."""
    model = model or default_model()
    x28 = preprocess(image)
    device = next(model.parameters()).device
    logits, activations = run_recording(model, to_batch(x28, device))
    digit_probs, p_not = decide(logits)
    probs = digit_probs[0].cpu().numpy()
    digit = int(probs.argmax())
    maps = {name: a[0].float().cpu().numpy() for name, a in activations.items()}
    return Prediction(probs, digit, float(probs[digit]), x28, float(p_not[0]), maps)


def predict_png(data: bytes, model: DigitNet | None = None) -> Prediction:
    """The canvas's drawing as the browser sends it (PNG bytes) -> `predict`. Raises EmptyImageError when nothing
    is drawn, UnreadableImageError when the bytes are corrupt or oversized (not from the canvas). Opened lazily:
    `to_ink` refuses an oversized image from its header, before decoding it."""
    try:
        return predict(Image.open(io.BytesIO(data)), model)
    except EmptyImageError:
        raise
    except (ValueError, OSError, Image.DecompressionBombError) as error:
        raise UnreadableImageError(str(error)) from None


def config_dict(cfg: Config) -> dict:
    return asdict(cfg)


# ---------------------------------------------------------------- the model card's text


def card_text(meta: dict) -> list[str]:
    """The card's measured lines (markdown), from the checkpoint's JSON: test accuracy, the not-a-digit rates, input."""
    m = meta["metrics"]
    lines = [f"**MNIST test accuracy:** {m['test_accuracy']:.2%} ({m['test_errors']} errors in {m['test_images']:,} "
             "official test images, each through the same preprocessing as your drawing)"]
    if "test_flagged" in m:
        lines.append(f"**Not a digit:** {m['test_flagged']:.2%} of the MNIST test digits are wrongly flagged as not "
                     f"digits ({m['test_flagged_count']} of {m['test_images']:,}); {m['val_scribbles_flagged']:.1%} of "
                     f"{m['val_scribbles']:,} new scribbles, letters and shapes of the kind it was trained on are "
                     "flagged; the tests also check that at least 90 % of another generator's drawings (other "
                     "letters, shapes, spirals, waves, words) are flagged")
    lines.append(f"**Input:** {IMAGE_SIZE}×{IMAGE_SIZE} grey levels; the drawing is cropped, scaled into "
                 f"{BOX_SIZE}×{BOX_SIZE} and centred by centre of mass")
    return lines
