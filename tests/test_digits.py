"""Draw a digit: preprocessing, checkpoint round trip, predict, accuracy on MNIST, canvas-like drawings, and
"not a digit" on scribbles of a generator that training never used (tests/scribbles.py)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from conftest import assert_traced_matches_eager, shipped_card
from harness.drawing import render
from models import digits
from models.common import save_checkpoint


@pytest.fixture(scope="module")
def model():
    """The shipped network, loaded once for this file's measurements."""
    return digits.load(device="cpu")


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
    meta = shipped_card(digits.NAME, config=digits.config_dict(digits.Config()))
    save_checkpoint(model, meta, digits.NAME, tmp_path)
    loaded, loaded_meta = digits.load(tmp_path, device="cpu")
    assert loaded_meta == {**meta, "config": {**meta["config"], "channels": list(meta["config"]["channels"])}}
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
    assert meta["config"]["outputs"] == 11 and meta["classes"] == digits.CLASSES + [digits.NOT_DIGIT]
    assert meta["metrics"]["test_flagged"] <= 0.005 and meta["metrics"]["val_scribbles_flagged"] >= 0.9
    # 7.3 min on the quiet 2-core CPU before "not a digit" (+17 % steps since); the shipped run had one thread of
    # a CPU shared with another job's tests: 18.3 min. The bound is the run's, not a quiet machine's.
    assert meta["training"]["total_seconds"] <= 1800, "training must fit in 30 minutes on the 2-core CPU"


def test_predict_contract():
    p = digits.predict(render(4, 40, 40, 200, 18))
    assert p.probabilities.shape == (10,)
    assert abs(float(p.probabilities.sum()) + p.p_not_digit - 1) < 1e-5  # eleven outputs: digits + not a digit
    assert 0.0 <= p.p_not_digit <= 1.0 and p.not_digit == (p.p_not_digit >= digits.NOT_DIGIT_THRESHOLD) != p.is_digit
    assert p.is_digit and p.sure and p.digit == 4
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


def test_mnist_test_accuracy_and_few_flagged(mnist_dir, model):
    """The shipped weights on the 10,000 official test images, through `preprocess`: >= 99.6 % read right (the best
    of the ten digits), <= 0.5 % wrongly called "not a digit"; as the model card says."""
    from train.digits import load_split, measure

    net, meta = model
    x, y = load_split(str(mnist_dir), "test")
    m = measure(net, x, y, torch.device("cpu"))
    assert m["accuracy"] >= 0.996, f"MNIST test accuracy {m['accuracy']:.4%}"
    assert m["flagged"] <= 0.005, f"MNIST test digits flagged as not digits: {m['flagged']:.2%}"
    assert m["accuracy"] == pytest.approx(meta["metrics"]["test_accuracy"], abs=2e-4)
    assert m["flagged"] == pytest.approx(meta["metrics"]["test_flagged"], abs=2e-4)


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


def test_reads_canvas_like_drawings_of_mnist_digits(mnist_dir, model):
    """300 test digits drawn on the canvas five ways: each way >= 98 % read right and <= 1 % called not a digit."""
    import gzip

    raw = mnist_dir / "vision" / "MNIST" / "raw"
    images = np.frombuffer(gzip.open(raw / "t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)
    labels = np.frombuffer(gzip.open(raw / "t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
    n = 300
    correct: dict[str, int] = {}
    flagged: dict[str, int] = {}
    for image, label in zip(images[:n], labels[:n]):
        for condition, canvas in canvas_versions(image).items():
            p = digits.predict(canvas, model[0])
            correct[condition] = correct.get(condition, 0) + (p.digit == label)
            flagged[condition] = flagged.get(condition, 0) + p.not_digit
    accuracy = {k: v / n for k, v in correct.items()}
    flag_rate = {k: v / n for k, v in flagged.items()}
    assert min(accuracy.values()) >= 0.98, accuracy
    assert max(flag_rate.values()) <= 0.01, flag_rate


def test_reads_pen_stroke_digits_at_any_size_place_and_width(model):
    """Digits drawn with a pen, as on the canvas: every size, place and width is read correctly, none is called
    not a digit."""
    wrong = []
    for digit in range(10):
        for left, top, size, width in [(60, 40, 180, 18), (5, 5, 80, 8), (150, 140, 110, 6), (20, 20, 240, 35),
                                        (90, 70, 120, 4)]:
            p = digits.predict(render(digit, left, top, size, width), model[0])
            if p.digit != digit or p.not_digit:
                wrong.append((digit, (left, top, size, width), p.digit, round(p.confidence, 2), round(p.p_not_digit, 2)))
    assert not wrong, wrong


# ---------------------------------------------------------------- not a digit

UNSEEN_PER_FAMILY = 60  # tests/scribbles.py's six families: 360 drawings
# The least share flagged per family: measured (2026-12-05, 60 each) polylines 100 %, spirals 96.7 %, waves 98.3 %,
# doodles 100 %, letters 73.3 %, shapes 88.3 % (92.8 % in all); each bound 2 drawings (3.3 points) below. Letters
# are the weakest family: over all families together a fall in letters alone hid behind the others.
LEAST_FLAGGED = {"polyline": 0.96, "spiral": 0.93, "wave": 0.95, "doodle": 0.96, "letters": 0.70, "shapes": 0.85}


def test_flags_scribbles_letters_and_shapes_of_a_generator_training_never_used(model):
    """Drawings of tests/scribbles.py (other letters, shapes, stroke counts and curvature than training's
    train/scribbles.py; anti-aliased), through the page's `predict`: each family flagged "not a digit" at least
    as often as LEAST_FLAGGED says, and as the card says (benchmarks.scribbles --write) within one drawing."""
    from benchmarks.scribbles import measure

    measured = measure(model[0], UNSEEN_PER_FAMILY)
    card = model[1]["metrics"].get("unseen_scribbles")
    assert card is not None, "the card has no metrics.unseen_scribbles: python -m benchmarks.scribbles --write"
    assert set(measured["by_family"]) == set(LEAST_FLAGGED) == set(card["by_family"])
    for family, share in measured["by_family"].items():
        assert share >= LEAST_FLAGGED[family], (family, measured["by_family"])
        assert share == pytest.approx(card["by_family"][family], abs=1 / UNSEEN_PER_FAMILY + 1e-9), (family, card)
    assert measured["flagged"] >= 0.90 and measured["flagged"] == pytest.approx(card["flagged"], abs=1 / 360 + 1e-9)


def test_training_scribbles_go_through_the_pages_preprocessing(model):
    """train/scribbles.make draws canvas images and puts them through `preprocess`, as the page does, and keeps
    none that the network would see as a bar (a 1) or a blob."""
    from train import scribbles as training_scribbles

    images, families = training_scribbles.make(6, seed=3)
    rng = np.random.default_rng(3)
    for image, family in zip(images, families):
        rgba, x28, drawn_family = training_scribbles.drawing(rng)
        assert rgba.shape == (280, 280, 4) and rgba.dtype == np.uint8 and rgba[..., 3].min() == 0  # as the canvas
        assert drawn_family == family and np.array_equal(image, x28)
        assert np.array_equal(x28, digits.predict(rgba, model[0]).input)
        assert not training_scribbles.digit_like(x28)
    # The rule that keeps 1s out of the scribbles: a pen-drawn 1 is a bar, other digits are not.
    assert training_scribbles.digit_like(digits.preprocess(render(1, 60, 40, 180, 18)))
    assert not any(training_scribbles.digit_like(digits.preprocess(render(d, 60, 40, 180, 18))) for d in (2, 3, 4, 5, 7))


def test_a_card_without_the_not_a_digit_output_still_loads(tmp_path):
    """A checkpoint from before "not a digit" (ten outputs, no `outputs` in its config) loads and never flags."""
    config = digits.config_dict(digits.Config(outputs=10))
    del config["outputs"]
    save_checkpoint(digits.DigitNet(digits.Config(outputs=10)).eval(), shipped_card(digits.NAME, config=config),
                    digits.NAME, tmp_path)
    old, _ = digits.load(tmp_path, device="cpu")
    p = digits.predict(render(3, 40, 40, 200, 18), old)
    assert p.p_not_digit == 0.0 and not p.not_digit and abs(float(p.probabilities.sum()) - 1) < 1e-5


def test_training_dry_run(mnist_dir, tmp_path):
    from train.common import parse_config
    from train.digits import TrainConfig, train

    cfg = parse_config(TrainConfig, ["--data-dir", str(mnist_dir), "--out-dir", str(tmp_path), "--dry-run"])
    meta = train(cfg)
    assert (tmp_path / "digits.safetensors").exists() and (tmp_path / "digits.json").exists()
    assert len(meta["curve"]) == 1 and 0.0 <= meta["metrics"]["test_accuracy"] <= 1.0
    assert 0.0 <= meta["metrics"]["val_scribbles_flagged"] <= 1.0 and meta["metrics"]["train_scribbles"] > 0
    loaded, _ = digits.load(tmp_path, device="cpu")
    assert digits.predict(render(7, 40, 40, 200, 18), loaded).probabilities.shape == (10,)


def test_predict_png_reads_the_canvas_bytes_and_names_what_it_cannot_read():
    import io

    def png(rgba) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(rgba).save(buf, format="PNG")
        return buf.getvalue()

    assert digits.predict_png(png(render(4, 40, 40, 200, 18))).digit == 4
    with pytest.raises(digits.EmptyImageError):
        digits.predict_png(png(np.zeros((280, 280, 4), np.uint8)))
    for garbage in (b"", b"not a png", png(render(4, 40, 40, 200, 18))[:100]):
        with pytest.raises(digits.UnreadableImageError):
            digits.predict_png(garbage)
