"""Draw a digit: preprocessing, checkpoint round trip, predict, accuracy on MNIST, canvas-like drawings."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from conftest import assert_traced_matches_eager
from drawing import render
from models import digits
from models.common import save_checkpoint


def ink_image(rgba: np.ndarray) -> np.ndarray:
    """The alpha channel alone: a white-on-black grey image of the same drawing."""
    return rgba[..., 3].copy()


# ---------------------------------------------------------------- preprocessing


def test_small_in_corner_equals_large_in_centre():
    small = digits.preprocess(render(7, left=5, top=8, size=70, width=6))
    large = digits.preprocess(render(7, left=40, top=30, size=210, width=18))
    assert small.shape == large.shape == (28, 28)
    # Same digit, same stroke relative to its size: nearly the same 28x28 input.
    assert np.abs(small - large).mean() < 0.03
    assert np.corrcoef(small.ravel(), large.ravel())[0, 1] > 0.95


@pytest.mark.parametrize("digit", range(10))
def test_polarity_and_format_do_not_matter(digit):
    rgba = render(digit, 60, 50, 160, 16)
    light_on_dark = ink_image(rgba)
    dark_on_light = 255 - light_on_dark
    reference = digits.preprocess(light_on_dark)
    for variant in (
        rgba,  # the canvas's RGBA with transparency
        dark_on_light,  # pencil on paper
        np.stack([dark_on_light] * 3, -1),  # H x W x 3
        Image.fromarray(dark_on_light),  # PIL, grey
        Image.fromarray(np.stack([light_on_dark] * 3, -1)),  # PIL, RGB
    ):
        assert np.abs(digits.preprocess(variant) - reference).max() < 1e-5


def test_opaque_canvas_background_is_read_by_polarity():
    rgba = render(3, 60, 50, 160, 16)
    opaque = np.zeros_like(rgba)
    opaque[..., :3] = rgba[..., 3:4]  # white ink composited on black
    opaque[..., 3] = 255
    assert np.abs(digits.preprocess(opaque) - digits.preprocess(rgba)).max() < 1e-5


def test_mnist_geometry():
    x = digits.preprocess(render(0, 10, 10, 100, 10))
    rows, cols = np.nonzero(x > digits.INK_THRESHOLD)
    assert rows.max() - rows.min() + 1 <= digits.BOX_SIZE + 1
    assert cols.max() - cols.min() + 1 <= digits.BOX_SIZE + 1
    cy, cx = digits.center_of_mass(x)
    # An integer shift: the centre of mass lands within half a pixel of the centre.
    assert abs(cy - digits.MNIST_CENTER[0]) <= 0.501 and abs(cx - digits.MNIST_CENTER[1]) <= 0.501
    assert 0.0 <= x.min() and x.max() <= 1.0


@pytest.mark.parametrize(
    "blank",
    [
        np.zeros((280, 280, 4), np.uint8),  # an untouched canvas
        np.full((100, 100), 255, np.uint8),  # white paper
        np.zeros((50, 60, 3), np.uint8),  # black
        Image.new("RGB", (30, 30), "white"),
    ],
)
def test_blank_image_raises_empty(blank):
    with pytest.raises(digits.EmptyImageError):
        digits.preprocess(blank)


@pytest.mark.parametrize("bad", [np.zeros((0, 0), np.uint8), np.zeros((5, 5, 2), np.uint8), np.zeros((4, 4, 4, 4))])
def test_malformed_arrays_raise_value_error(bad):
    with pytest.raises(ValueError):
        digits.preprocess(bad)


def test_training_and_page_preprocessing_are_identical(mnist_dir):
    """The training set and `predict` put the same image through the same function."""
    from train.digits import load_split

    x_train_path, _ = load_split(str(mnist_dir), "test", limit=50)
    raw = np.frombuffer(
        __import__("gzip").open(mnist_dir / "vision/MNIST/raw/t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16
    ).reshape(-1, 28, 28)[:50]
    model, _ = digits.load(device="cpu")
    for i in range(50):
        page = digits.predict(raw[i], model).input
        assert torch.equal(x_train_path[i, 0], torch.from_numpy(page))


# ---------------------------------------------------------------- model and checkpoint


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = digits.DigitNet(digits.Config()).eval()
    # Non-trivial batch-norm statistics, so that buffers are checked too.
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    meta = {"config": digits.config_dict(digits.Config())}
    save_checkpoint(model, meta, digits.NAME, tmp_path)
    loaded, loaded_meta = digits.load(tmp_path, device="cpu")
    assert loaded_meta == {"config": {**meta["config"], "channels": list(meta["config"]["channels"])}}
    saved, back = model.state_dict(), loaded.state_dict()
    assert saved.keys() == back.keys() and all(torch.equal(saved[k], back[k]) for k in saved)
    model = model.to(memory_format=torch.channels_last)  # as `load` returns it (the kernels then match too)
    x = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert (tmp_path / "digits.safetensors").read_bytes()[:8] != b"\x80\x04\x95"  # not a pickle


def test_shipped_checkpoint_metadata():
    _, meta = digits.load(device="cpu")
    assert meta["metrics"]["test_images"] == 10_000
    assert meta["parameters"] == sum(p.numel() for p in digits.load(device="cpu")[0].parameters())
    assert len(meta["curve"]) == meta["training"]["options"]["epochs"]
    assert meta["training"]["command"].startswith("python -m train.digits")
    assert meta["training"]["total_seconds"] <= 600, "training must fit in 10 minutes on the 2-core CPU"


def test_predict_contract():
    p = digits.predict(render(4, 40, 40, 200, 18))
    assert p.probabilities.shape == (10,)
    assert abs(float(p.probabilities.sum()) - 1) < 1e-5
    assert p.digit == int(np.argmax(p.probabilities)) and p.confidence == pytest.approx(p.probabilities.max())
    assert p.input.shape == (28, 28) and p.input.dtype == np.float32
    assert list(p.activations) == [name for name, _ in digits.CONV_LAYERS]
    assert p.activations["conv1"].shape == (32, 28, 28) and p.activations["conv5"].shape == (128, 7, 7)


def test_traced_inference_matches_the_eager_network():
    """predict runs the network traced (models.common.run_recording): same logits and feature maps."""
    model, _ = digits.load(device="cpu")
    with torch.inference_mode():
        assert_traced_matches_eager(model, torch.rand(3, 1, digits.IMAGE_SIZE, digits.IMAGE_SIZE))


def test_predict_accepts_png_bytes_decoded_by_pil():
    buf = io.BytesIO()
    Image.fromarray(render(1, 40, 40, 200, 18)).save(buf, format="PNG")
    assert digits.predict(Image.open(io.BytesIO(buf.getvalue()))).digit == 1


# ---------------------------------------------------------------- accuracy


def test_mnist_test_accuracy(mnist_dir):
    """The shipped weights on the 10,000 official test images, through `preprocess`: >= 99.6 %."""
    from train.digits import evaluate, load_split

    model, meta = digits.load(device="cpu")
    x, y = load_split(str(mnist_dir), "test")
    _, accuracy = evaluate(model, x, y, torch.device("cpu"))
    assert accuracy >= 0.996, f"MNIST test accuracy {accuracy:.4%}"
    assert accuracy == pytest.approx(meta["metrics"]["test_accuracy"], abs=2e-4)


def canvas_versions(digit28: np.ndarray) -> dict[str, np.ndarray]:
    """One MNIST digit drawn on a 280x280 canvas in the ways people draw: small, off-centre, thick, thin."""

    def place(scale: int, left: int, top: int, pen: ImageFilter.Filter | None = None) -> np.ndarray:
        big = Image.fromarray(digit28).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
        if pen is not None:
            big = big.filter(pen)
        canvas = Image.new("L", (280, 280), 0)
        canvas.paste(big, (left, top))
        return np.asarray(canvas)

    return {
        "small in a corner": place(3, 0, 0),
        "off-centre": place(6, 100, 20),
        "large": place(10, 0, 0),
        "thick pen": place(8, 30, 30, ImageFilter.MaxFilter(9)),
        "thin pen": place(8, 30, 30, ImageFilter.MinFilter(5)),
    }


def test_reads_canvas_like_drawings_of_mnist_digits(mnist_dir):
    import gzip

    raw = mnist_dir / "vision" / "MNIST" / "raw"
    images = np.frombuffer(gzip.open(raw / "t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)
    labels = np.frombuffer(gzip.open(raw / "t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
    model, _ = digits.load(device="cpu")
    n = 300
    correct: dict[str, int] = {}
    for image, label in zip(images[:n], labels[:n]):
        for condition, canvas in canvas_versions(image).items():
            correct[condition] = correct.get(condition, 0) + (digits.predict(canvas, model).digit == label)
    accuracy = {k: v / n for k, v in correct.items()}
    assert min(accuracy.values()) >= 0.98, accuracy


def test_reads_pen_stroke_digits_at_any_size_place_and_width():
    """Digits drawn with a pen, as on the canvas: every size, place and width is read correctly."""
    model, _ = digits.load(device="cpu")
    wrong = []
    for digit in range(10):
        for left, top, size, width in [(60, 40, 180, 18), (5, 5, 80, 8), (150, 140, 110, 6), (20, 20, 240, 35),
                                        (90, 70, 120, 4)]:
            p = digits.predict(render(digit, left, top, size, width), model)
            if p.digit != digit:
                wrong.append((digit, (left, top, size, width), p.digit, round(p.confidence, 2)))
    assert not wrong, wrong


def test_training_dry_run(mnist_dir, tmp_path):
    from train.common import parse_config
    from train.digits import TrainConfig, train

    cfg = parse_config(TrainConfig, ["--data-dir", str(mnist_dir), "--out-dir", str(tmp_path), "--dry-run"])
    meta = train(cfg)
    assert (tmp_path / "digits.safetensors").exists() and (tmp_path / "digits.json").exists()
    assert len(meta["curve"]) == 1 and 0.0 <= meta["metrics"]["test_accuracy"] <= 1.0
    loaded, _ = digits.load(tmp_path, device="cpu")
    assert digits.predict(render(7, 40, 40, 200, 18), loaded).probabilities.shape == (10,)
