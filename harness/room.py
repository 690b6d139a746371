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
    page.wait_for_function("plot => plot.querySelectorAll('g.annotation-scene').length > 1", arg=plot.element_handle())
    first = chart.evaluate_all(PAGE_BOX_JS)  # where the map is when the page opens
    chart.evaluate("e => e.scrollIntoView({block: 'center'})")  # the whole map on the screen
    page.wait_for_function("plot => plot.querySelectorAll('g.annotation-scene').length > 1", arg=plot.element_handle())
    page.wait_for_timeout(1500)
    labels = plot.evaluate(LABELS_JS)
    box = chart.bounding_box()
    _shot(page, shot)
    wheel = wheel_over(page, plot)  # last: a zoom would move the labels
    return {"map_width": box["width"], "map_height": box["height"], "labels": labels,
            "label_px": min(label["px"] for label in labels), "overlaps": overlaps(labels),
            "outside": [label["text"] for label in labels if label["x"] < box["x"] or label["y"] < box["y"]
                        or label["x"] + label["width"] > box["x"] + box["width"]
                        or label["y"] + label["height"] > box["y"] + box["height"]],
            "sidebar_open": _sidebar_open(page), "map_top": first["top"], "map_bottom": first["bottom"], **wheel}


# The 3-D map's camera: its distance from the centre (the wheel zooms by changing it).
EYE_JS = """plot => { const e = plot._fullLayout.scene._scene.getCamera().eye;
    return Math.hypot(e.x, e.y, e.z); }"""
MAIN_SCROLL_JS = "() => document.querySelector('[data-testid=stMain]').scrollTop"


def wheel_over(page, plot) -> dict:
    """From the page's top, turn the mouse wheel over the 3-D plot's middle: how far the page scrolled, and the
    camera's distance before and after (a zoom changes it)."""
    def to_the_middle():
        page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
        page.wait_for_timeout(300)
        box = plot.bounding_box()
        return box["x"] + box["width"] / 2, min(box["y"] + box["height"] / 2, page.viewport_size["height"] - 50)

    page.mouse.move(*to_the_middle())
    eye, top = plot.evaluate(EYE_JS), page.evaluate(MAIN_SCROLL_JS)
    _turn_wheel(page)
    measured = {"wheel_scrolled_px": page.evaluate(MAIN_SCROLL_JS) - top, "eye_before": eye,
                "eye_after": plot.evaluate(EYE_JS)}
    page.mouse.click(*to_the_middle())  # then a click into the map, and the wheel again: it zooms
    _turn_wheel(page, -1)
    return {**measured, "eye_after_click": plot.evaluate(EYE_JS)}


def _turn_wheel(page, sign: int = 1) -> None:
    for _ in range(3):
        page.mouse.wheel(0, sign * 200)
        page.wait_for_timeout(200)
    page.wait_for_timeout(500)


def presenter_live(page, base: str, shot: Path | None = None) -> dict:
    """/live?present=1 as it opens: where its first chart is (page pixels)."""
    page.goto(f"{base}/live?present=1")
    page.locator(".st-key-pg_regions .js-plotly-plot").wait_for()
    settle(page)
    chart = page.locator("[data-testid=stMain] .js-plotly-plot").first.evaluate_all(PAGE_BOX_JS)
    _shot(page, shot)
    return {"first_chart_top": chart["top"], "first_chart_bottom": chart["bottom"],
            "screen": page.viewport_size["height"]}


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


# The page's explanations as the screen shows them (ui/presenter.explain draws each twice): in full, and folded.
EXPLANATIONS_JS = """() => Object.fromEntries(['explained_', 'explain_'].map(key => [key === 'explain_' ? 'folded' : 'full',
    [...document.querySelectorAll(`[data-testid=stMain] [class*="st-key-${key}"]`)]
        .filter(e => e.getClientRects().length).length]))"""


def explanations(page) -> dict:
    """How many explanations the page shows in full, and how many folded to a line (the page as it is)."""
    return page.evaluate(EXPLANATIONS_JS)


def tour_step(page, base: str, k: int, shot: Path | None = None, present: bool = False) -> dict:
    """The review tour opened at step k (a link): the bar's counter and the page it opened."""
    page.goto(f"{base}/?tour=review&step={k}" + ("&present=1" if present else ""))
    bar = page.locator(".st-key-tour_bar")
    bar.get_by_text(f"step {k} of").wait_for()
    settle(page)  # the step's page finishes its first results
    _shot(page, shot)
    return {"counter": bar.locator(".tour-count").inner_text(), "url": page.url,
            "say_px": bar.locator(".tour-say").evaluate(FONT_JS)}


# ---- a phone's first screen, every page ------------------------------------------------------------------------
# Each page with its example input, and its headline answer (the CSS selector of the element that says it; for the
# home page, the first example's card; for the live page, Part 1's Train button and its running test accuracy).
PHONE_HEADLINES = {
    "home": ("", ["[data-testid=stMain] [data-testid=stPageLink-NavLink] >> nth=0"]),
    "live": ("live", [".st-key-pg_train", "[data-testid=stMetric]:has-text('Test accuracy')"]),
    "digits": ("digits", ["[data-testid=stMain] [data-testid=stMarkdown] h3"]),
    "photos": ("photos", ["[data-testid=stMain] [data-testid=stMarkdown] h3"]),
    "faces": ("faces", ["[data-testid=stMain] [data-testid=stMarkdown] h3"]),
    "speech": ("speech", ["[data-testid=stMain] [data-testid=stMarkdown] h2"]),
    "translate": ("translate", ["[data-testid=stMain] .translation"]),
    "embeddings": ("embeddings?word=france", [".st-key-nearest"]),
}
# Where an element is on the page, in CSS pixels from the page's top (Streamlit scrolls stMain, not the window).
PAGE_BOX_JS = """els => { const top = document.querySelector('[data-testid=stMain]').scrollTop;
    const boxes = els.filter(e => e.getClientRects().length).map(e => e.getBoundingClientRect());
    return boxes.length ? {top: Math.min(...boxes.map(b => b.top)) + top,
                           bottom: Math.max(...boxes.map(b => b.bottom)) + top} : null; }"""
# Every chart title in the main area: cut by its chart's edge (or the screen's), or under a visible toolbar (shown
# or not is its display, not its opacity: a tap shows it).
TITLES_JS = """() => [...document.querySelectorAll('[data-testid=stMain] .js-plotly-plot')]
    .filter(p => p.getClientRects().length).flatMap(p => {
        const svg = p.querySelector('.main-svg').getBoundingClientRect();
        const bar = p.querySelector('.modebar');
        const shown = bar && bar.getClientRects().length && getComputedStyle(bar).visibility !== 'hidden';
        const b = shown ? bar.getBoundingClientRect() : null;
        return [...p.querySelectorAll('text.gtitle')].filter(t => t.textContent).map(t => {
            const r = t.getBoundingClientRect();
            const covered = !!b && b.width > 0 && Math.min(r.right, b.right) - Math.max(r.left, b.left) > 1
                && Math.min(r.bottom, b.bottom) - Math.max(r.top, b.top) > 1;
            return {text: t.textContent, clipped: r.left < svg.left - 0.5 || r.right > svg.right + 0.5
                    || r.right > innerWidth + 0.5, covered: covered};
        }); })"""
# How far the page scrolls sideways (the window, or Streamlit's scrolling main area).
SIDEWAYS_JS = """() => { const m = document.querySelector('[data-testid=stMain]');
    return Math.max(document.documentElement.scrollWidth - document.documentElement.clientWidth,
                    m.scrollWidth - m.clientWidth); }"""
UPLOAD_PHOTO = "coffee.png"  # skimage's sample image: a photo the examples don't show


def _open_phone(page, base: str, name: str, upload: bool) -> None:
    """Open `name` with its example input (the digit page: a 3 drawn; the photo page: `upload` a photo)."""
    path, headline = PHONE_HEADLINES[name]
    page.goto(f"{base}/{path}")
    if name == "digits":
        page.get_by_text("on the black square").wait_for()
        draw_digit(page, 3)
    if name == "photos" and upload:
        from importlib import resources

        page.locator("[data-testid=stMain] h3").first.wait_for()
        page.get_by_test_id("stMain").get_by_role("radio", name="Upload", exact=True).click()
        data = (resources.files("skimage") / "data" / UPLOAD_PHOTO).read_bytes()
        page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(
            files=[{"name": UPLOAD_PHOTO, "mimeType": "image/png", "buffer": data}])
        page.get_by_text(UPLOAD_PHOTO).wait_for()
    for part in headline:
        page.locator(part).first.wait_for()
    settle(page)
    page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
    page.wait_for_timeout(300)


def phone_page(page, base: str, name: str, upload: bool = False, shot: Path | None = None) -> dict:
    """A page of the registry on a phone, as it opens with its example input (scrolled back to the top): where its
    headline answer is (page pixels), its chart titles cut off or under the toolbar, how far it scrolls sideways;
    the live page also: where its first chart starts."""
    _open_phone(page, base, name, upload)
    boxes = [page.locator(part).first.evaluate_all(PAGE_BOX_JS) for part in PHONE_HEADLINES[name][1]]
    headline = {"top": min(b["top"] for b in boxes), "bottom": max(b["bottom"] for b in boxes)}
    titles = page.evaluate(TITLES_JS)
    _shot(page, shot)
    measured = {"page": name + (" (upload)" if upload else ""), "headline_top": headline["top"],
                "headline_bottom": headline["bottom"], "screen": page.viewport_size["height"],
                "clipped_titles": [t["text"] for t in titles if t["clipped"]],
                "covered_titles": [t["text"] for t in titles if t["covered"]], "titles": len(titles),
                "sideways_px": page.evaluate(SIDEWAYS_JS)}
    if name == "live":
        first = page.locator("[data-testid=stMain] .js-plotly-plot").evaluate_all(PAGE_BOX_JS)
        measured["first_chart_top"] = first["top"]
    return measured
