"""The browser the tests and benchmarks drive: Debian's Chromium through Playwright (never `playwright install`)."""
from __future__ import annotations

import time

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# ---- the digit page's canvas --------------------------------------------------------------------------------
# The pen goes to streamlit-drawable-canvas's fabric.js top canvas (canvas.upper-canvas, the only one that takes
# the mouse), laid over the component's black background canvas by the component's stylesheet. When the
# component mounts (the page's first run, and each Clear, which remounts it under a new key) the page's ready text
# can show while that stylesheet is still loading: for a frame or two fabric's canvases sit unstyled *below* the
# black square, then jump onto it; a stroke drawn at that first box lands on the text under the square, and no
# answer comes (2-4 % of draws in benchmarks.load's soak). Ready: exactly one drawing canvas and one background,
# the same box (not 0 px), unchanged since the last look.
CANVAS_SELECTOR = "canvas.upper-canvas, canvas.dc-background-canvas"
CANVAS_RECTS_JS = """canvases => canvases.map(c => {
    const r = c.getBoundingClientRect();
    return {top: c.classList.contains('upper-canvas'), x: r.x, y: r.y, width: r.width, height: r.height};
})"""


def canvas_box(rects: list[dict]) -> dict | None:
    """The drawing canvas's box from CANVAS_RECTS_JS's rectangles, or None while it is not in place."""
    tops = [{k: v for k, v in r.items() if k != "top"} for r in rects if r["top"]]
    under = [{k: v for k, v in r.items() if k != "top"} for r in rects if not r["top"]]
    return tops[0] if len(tops) == len(under) == 1 and tops == under and tops[0]["width"] > 0 else None


def settled_canvas_box(page, timeout: float = 60, poll: float = 0.05) -> dict:
    """The digit page's drawing canvas's box once it stays put (a sync Playwright page)."""
    deadline, last = time.perf_counter() + timeout, None
    while True:
        rects = page.locator(CANVAS_SELECTOR).evaluate_all(CANVAS_RECTS_JS)
        box = canvas_box(rects)
        if box is not None and box == last:
            return box
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no drawing canvas ready within {timeout:g} s (seen: {rects})")
        last = box
        page.wait_for_timeout(poll * 1000)


def draw_digit(page, digit: int) -> None:
    """Draw `digit` with the mouse on the digit page's canvas (harness.drawing's pen strokes)."""
    from harness.drawing import strokes_at

    box = settled_canvas_box(page)
    for stroke in strokes_at(digit, left=box["x"] + 60, top=box["y"] + 40, size=180):
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(x, y, steps=4)
        page.mouse.up()
