"""The app in front of a room, measured in Chromium: presenter mode at 1920x1080, a phone at 390x844, the
embeddings page's controls at 1400 px, and the guided tour. tests/test_room.py asserts on what these return;
`python -m harness.room_screenshots` saves the screenshots in docs/ and prints the same measurements.

Each function takes a sync Playwright page (its viewport already set) and the app's base URL, optionally a path
to save a screenshot, and returns what it measured, in CSS pixels, read from the browser (getComputedStyle,
getBoundingClientRect), never assumed.
"""
from __future__ import annotations

import re
from pathlib import Path

from harness.browser import draw_digit

ROOM = {"width": 1920, "height": 1080}  # a projector
PHONE = {"width": 390, "height": 844}  # an iPhone 12 to 15, in CSS pixels
DESKTOP = {"width": 1400, "height": 1000}  # the README's screenshots

ANSWER = re.compile(r"It's an? \d")
MAP_READY = "most frequent words"  # the word map's caption

# The main area's visible body text (not the sidebar, not captions or chart ticks): paragraphs written with
# st.markdown, in messages, folded explanations (expanders' labels), widgets' labels, buttons; their font sizes.
BODY_FONTS_JS = """() => [...document.querySelectorAll('[data-testid=stMain] :is([data-testid=stMarkdown], '
        + '[data-testid=stAlertContainer], summary, [data-testid=stWidgetLabel], button) p')]
    .filter(p => p.getClientRects().length && !p.closest('.st-key-present_top, [data-testid=stCaptionContainer]'))
    .map(p => parseFloat(getComputedStyle(p).fontSize))"""
FONT_JS = "e => parseFloat(getComputedStyle(e).fontSize)"
# The word map's labels (Plotly's 3-D scene annotations, g.annotation-scene): text, font size, box.
LABELS_JS = """plot => [...plot.querySelectorAll('g.annotation-scene')].map(g => {
    const r = g.querySelector('g.annotation-text-g').getBoundingClientRect();
    const t = g.querySelector('text');
    return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize),
            x: r.x, y: r.y, width: r.width, height: r.height};
})"""
# Every visible button of the main area: label and box.
BUTTONS_JS = """() => [...document.querySelectorAll('[data-testid=stMain] button')]
    .filter(b => b.getClientRects().length)
    .map(b => { const r = b.getBoundingClientRect();
                return {text: b.innerText.trim(), x: r.x, right: r.right, y: r.y, width: r.width}; })"""
# Buttons whose content is cut by an ancestor that hides its overflow (what "clipped" looks like).
CLIPPED_JS = """() => [...document.querySelectorAll('[data-testid=stMain] button')]
    .filter(b => b.getClientRects().length)
    .filter(b => { const r = b.getBoundingClientRect();
        for (let e = b.parentElement; e && e !== document.body; e = e.parentElement) {
            const s = getComputedStyle(e);
            if (s.overflowX !== 'visible' && e.scrollWidth > e.clientWidth + 1) {
                const c = e.getBoundingClientRect();
                if (r.right > c.right + 0.5 || r.x < c.x - 0.5) return true;
            }
        }
        return false; })
    .map(b => b.innerText.trim())"""


def settle(page, timeout_ms: float = 60_000) -> None:
    """Until the page has drawn everything its script sent: no placeholder (skeleton) or stale element left; then a
    moment for the charts to draw. (Not "until the script is idle": a page training a network reruns a part of
    itself every fraction of a second.)"""
    page.wait_for_function("() => !document.querySelector('[data-testid=stSkeleton], [data-stale=true]')",
                           timeout=timeout_ms)
    page.wait_for_timeout(1500)


def overlaps(boxes: list[dict]) -> list[tuple[str, str]]:
    """Pairs of boxes ({text, x, y, width, height}) that overlap by more than a pixel each way."""
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            dx = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
            if dx > 1 and dy > 1:
                found.append((a["text"], b["text"]))
    return found


def _shot(page, path: Path | None) -> None:
    if path is not None:
        page.screenshot(path=str(path))


def _sidebar_open(page) -> bool:
    box = page.get_by_test_id("stSidebar").bounding_box()
    return box is not None and box["x"] + box["width"] > 1


def presenter_digits(page, base: str, shot: Path | None = None) -> dict:
    """/digits?present=1, a 3 drawn: the type's sizes, the answer's size, the sidebar, the page's width."""
    page.goto(f"{base}/digits?present=1")
    page.get_by_text("on the black square").wait_for()
    draw_digit(page, 3)
    answer = page.get_by_role("heading", name=ANSWER)
    answer.wait_for()
    page.wait_for_timeout(1500)  # the charts finish drawing
    answer.scroll_into_view_if_needed()
    page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
    page.wait_for_timeout(300)
    body = page.evaluate(BODY_FONTS_JS)
    box = answer.bounding_box()
    main = page.get_by_test_id("stMainBlockContainer").bounding_box()
    _shot(page, shot)
    return {"body_px": min(body), "answer_px": answer.evaluate(FONT_JS), "answer_box_height": box["height"],
            "answer": answer.inner_text(), "sidebar_open": _sidebar_open(page), "main_width": main["width"],
            "url": page.url}


def presenter_embeddings(page, base: str, word: str = "france", shot: Path | None = None) -> dict:
    """/embeddings?present=1, `word` picked: the map's box, its labels (sizes, overlaps), the answer's width."""
    page.goto(f"{base}/embeddings?present=1")
    page.get_by_text(MAP_READY).first.wait_for()
    page.get_by_test_id("stMain").get_by_role("radio", name=word, exact=True).click()  # a "Try" pill
    page.get_by_text(f"Nearest to “{word}”").wait_for()
    chart = page.locator(".st-key-word_map")
    plot = chart.locator(".js-plotly-plot")
    chart.evaluate("e => e.scrollIntoView({block: 'center'})")  # the whole map on the screen
    page.wait_for_function("plot => plot.querySelectorAll('g.annotation-scene').length > 1", arg=plot.element_handle())
    page.wait_for_timeout(1500)
    labels = plot.evaluate(LABELS_JS)
    box = chart.bounding_box()
    _shot(page, shot)
    return {"map_width": box["width"], "map_height": box["height"], "labels": labels,
            "label_px": min(label["px"] for label in labels), "overlaps": overlaps(labels),
            "outside": [label["text"] for label in labels if label["x"] < box["x"] or label["y"] < box["y"]
                        or label["x"] + label["width"] > box["x"] + box["width"]
                        or label["y"] + label["height"] > box["y"] + box["height"]],
            "sidebar_open": _sidebar_open(page)}


def phone_digits(page, base: str, shot: Path | None = None) -> dict:
    """/digits on a phone, a 3 drawn: where the answer is, without scrolling after the drawing."""
    page.goto(f"{base}/digits")
    page.get_by_text("on the black square").wait_for()
    draw_digit(page, 3)  # scrolls the canvas into view if it is not: part of drawing
    answer = page.get_by_role("heading", name=ANSWER)
    answer.wait_for()
    page.wait_for_timeout(1000)
    _shot(page, shot)
    box = answer.bounding_box()
    scrolled = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTop")
    return {"answer_top": box["y"], "answer_bottom": box["y"] + box["height"], "viewport_height": page.viewport_size["height"],
            "scrolled_px": scrolled, "answer": answer.inner_text()}


def phone_home(page, base: str, shot: Path | None = None) -> dict:
    """/ on a phone: the example cards' titles from top to bottom, and the sidebar's links in order."""
    page.goto(base)
    page.get_by_text("Models run on").wait_for()
    page.wait_for_timeout(500)
    cards = page.get_by_test_id("stMain").get_by_test_id("stPageLink-NavLink")
    order = sorted((cards.nth(i).bounding_box()["y"], cards.nth(i).inner_text().strip().split("\n")[-1])
                   for i in range(cards.count()))  # the link's text: its icon's name, then the title
    if shot is not None:  # the whole page at the phone's width: Streamlit scrolls an inner element, not the page
        size = dict(page.viewport_size)
        tall = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], tall)})
        page.wait_for_timeout(500)
        _shot(page, shot)
        page.set_viewport_size(size)
    return {"cards": [title for _, title in order]}


def buttons_in_view(page, base: str, path: str = "embeddings", shot: Path | None = None,
                    show: str = "walked") -> dict:
    """A page's buttons: any past the viewport's right edge (or left), and any cut by a container. The screenshot
    shows the option `show` (the embeddings page's last example word, the one that was cut off)."""
    page.goto(f"{base}/{path}")
    page.get_by_text(MAP_READY).first.wait_for()
    settle(page)
    width = page.viewport_size["width"]
    buttons = page.evaluate(BUTTONS_JS)
    if shot is not None:
        page.get_by_role("radio", name=show, exact=True).evaluate("e => e.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(300)
    _shot(page, shot)
    return {"buttons": len(buttons), "past_edge": [b["text"] for b in buttons if b["right"] > width + 0.5 or b["x"] < -0.5],
            "clipped": page.evaluate(CLIPPED_JS)}


def tour_step(page, base: str, k: int, shot: Path | None = None, present: bool = False) -> dict:
    """The review tour opened at step k (a link): the bar's counter and the page it opened."""
    page.goto(f"{base}/?tour=review&step={k}" + ("&present=1" if present else ""))
    bar = page.locator(".st-key-tour_bar")
    bar.get_by_text(f"step {k} of").wait_for()
    settle(page)  # the step's page finishes its first results
    _shot(page, shot)
    return {"counter": bar.locator(".tour-count").inner_text(), "url": page.url,
            "say_px": bar.locator(".tour-say").evaluate(FONT_JS)}
