"""AppTest: every page renders without an exception, in its empty state and with input."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from drawing import render

TIMEOUT = 60


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()


def all_text(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def test_home_page():
    at = app()
    assert not at.exception
    text = all_text(at)
    assert "Deep Learning Live" in text and "LeCun, Yoshua Bengio and Geoffrey Hinton" in text
    assert "Models run on" in text and ("CPU" in text or "GPU" in text)
    links = {link.proto.page: link.proto.label for link in at.get("page_link")}
    # A card for each page that exists, no placeholders.
    assert links == {"digits": "**Draw a digit**", "photos": "**Upload a photo**"}


def chart_titles(at: AppTest) -> list[str]:
    """The titles of the plotly charts on the page, from their JSON specs."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return [spec["layout"].get("title", {}).get("text", "") for spec in specs]


def canvas_state(rgba: np.ndarray | None) -> dict:
    """The canvas component's value as the browser sends it: the drawing as a PNG data URL."""
    data = None
    if rgba is not None:
        buf = io.BytesIO()
        Image.fromarray(rgba).save(buf, format="PNG")
        data = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": data}, "backgroundFit": None}


def digits_page(drawing: np.ndarray | None = None) -> AppTest:
    at = app()
    if drawing is not None:
        at.session_state["canvas_0"] = canvas_state(drawing)
    at.switch_page("app_pages/digits.py").run()
    assert not at.exception
    return at


def test_digits_page_empty_canvas():
    at = digits_page()
    assert "Draw a digit" in at.info[0].value
    text = all_text(at)
    assert "It's a" not in text and "Not sure" not in text
    assert "How backpropagation trained it" in text  # the training curves are always shown
    assert "MNIST test accuracy" in text  # model card


def test_digits_page_blank_drawing_is_treated_as_empty():
    at = digits_page(np.zeros((280, 280, 4), np.uint8))
    assert "Draw a digit" in at.info[0].value
    assert "What the network sees" not in all_text(at)


def test_digits_page_reads_a_drawing():
    at = digits_page(render(2, 60, 40, 180, 18))
    text = all_text(at)
    assert "It's a **2**" in text
    assert "What the network sees" in text
    titles = chart_titles(at)
    assert "input 28×28" in titles and "Probability of each digit" in titles
    assert [t.split("<br>")[0] for t in titles if " maps, " in t] == ["conv1", "conv2", "conv3", "conv4", "conv5"]


def test_digits_page_clear_button_empties_the_canvas():
    at = digits_page(render(2, 60, 40, 180, 18))
    at.button[0].click().run()
    assert at.session_state["canvas_version"] == 1
    assert "Draw a digit" in at.info[0].value


def photos_page() -> AppTest:
    at = app()
    at.switch_page("app_pages/photos.py").run()
    assert not at.exception
    return at


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_photos_page_example_is_shown_at_once():
    at = photos_page()
    text = all_text(at)
    assert "It's a **cat**" in text  # Chelsea the cat, the first example
    titles = chart_titles(at)
    assert "Probability of each class" in titles and any(t.startswith("Grad-CAM") for t in titles)
    assert "CIFAR-10 test accuracy" in text and "CC0" in text


def test_photos_page_other_example_and_grad_cam_class():
    at = photos_page()
    at.selectbox(key="example").set_value("Falcon 9 rocket").run()
    assert not at.exception and "**Not** one of the ten classes" in all_text(at)
    at.selectbox(key="cam_class").set_value("truck").run()
    assert not at.exception
    assert "Grad-CAM: where the evidence for “truck” lies" in chart_titles(at)


def test_photos_page_upload_and_bad_uploads():
    at = photos_page()
    at.segmented_control(key="source").set_value("Upload").run()
    assert "Choose a photo" in at.info[0].value
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 300, 3), np.uint8))
    at.file_uploader[0].set_value(("photo.png", png_bytes(photo), "image/png")).run()
    assert not at.exception and "Probability of each class" in chart_titles(at)
    for name, data, message in [
        ("broken.png", b"not an image", "not an image"),
        ("empty.jpg", b"", "empty"),
        ("tiny.png", png_bytes(Image.new("RGB", (3, 3))), "at least"),
    ]:
        at.file_uploader[0].set_value((name, data, "image/png")).run()
        assert not at.exception
        assert at.error and message in at.error[0].value, (name, [e.value for e in at.error])


def test_photos_page_camera():
    at = photos_page()
    at.segmented_control(key="source").set_value("Camera").run()
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 120, 200)).save(buf, format="JPEG")
    at.camera_input[0].set_value(("shot.jpg", buf.getvalue(), "image/jpeg")).run()
    assert not at.exception and "Probability of each class" in chart_titles(at)
