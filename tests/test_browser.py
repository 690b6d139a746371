"""Real-browser tests: Chromium, driven by Playwright, uses each page's main flow as a person would."""
from __future__ import annotations

import re

import pytest

from drawing import strokes_at


def test_home_lists_the_examples(page, app_url):
    page.goto(app_url)
    page.get_by_role("heading", name=re.compile("Deep Learning Live")).wait_for()
    page.get_by_text("Models run on").wait_for()
    page.get_by_role("link", name=re.compile("Draw a digit")).first.click()
    page.get_by_text("on the black square").wait_for()


@pytest.mark.parametrize("digit", [7, 3])
def test_draw_a_digit_with_the_mouse(page, app_url, digit):
    page.goto(f"{app_url}/digits")
    page.get_by_text("on the black square").wait_for()  # the empty-canvas state
    canvas = page.locator("canvas").last
    canvas.wait_for()
    box = canvas.bounding_box()
    for stroke in strokes_at(digit, left=box["x"] + 60, top=box["y"] + 40, size=180):
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(x, y, steps=4)
        page.mouse.up()
    answer = page.get_by_text(re.compile(r"It's a \d"))
    answer.wait_for()
    assert re.search(r"It's a (\d)", answer.inner_text()).group(1) == str(digit)
    # What the network sees and the feature maps are shown for the drawing.
    page.get_by_text("What the network sees").wait_for()
    page.get_by_text("128 maps, 7×7").wait_for()  # conv5's feature maps

    # Clear empties the canvas and the prediction goes away.
    page.get_by_role("button", name=re.compile("Clear")).click()
    page.get_by_text("on the black square").wait_for()
    assert page.get_by_text(re.compile(r"It's a \d")).count() == 0


def test_upload_a_photo(page, app_url, tmp_path):
    from importlib import resources

    from PIL import Image, ImageOps

    # Chelsea the cat, mirrored and cropped: a file the page has not seen as an example.
    chelsea = Image.open(resources.files("skimage") / "data" / "chelsea.png").convert("RGB")
    photo = tmp_path / "my cat.jpg"
    ImageOps.mirror(chelsea).crop((20, 0, 451, 300)).save(photo, quality=90)

    page.goto(f"{app_url}/photos")
    page.get_by_text("It's a").wait_for()  # the first example is classified at once
    page.get_by_text("Upload", exact=True).click()  # the segmented control
    page.get_by_text("Choose a photo").wait_for()
    page.locator("input[type=file]").set_input_files(str(photo))
    answer = page.get_by_text(re.compile(r"It's a [a-z]+ \(\d+%\)"))
    answer.wait_for()
    assert re.search(r"It's a ([a-z]+)", answer.inner_text()).group(1) == "cat"
    page.get_by_text(re.compile("Grad-CAM: where the evidence")).wait_for()

    # A file that is not an image: a clear message, no traceback.
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"definitely not a PNG")
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_text("Can't use this file").wait_for()
    assert page.get_by_text("Traceback").count() == 0
