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
    assert links == {"digits": "**Draw a digit**"}  # a card for each page that exists, no placeholders


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
