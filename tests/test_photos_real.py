"""The photo network trained on real photos too (train.photos_real): what it trained on, the rules that chose its
thresholds, the card's numbers measured again, and real photos uploaded in Chromium as a phone sends them."""
from __future__ import annotations

import hashlib
import io
import re
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import require, shipped_card
from models import photos
from train import photos_real as R
from train import photos_world as W

DEV = "vision/tiny_imagenet/real_photos_dev.tar"


def test_real_photos_are_split_by_their_file_name_alone():
    names = [f"real_photos_train/cat/n02123045_n02123045_{i}.JPEG" for i in range(3000)]
    groups = [R.real_group(n) for n in names]
    assert groups == [R.real_group("elsewhere/" + n.rsplit("/", 1)[1]) for n in names]  # the file name only
    assert groups.count("validation") / len(groups) == pytest.approx(0.15, abs=0.03)


def _digests(tar_path, keep=lambda name: True) -> dict[str, str]:
    with tarfile.open(tar_path) as tar:
        return {hashlib.sha256(tar.extractfile(m).read()).hexdigest(): m.name
                for m in tar if m.isfile() and keep(m.name)}


def test_no_training_photo_comes_from_real_photos_dev_or_the_held_out_kinds():
    """Every photo the fine-tune draws from (the real training tars' train part, the outliers of the train kinds)
    differs, byte for byte and by its source file name, from every photo of real_photos_dev (evaluation only) and
    from every outlier of the validation and test kinds (which choose and test the threshold)."""
    root = require(DEV)
    dev = _digests(root / DEV)
    held_out = _digests(root / W.OUTLIERS, lambda n: n.count("/") >= 2 and W.kind_group(n.split("/")[1]) != "train")
    assert len(dev) == 1050 and len(held_out) > 1000
    trained = {}
    for rel in R.REAL_TRAIN:
        trained |= _digests(root / rel, lambda n: n.lower().endswith((".jpg", ".jpeg"))
                            and R.real_group(n) == "train")
    assert len(trained) > 8000
    assert not set(trained) & set(dev) and not set(trained) & set(held_out)
    dev_files = {n.rsplit("/", 1)[1] for n in dev.values()}
    assert not {n.rsplit("/", 1)[1] for n in trained.values()} & dev_files
    # and the loader the fine-tune uses marks the same validation part it leaves out
    data = R.load_real_train(str(root), limit=300)
    members = [m for _, m in R.real_members(str(root))]
    assert data["validation"].any() and (~data["validation"]).any()
    assert set(photos.CLASSES[c] for c in data["y"].tolist()) <= set(photos.CLASSES) - {"deer", "horse"}
    assert sum(R.real_group(m) == "validation" for m in members) == pytest.approx(0.15 * len(members), rel=0.2)
    # the outliers the fine-tune draws from (data["outliers"]["train"]) are exactly the train kinds' photos
    train_kind_photos = len(_digests(root / W.OUTLIERS, lambda n: n.count("/") >= 2
                                     and W.kind_group(n.split("/")[1]) == "train"))
    assert len(W.load_outliers(str(root))["train"]) == train_kind_photos


def test_the_confidence_rule_keeps_the_headlines_right_as_often_as_it_says():
    """choose_rules' first rule: the lowest top probability at which >= 95 % of the headlined validation photos are
    right; one step lower they would not be."""
    torch.manual_seed(0)
    n = 600
    y = torch.randint(0, 10, (n,))
    confidence = torch.rand(n) * 6  # larger logit margin -> more often right
    logits = torch.randn(n, 10) * 0.3
    right = torch.rand(n) < torch.sigmoid(confidence - 1)
    target = torch.where(right, y, (y + 1) % 10)
    logits[torch.arange(n), target] += confidence
    model = lambda x: None  # noqa: E731  (logits_and_scores is replaced below)
    data = {"real_train": {"x": torch.zeros(n, 3, 32, 32), "y": y, "validation": torch.ones(n, dtype=torch.bool)},
            "outliers": {"validation": torch.zeros(50, 3, 32, 32)}}
    outlier_logits = torch.randn(50, 10)
    calls = iter([(logits, torch.zeros(n)), (outlier_logits, torch.randn(50))])
    original = photos.logits_and_scores
    photos.logits_and_scores = lambda m, x: next(calls)
    try:
        chosen, threshold, _ = R.choose_rules(model, data, R.RealConfig())
    finally:
        photos.logits_and_scores = original
    top = torch.softmax(logits, -1).max(-1).values
    ok = logits.argmax(1) == y
    assert float(ok[top >= chosen].float().mean()) >= 0.95
    lower = chosen - 0.01
    assert float(ok[top >= lower].float().mean()) < 0.95
    assert 0 < chosen < 1


def test_real_photos_and_outliers_as_the_card_says():
    """real_photos_dev (evaluation only) and the held-out outlier kinds measured again through the page's arithmetic
    and the card's two thresholds: within half a point of the card (python -m train.photos_real --measure-only)."""
    card = shipped_card("photos")
    if "real" not in card["metrics"]:
        pytest.skip("the shipped photo network is not train.photos_real's")
    root = require(DEV)
    model, meta = photos.load(device=torch.device("cpu"))
    real = meta["metrics"]["real"]
    confidence, threshold = photos.confidence_threshold(meta), photos.outlier_threshold(meta)
    x, y = W.load_real(str(root))
    lr, sr = photos.logits_and_scores(model, x)
    said = photos.answered(lr, threshold, sr, confidence)
    assert float((lr.argmax(1) == y).float().mean()) == pytest.approx(real["real_photos_dev"]["top1"], abs=0.005)
    assert float((said & (lr.argmax(1) == y)).float().mean()) == pytest.approx(
        real["real_photos_dev"]["headlined_right"], abs=0.005)
    outliers = W.load_outliers(str(root))
    for group in ("validation", "test"):
        lo, so = photos.logits_and_scores(model, outliers[group])
        headlined = float(photos.answered(lo, threshold, so, confidence).float().mean())
        assert headlined == pytest.approx(real[f"outliers_{group}"]["headlined"], abs=0.005), group
    # on kinds never trained on nor tuned on: issue 40's target is <= 10 % (missed: 10.2 %); a floor against worse
    assert real["outliers_test"]["headlined"] <= 0.11


# ---------------------------------------------------------------- in Chromium, as a phone sends a photo


def phone_jpeg(image: Image.Image, side: int = 1024) -> bytes:
    """A 64x64 photo as a phone would send it: upscaled (bicubic) to `side`, JPEG quality 85. In memory."""
    buffer = io.BytesIO()
    image.convert("RGB").resize((side, side), Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def chosen_photos(root) -> list[tuple[str, str, bytes]]:
    """(name, expected headline, JPEG bytes): the first real_photos_dev photo of six classes in the tar's order (a
    fixed rule, not a pick), a brown bear (a kind held out from training) and a plate of food (a train kind)."""
    out, seen = [], set()
    with tarfile.open(root / DEV) as tar:
        for m in tar:
            cls = m.name.split("/")[1] if m.isfile() else None
            if cls and cls not in seen and cls in ("cat", "dog", "bird", "automobile", "ship", "truck"):
                seen.add(cls)
                out.append((m.name, cls, phone_jpeg(Image.open(io.BytesIO(tar.extractfile(m).read())))))
    with tarfile.open(root / W.OUTLIERS) as tar:
        for wnid in ("n02132136", "n07579787"):  # brown bear, plate
            m = next(m for m in tar if m.isfile() and m.name.split("/")[1] == wnid)
            out.append((m.name, "none", phone_jpeg(Image.open(io.BytesIO(tar.extractfile(m).read())))))
    return out


HEADLINE_JS = """() => [...document.querySelectorAll('[data-testid=stMain] h3')].map(h => h.innerText.trim())
    .filter(t => t.startsWith("It's") || t.startsWith("This doesn't look"))
    .concat([...document.querySelectorAll('[data-testid=stMain] [data-testid=stAlertContainer]')]
        .map(a => a.innerText.trim()).filter(t => t.startsWith('Not sure') || t.startsWith('Too small')))"""


def headline_of(page) -> str:
    texts = page.evaluate(HEADLINE_JS)
    assert len(texts) == 1, texts
    text = texts[0]
    if m := re.match(r"It's an? (\w+)", text):
        return m.group(1)
    return "none" if text.startswith("This doesn't look") else "not sure" if text.startswith("Not sure") else text


def test_real_photos_uploaded_in_chromium_get_their_class_in_large_type(page, app_url):
    """Six real photos of its classes (never trained on), upscaled as a phone sends them, a brown bear (a kind held
    out from training) and a plate of food (a train kind). Issue 40 asks for 5 of 6 right in large type and the bear
    and the plate as "none of the ten"; the shipped network gets 4 of 6 (a bird photo is "none of the ten", a dog
    "not sure") and calls the bear a bird: these floors keep it from getting worse (closing note, docs/experiments)."""
    if "real" not in shipped_card("photos")["metrics"]:
        pytest.skip("the shipped photo network is not train.photos_real's")
    root = require(DEV)
    page.goto(f"{app_url}/photos?source=upload")
    page.get_by_text("Choose a photo").wait_for()
    said = {}
    for k, (name, expected, data) in enumerate(chosen_photos(root)):
        file = f"photo{k}.jpg"  # short: the uploader shortens long names with an ellipsis
        page.locator("input[type=file]").set_input_files(files=[{"name": file, "mimeType": "image/jpeg", "buffer": data}])
        # The "Evidence for" box is keyed by the photo's hash (app_pages/photos.py): there once this photo's run drew
        # its answer; then nothing stale may be left from the photo before
        photo_id = hashlib.blake2b(data, digest_size=8).hexdigest()
        page.locator(f".st-key-cam_class-Upload-{photo_id}").wait_for()
        page.wait_for_function(f"() => !document.querySelector('[data-stale=true]') && ({HEADLINE_JS})().length === 1")
        said[name] = (expected, headline_of(page))
    answers = list(said.values())
    assert sum(e == h for e, h in answers[:6]) >= 4, said
    assert not any(h not in (e, "none", "not sure") for e, h in answers[:6]), said  # never another class
    assert answers[7][1] == "none", said  # the plate
