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


CANVAS_POLL = 0.05  # seconds between looks


class CanvasWatch:
    """Successive looks at the canvases (CANVAS_RECTS_JS's rectangles) until the drawing canvas stays put."""

    def __init__(self, timeout: float = 60):
        self.timeout, self.deadline, self.last = timeout, time.perf_counter() + timeout, None

    def settled(self, rects: list[dict]) -> dict | None:
        """The drawing canvas's box once two looks in a row agree; None: look again. TimeoutError past the time."""
        tops = [{k: v for k, v in r.items() if k != "top"} for r in rects if r["top"]]
        under = [{k: v for k, v in r.items() if k != "top"} for r in rects if not r["top"]]
        box = tops[0] if len(tops) == len(under) == 1 and tops == under and tops[0]["width"] > 0 else None
        if box is not None and box == self.last:
            return box
        if time.perf_counter() > self.deadline:
            raise TimeoutError(f"no drawing canvas ready within {self.timeout:g} s (seen: {rects})")
        self.last = box
        return None


def settled_canvas_box(page, timeout: float = 60) -> dict:
    """The digit page's drawing canvas's box once it stays put (a sync Playwright page)."""
    watch = CanvasWatch(timeout)
    while (box := watch.settled(page.locator(CANVAS_SELECTOR).evaluate_all(CANVAS_RECTS_JS))) is None:
        page.wait_for_timeout(CANVAS_POLL * 1000)
    return box


def draw_digit(page, digit: int) -> None:
    """Draw `digit` with the mouse on the digit page's canvas (harness.drawing's pen strokes)."""
    from harness.drawing import strokes_at

    from playwright.sync_api import Error

    for attempt in range(20):  # mouse coordinates are the viewport's: bring the canvas into view first
        try:
            page.locator("canvas.upper-canvas").scroll_into_view_if_needed(timeout=5000)
            break
        except Error:  # detached: the page was rerunning and remounted the canvas; look again
            if attempt == 19:
                raise
            page.wait_for_timeout(250)
    box = settled_canvas_box(page)
    for stroke in strokes_at(digit, left=box["x"] + 60, top=box["y"] + 40, size=180):
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(x, y, steps=4)
        page.mouse.up()
