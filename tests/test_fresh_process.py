"""The models' public functions in a fresh process each, in any order; each model loaded once per process.

Each case runs in its own Python process, because what these tests guard against depends on what the
process did first: a model loaded lazily under torch.inference_mode (inside `classify`, say) holds
"inference tensors", and a later gradient through it (Grad-CAM, fine-tuning) fails.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from app_pages.registry import EXAMPLES
from conftest import ROOT

MODELS = [example.name for example in EXAMPLES]

PRELUDE = """
import io, sys
from importlib import resources
import numpy as np, torch
from PIL import Image
sys.path.insert(0, {root!r})

def photo():
    return Image.open(resources.files("skimage") / "data" / "chelsea.png").convert("RGB")

def digit_drawing():
    from harness.drawing import render
    return render(3, 60, 40, 180, 18)

def example_clip(name="pin_en-us.wav"):
    from models import speech
    return speech.read_audio((resources.files("models").parent / "assets" / "speech" / name).read_bytes())

def digit_gradient():
    # A gradient through the shared digits network (saliency of class 3 on a drawing), as Grad-CAM does for photos.
    from models import digits
    from models.common import shared
    net = shared(digits.NAME)[0]
    x = digits.to_batch(digits.preprocess(digit_drawing())).requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x)[0, 3], x)
    assert grad.abs().sum() > 0
"""


def run_fresh(body: str, timeout: int = 240) -> str:
    """Run PRELUDE + body in a new Python process; fail with its output when it fails."""
    code = PRELUDE.format(root=str(ROOT)) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_photos_classify_then_gradcam_then_analyze():
    out = run_fresh("""
        from models import photos
        top = photos.classify(photo())[0][0]
        heat = photos.gradcam(photo(), top)
        assert heat.shape == (300, 451) and heat.max() == 1.0
        print(top, photos.analyze(photo()).ranking[0][0])
    """)
    assert out.split() == ["cat", "cat"]


def test_photos_gradcam_then_analyze_then_classify():
    out = run_fresh("""
        from models import photos
        assert photos.gradcam(photo(), "cat").max() == 1.0
        print(photos.analyze(photo()).ranking[0][0], photos.classify(photo(), tta=False)[0][0])
    """)
    assert out.split() == ["cat", "cat"]


def test_digits_predict_then_gradient_then_predict():
    out = run_fresh("""
        from models import digits
        first = digits.predict(digit_drawing()).digit
        digit_gradient()
        print(first, digits.predict(digit_drawing()).digit)
    """)
    assert out.split() == ["3", "3"]


def test_digits_gradient_then_predict():
    out = run_fresh("""
        from models import digits
        digit_gradient()
        print(digits.predict(digit_drawing()).digit)
    """)
    assert out.split() == ["3"]


def test_speech_transcribe_then_fine_tune_then_transcribe():
    out = run_fresh("""
        from models import speech
        from models.common import shared
        wave, rate = example_clip()
        first = speech.transcribe(wave, rate).digits
        adapted, losses = speech.fine_tune(shared(speech.NAME)[0], [(wave, rate, "4 1 5 9")], steps=3)
        assert len(losses) == 3 and adapted is not shared(speech.NAME)[0]
        print(first.replace(" ", ""), speech.transcribe(wave, rate, adapted).digits.replace(" ", ""),
              speech.transcribe(wave, rate).digits.replace(" ", ""))
    """)
    assert out.split() == ["4159", "4159", "4159"]


def test_speech_fine_tune_then_transcribe():
    out = run_fresh("""
        from models import speech
        from models.common import shared
        wave, rate = example_clip()
        adapted, _ = speech.fine_tune(shared(speech.NAME)[0], [(wave, rate, "4 1 5 9")], steps=2)
        print(speech.transcribe(wave, rate).digits.replace(" ", ""), speech.transcribe(wave, rate, adapted).digits.replace(" ", ""))
    """)
    assert out.split() == ["4159", "4159"]


def test_translate_in_any_order():
    out = run_fresh("""
        from models import translate
        batch = translate.default_model().translate_batch(["The cat is sleeping."], beam_size=2)
        one = translate.translate("The cat is sleeping.", beam_size=2)
        assert translate.default_model() is translate.default_model()
        print("chat" in batch[0], "chat" in one.text)
    """)
    assert out.split() == ["True", "True"]


def test_embeddings_in_any_order():
    out = run_fresh("""
        from models import embeddings
        from models.common import shared
        emb = embeddings.default_model()
        assert emb.view(500, "PCA").shape == (500, 3)
        print(emb.analogy("man", "king", "woman", 1)[0][0], emb.nearest("france", 1)[0][0] != "france")
    """)
    assert out.split() == ["queen", "True"]


def test_live_in_any_order():
    """A drawing read by the shipped run before any training, a training inside inference mode, then both again:
    the shipped network is never an inference tensor, and a training's network reads drawings."""
    out = run_fresh("""
        from models import live
        shipped = live.default_model().net
        first = live.read_drawing(shipped, digit_drawing()).digit
        with torch.inference_mode():  # as a caller might be: training must still work
            result = live.train_digits(1.5, data=live.default_model().data)
        assert result.steps > 5 and result.test_accuracy > 0.5, result  # it learned (how well: tests/test_live.py)
        reading = live.read_drawing(result.net, digit_drawing())
        assert reading.probabilities.shape == (10,)
        print(first, live.read_drawing(shipped, digit_drawing()).digit)
    """)
    assert out.split() == ["3", "3"]


@pytest.mark.parametrize("name", MODELS)
def test_each_model_is_loaded_once_per_process(name):
    """ui.load_model twice, and the module's own default (if it has one), give one object; the weights file
    is read once. (A cache decorator on the wrong function once made every click reload every model.)"""
    out = run_fresh(f"""
        from collections import Counter
        import models.common as common
        reads = Counter()
        read = common.load_file
        def counting(path, *args, **kwargs):
            reads[path.rsplit("/", 1)[-1]] += 1
            return read(path, *args, **kwargs)
        common.load_file = counting
        from ui import loading as ui
        first = ui.load_model({name!r})
        assert ui.load_model({name!r}) is first
        assert common.shared({name!r}) is first
        from models import {name} as module
        assert module.default_model() is first.model
        print(dict(reads))
    """)
    assert out.strip() == str({f"{name}.safetensors": 1})
