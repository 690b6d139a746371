"""Presenter mode: every page made for a projector in a room (larger type, headline answers in very large type,
explanations folded to one line, the sidebar collapsed, charts across the full width, higher contrast).
Its CSS is PRESENTER_CSS, injected by ui/style.py while presenting.

On with `?present=1` (off with `?present=0`) or a switch: in the sidebar, and, while presenting, in the page's top
bar (the sidebar is collapsed then). The mode lives in st.session_state: navigating between pages drops the URL's
parameters, the session keeps it; while it is on, `present=1` is put back in the URL, so a copied link presents too.
Pages fold their explanations with `explain(text)`.
"""
from __future__ import annotations

import hashlib
import re

import streamlit as st

PARAM = "present"  # the URL parameter (with the tour's `tour` and `step`, this module's and ui/tour.py's own)
STATE = "presenting"  # st.session_state key: True while presenting
ON, OFF = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
SWITCH_KEYS = ("present_switch_sidebar", "present_switch_top")  # one switch per place, one state

BODY_PX = 24  # the root font size while presenting: body text, widgets and headings are sized in rem
ANSWER_PX = 56  # the pages' headline answers (markdown ##/###/#### headings, the translation)
ONE_LINE_CHARS = 120  # an explanation of one sentence longer than this is folded too (a line at 24 px, roughly)
MAP_HEIGHT_PX = 760  # the word map's height: most of a 1080-pixel screen below the page's controls

# Sentence ends: a stop (and any markup or quote closing there), a space and a capital (or markup opening one);
# not after these abbreviations.
_SENTENCE_END = re.compile(r"([.!?][*_”\")]*)\s+(?=[*_“\"(]*[A-Z0-9])")
_ABBREVIATIONS = ("e.g.", "i.e.", "Fig.", "al.", "vs.", "cf.", "approx.")


def arrive() -> bool:
    """Take in `?present=` (whatever page the URL opened) and put the mode back into the URL; True while presenting.
    Called by app.py on every run, before set_page_config, which collapses the sidebar while presenting."""
    value = str(st.query_params.get(PARAM, "")).strip().lower()
    if value in ON:
        st.session_state[STATE] = True
    elif value in OFF:
        st.session_state[STATE] = False
    presenting = st.session_state.setdefault(STATE, False)
    _sync_url(presenting)
    return presenting


def presenting() -> bool:
    return bool(st.session_state.get(STATE, False))


def _sync_url(on: bool) -> None:
    if on and st.query_params.get(PARAM) != "1":
        st.query_params[PARAM] = "1"
    elif not on and PARAM in st.query_params:
        del st.query_params[PARAM]


def _switched(key: str) -> None:
    """A switch was flipped: the mode follows it, and so does the URL (callbacks run before the script)."""
    st.session_state[STATE] = bool(st.session_state[key])
    _sync_url(st.session_state[STATE])


def switch(where: str = "sidebar") -> None:
    """The presenter switch; `where`: "sidebar", or "top" (fixed in the page's top bar, reachable with the sidebar
    collapsed). Each place has its own widget; both show the one state."""
    key = SWITCH_KEYS[0] if where == "sidebar" else SWITCH_KEYS[1]
    st.session_state[key] = presenting()  # before the widget: the other switch may have changed the mode
    container = st.sidebar if where == "sidebar" else st.container(key="present_top")
    container.toggle("Presenter mode", key=key, on_change=_switched, args=(key,),
                     help="For a projector: larger type, explanations folded, the sidebar collapsed. "
                          "Also from the URL: ?present=1.")


def explain(text: str, label: str | None = None, caption: bool = False) -> None:
    """A page's explanation: in full; while presenting, folded to its first sentence (a one-line expander that
    opens on the rest). On a phone too (ui/style.py's PHONE_FOLD_CSS shows the folded copy there, the full one
    elsewhere): the page's input and answer then fit its first screen. `label`: the folded line, if not the first
    sentence (the whole text then opens); `caption`: in a caption's small type. Not inside an expander (Streamlit
    does not nest them)."""
    write = st.caption if caption else st.markdown
    first, rest = (label, text) if label else first_sentence(text)
    if not label and not rest and len(text) <= ONE_LINE_CHARS:
        write(text)
        return
    digest = hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
    if not presenting():
        with st.container(key="explained_" + digest):  # in full: hidden on a phone
            write(text)
    with st.expander(first, key="explain_" + digest):  # one line (PRESENTER_CSS), however long the sentence
        write(rest or text)  # a single long sentence: in full when opened


def first_sentence(text: str) -> tuple[str, str]:
    """(the first sentence, the rest) of a markdown paragraph; the rest is "" when there is one sentence. A split
    that would leave bold or italics open is skipped (the label would show stray asterisks)."""
    text = text.strip()
    for match in _SENTENCE_END.finditer(text):
        head = text[:match.end(1)]
        if head.endswith(_ABBREVIATIONS) or head.count("**") % 2 or (head.count("*") - 2 * head.count("**")) % 2:
            continue
        return head, text[match.end():]
    return text, ""


# Selectors: Streamlit's data-testid attributes and the st-key-KEY classes of keyed containers. !important:
# Streamlit's own rules are emotion classes of equal or higher specificity.
PRESENTER_CSS = f"""
html {{ font-size: {BODY_PX}px !important; }}
/* Higher contrast: black text, captions no longer faded. */
[data-testid="stMain"] :is(p, li, label, summary) {{ color: #000; }}
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {{ color: #1f2933 !important; opacity: 1; }}
/* Labels, folded explanations and buttons in the body's size too (Streamlit draws them smaller). */
[data-testid="stMain"] :is([data-testid="stWidgetLabel"], summary, button) p {{ font-size: 1rem !important; }}
[data-testid="stMain"] [data-baseweb="select"] {{ font-size: 1rem; }}
/* The pages' headline answers: headings written in st.markdown (st.subheader's are stHeading: not answers). */
[data-testid="stMain"] [data-testid="stMarkdown"] :is(h2, h3, h4),
[data-testid="stMain"] .translation {{ font-size: {ANSWER_PX}px !important; line-height: 1.2 !important; }}
[data-testid="stMain"] [data-testid="stMarkdown"] :is(h2, h3, h4) {{ padding: 0.2em 0 0.1em; }}
/* The whole width for the page (and its charts): no centred column, narrow margins. */
[data-testid="stMainBlockContainer"] {{ max-width: 100% !important; padding-left: 1.5rem !important;
  padding-right: 1.5rem !important; }}
/* Explanations folded to one line. */
[class*="st-key-explain_"] summary :is(p, span) {{ white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
[class*="st-key-explain_"] summary {{ font-size: 1rem; }}
/* Less room above the page (the word map starts in the first screen), a title smaller than 2.75rem. */
[data-testid="stMainBlockContainer"] {{ padding-top: 4.5rem !important; }}
[data-testid="stMain"] h1 {{ font-size: 2.2rem; }}
/* The share control, in the top bar left of the presenter switch (out of the page's flow). */
[data-testid="stLayoutWrapper"]:has(> .st-key-share_box) {{ position: fixed; top: 0.35rem; right: 16.5rem;
  z-index: 1000001; width: auto !important; }}
/* The presenter switch, in the top bar next to Streamlit's menu. */
.st-key-present_top {{ position: fixed; top: 0.35rem; right: 4.5rem; z-index: 1000001; width: auto !important;
  background: rgba(255, 255, 255, 0.9); border-radius: 0.5rem; padding: 0 0.4rem; }}
.st-key-present_top label p {{ font-size: 0.75rem; }}
"""
