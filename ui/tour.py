"""Guided tours: a sequence of steps through the pages, each a page, its state (the URL parameters the page reads)
and one sentence for the presenter to say, tied to one of the review's ideas. One JSON file per tour in
assets/tours/ (NAME.json: a title and its steps), so a presenter can write another without touching code.

`?tour=NAME&step=K` (or `tour=1`, the default tour) starts a tour at step K, on any page; while it runs, app.py
shows the tour's bar at the top of every page (step k of n, the sentence, Back / Next / End). A step is opened
with st.switch_page and the step's parameters; the tour's own place lives in st.session_state (navigating drops
the URL's parameters) and is written back to the URL as `tour` and `step` on the step's page.
"""
from __future__ import annotations

import functools
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from ui import presenter

TOURS_DIR = Path(__file__).resolve().parents[1] / "assets" / "tours"
DEFAULT = "review"
TOUR_PARAM, STEP_PARAM = "tour", "step"
DEFAULT_ALIASES = {"1", "true", "yes", "on", ""}  # ?tour=1: the default tour
NAME = re.compile(r"[a-z0-9_-]{1,40}")  # a tour's name, its file's stem: nothing else is ever opened
HOME = "home"  # a step's page: "home", or an example's name in app_pages/registry.py
IDEAS = ("representation learning", "backpropagation", "convolutional networks", "recurrent networks and attention",
         "distributed representations")
STATE, STEP_STATE, NOTE_STATE, SEEN_STATE = "tour", "tour_step", "tour_note", "tour_url"


@dataclass(frozen=True)
class Step:
    page: str
    params: dict[str, str]
    say: str
    idea: str

    @property
    def path(self) -> str:
        """The page's script, as st.switch_page and st.navigation know it."""
        return f"app_pages/{self.page}.py"

    @property
    def url_path(self) -> str:
        """The page's URL path, as st.navigation's page has it: "" for the home page (the default)."""
        return "" if self.page == HOME else self.page


@dataclass(frozen=True)
class Tour:
    name: str
    title: str
    steps: tuple[Step, ...]


def names() -> list[str]:
    return sorted(p.stem for p in TOURS_DIR.glob("*.json") if NAME.fullmatch(p.stem))


@functools.lru_cache(maxsize=16)
def load(name: str) -> Tour:
    """The tour in assets/tours/NAME.json. KeyError: no such tour (the name is checked before any file is read)."""
    if name not in names():
        raise KeyError(name)
    data = json.loads((TOURS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    steps = tuple(Step(s["page"], {k: str(v) for k, v in s.get("params", {}).items()}, s["say"], s["idea"])
                  for s in data["steps"])
    return Tour(name, data["title"], steps)


def current() -> tuple[Tour, int] | None:
    """(the running tour, its step from 1), or None."""
    name = st.session_state.get(STATE)
    if name is None:
        return None
    try:
        tour = load(name)
    except (KeyError, OSError, ValueError):
        st.session_state[STATE] = None
        return None
    return tour, min(max(int(st.session_state.get(STEP_STATE, 1)), 1), len(tour.steps))


def _shown(value: str) -> str:
    """A URL value fit to quote in a note: short and plain, else not quoted at all."""
    return f"“{value}”" if re.fullmatch(r"[\w .-]{1,40}", value) else "given"


def parse(tour_value: str | None, step_value: str | None) -> tuple[str | None, int, str | None]:
    """URL values -> (tour name or None, step from 1, a note for the viewer or None). Never raises."""
    raw = (tour_value or "").strip().lower()
    name = DEFAULT if raw in DEFAULT_ALIASES else raw
    if not NAME.fullmatch(name) or name not in names():
        return None, 1, (f"There is no tour {_shown(raw)}: the tours are " + ", ".join(f"“{n}”" for n in names())
                         + f". Try ?tour={DEFAULT}&step=1.")
    steps = len(load(name).steps)
    text = (step_value or "1").strip()
    if re.fullmatch(r"[0-9]{1,4}", text) and 1 <= int(text) <= steps:  # ASCII digits ("³".isdigit() too)
        return name, int(text), None
    return name, 1, f"The {_shown(text)} step is not one of this tour's (1 to {steps}): starting at step 1."


def arrive(here: str) -> None:
    """Take in `?tour=&step=` when the URL brings them (a link, the browser's Back), and open that step's page
    if this is not it, with the step's state. `here`: the current page's URL path (st.navigation's page)."""
    if TOUR_PARAM not in st.query_params:
        return
    seen = (st.query_params.get(TOUR_PARAM), st.query_params.get(STEP_PARAM))
    name, k, note = parse(*seen)
    if note:
        st.session_state[NOTE_STATE] = note
    if name is None:
        del st.query_params[TOUR_PARAM]
        st.query_params.pop(STEP_PARAM, None)
        return
    if (name, k) == (st.session_state.get(STATE), st.session_state.get(STEP_STATE)) and not note:
        return  # already there (the URL this app wrote when it opened the step)
    st.session_state[STATE], st.session_state[STEP_STATE] = name, k
    step = load(name).steps[k - 1]
    if here != step.url_path or any(st.query_params.get(p) != v for p, v in step.params.items()) or note:
        go(name, k)


def go(name: str, k: int) -> None:
    """Open step k of tour `name`: its page, with its parameters (and the tour's, and presenter mode's)."""
    step = load(name).steps[k - 1]
    st.session_state[STATE], st.session_state[STEP_STATE] = name, k
    params = {**step.params, TOUR_PARAM: name, STEP_PARAM: str(k)}
    if presenter.presenting():
        params[presenter.PARAM] = "1"
    st.switch_page(step.path, query_params=params)


def end() -> None:
    st.session_state[STATE] = None
    for param in (TOUR_PARAM, STEP_PARAM):
        st.query_params.pop(param, None)


def bar(here: str) -> None:
    """The running tour's bar, at the top of the page: step k of n, the review's idea, the sentence to say, and
    Back / Next / End. `here`: the current page's URL path."""
    note = st.session_state.pop(NOTE_STATE, None)
    running = current()
    if running is None:
        if note:
            st.warning(note, icon=":material/tour:")
        return
    tour, k = running
    step, n = tour.steps[k - 1], len(tour.steps)
    if here == step.url_path:  # back in the URL (a rerun may have rewritten it): a reload stays on the step
        for param, value in ((TOUR_PARAM, tour.name), (STEP_PARAM, str(k))):
            if st.query_params.get(param) != value:
                st.query_params[param] = value
    with st.container(border=True, key="tour_bar"):
        if note:
            st.caption(note)
        text, buttons = st.columns([5, 2], vertical_alignment="center")
        with text:
            st.markdown(f"<div class='tour-count'>{html.escape(tour.title)} · <b>step {k} of {n}</b> · "
                        f"{html.escape(step.idea)}</div>"
                        f"<div class='tour-say'>{html.escape(step.say)}</div>", unsafe_allow_html=True)
            if here != step.url_path:
                st.caption("This page is not the step's: Back or Next go on from the step.")
        with buttons.container(horizontal=True, horizontal_alignment="right"):
            back = st.button("Back", key="tour_back", icon=":material/arrow_back:", disabled=k == 1)
            forward = st.button("Next", key="tour_next", icon=":material/arrow_forward:", type="primary",
                                disabled=k == n)
            stop = st.button("End", key="tour_end", icon=":material/close:")
    if back:
        go(tour.name, k - 1)
    elif forward:
        go(tour.name, k + 1)
    elif stop:
        end()
        st.rerun()


def problems(tour: Tour) -> list[str]:
    """What is wrong with a tour's data (empty: nothing): unknown pages, ideas, parameters or values. The pages'
    parameters are the ones their URL state uses (page_params()), each with the values it accepts."""
    from app_pages.registry import EXAMPLES

    pages = {HOME} | {e.name for e in EXAMPLES}
    found = [] if tour.title.strip() else ["no title"]
    found += [] if 3 <= len(tour.steps) <= 30 else [f"{len(tour.steps)} steps"]
    checks = page_params()
    for k, step in enumerate(tour.steps, start=1):
        where = f"step {k} ({step.page})"
        if step.page not in pages:
            found.append(f"{where}: no such page")
            continue
        if step.idea not in IDEAS:
            found.append(f"{where}: idea {step.idea!r} is not one of {IDEAS}")
        if not step.say.strip() or len(step.say) > 200:
            found.append(f"{where}: the sentence to say must be one sentence (1-200 characters)")
        known = checks.get(step.page, {})  # a page this list does not know yet: no parameters
        for param, value in step.params.items():
            if param not in known:
                found.append(f"{where}: the page has no parameter {param!r}")
            elif not known[param](value):
                found.append(f"{where}: {param}={value!r} is not a value the page accepts")
    return found


def page_params() -> dict[str, dict]:
    """Each page's URL parameters (the names the pages' URL state uses) -> a check of a value. The page scripts
    declare theirs inside themselves (importing one runs it): a fixed list here, kept with the values of their
    constants (translate's BEAM_SIZES, embeddings' SIZES, speech's example names). The live page's two parts
    declare theirs in importable modules (app_pages/learning/*.py's SHARE): those are used as declared."""
    from app_pages.learning import live_digits, playground
    from models import live, photos

    def one_of(values):
        return lambda value: value in {str(v) for v in values}

    def parses(parse):
        def check(value: str) -> bool:
            try:
                parse(value)
            except Exception:  # noqa: BLE001 - whatever a page's parser raises, the value is not one it takes
                return False
            return True
        return check

    def slug(name: str) -> str:  # a preset's name as the URL writes it: "Spirals, 2×8 tanh" -> spirals-2x8-tanh
        return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("×", "x")).strip("-")

    checks = {
        HOME: {},
        "digits": {"pen": lambda v: v.isdigit() and 5 <= int(v) <= 40},
        "photos": {"example": one_of(["chelsea", "horse", "rocket", "astronaut"]), "cam": one_of(photos.CLASSES)},
        "speech": {"example": one_of(["pin", "phone", "three", "silence"])},
        "faces": {"person": one_of(range(30, 40)), "gallery": one_of(range(1, 11)), "photo": one_of(range(1, 11)),
                  "map": one_of(["pca", "tsne"])},
        "translate": {"text": lambda v: 0 < len(v.strip()) <= 500, "beam": one_of([1, 2, 3, 5, 8, 10])},
        "embeddings": {"word": lambda v: v.isascii() and v.isalpha() and v.islower(),
                       "words": one_of([500, 1000, 2000, 5000]), "map": one_of(["pca", "tsne"])},
        "live": {"part": one_of(["figure1", "digits"]),
                 "preset": one_of([*playground.pg.PRESETS, *map(slug, playground.pg.PRESETS)]),
                 "net": one_of(live.PRESETS), "seconds": one_of(live_digits.BUDGETS)},
    }
    for param in [*getattr(playground, "SHARE", []), *getattr(live_digits, "SHARE", [])]:
        checks["live"][param.name] = parses(param.parse)
    return checks
