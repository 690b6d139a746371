"""The app's own CSS, injected by app.py on every page: the tour's bar, phones, and presenter mode's rules while
it is on (ui/presenter.py). Selectors use Streamlit's data-testid attributes and the st-key-KEY classes that
keyed elements get, never its generated class names (they change between releases)."""
from __future__ import annotations

import streamlit as st

from ui import presenter

PHONE_MAX_PX = 640  # Streamlit stacks columns below this width: the phone rules apply there too

BASE_CSS = f"""
.tour-count {{ font-size: 0.85rem; color: #3e4c59; }}
.tour-say {{ font-size: 1.3rem; font-weight: 600; line-height: 1.35; color: #000; margin-top: 0.15rem; }}
/* The tour's bar stays in view while the page scrolls (not on phones: it would take a third of the screen). */
@media (min-width: {PHONE_MAX_PX + 1}px) {{
  .st-key-tour_bar {{ position: sticky; top: 3.75rem; z-index: 999990; background: #fff; }}
}}
/* Phones: less room above the page (Streamlit's 6rem is for a desktop), a smaller title, and stacked columns
   closer together, so that the digit page's answer, right after the canvas, shows without scrolling. */
@media (max-width: {PHONE_MAX_PX}px) {{
  [data-testid="stMainBlockContainer"] {{ padding-top: 4.25rem; }}
  [data-testid="stMain"] h1 {{ font-size: 2.2rem; }}
  [data-testid="stHorizontalBlock"] {{ row-gap: 1rem; }}
  /* Plotly's toolbar shows on a touch screen without hover, over the charts' titles: none on a phone (pinch and
     drag still zoom and pan). Titles in smaller type: one drawn for a wide chart fits the phone's width. */
  .js-plotly-plot .modebar-container {{ display: none !important; }}
  .js-plotly-plot text.gtitle {{ font-size: 13px !important; }}
  /* A phone in a room: its line in small type, so that the page's answer stays on the first screen */
  .st-key-room_banner {{ padding: 0.35rem 0.6rem; gap: 0.4rem; }}
  .st-key-room_banner p {{ font-size: 0.78rem; line-height: 1.3; }}
  .st-key-room_banner button {{ min-height: 2rem; padding: 0.1rem 0.5rem; }}
}}
"""


def keyed(prefix: str) -> str:
    """A selector of the outermost box of the elements (or containers) whose key starts with `prefix`: the one to
    hide or reorder (a container's st-key class is on its block, inside a layout wrapper; an expander's on its layout
    wrapper; an element's on its own element container)."""
    key = f'[class*="st-key-{prefix}"]'
    return (f'[data-testid="stLayoutWrapper"]:has(> {key}), [data-testid="stElementContainer"]:has(> {key}), '
            f'[data-testid="stElementContainer"]{key}, [data-testid="stLayoutWrapper"]{key}')


def first(key: str) -> str:
    """A container's key that puts it first among its container's elements on a phone and in presenter mode (the
    page's input and answer before the rest)."""
    return f"reorder_first_{key}"


def last(key: str) -> str:
    """A container's key that puts it after the rest of its container's elements on a phone and in presenter mode."""
    return f"reorder_last_{key}"


def fragment_first(key: str) -> str:
    """As first(), for a container at the top of an st.fragment: the whole fragment goes first (Streamlit draws a
    fragment's elements in a block of its own)."""
    return f"reorder_fragment_{key}"


_FRAGMENT = ('[data-testid="stLayoutWrapper"]:has(> [data-testid="stVerticalBlock"] > [data-testid="stLayoutWrapper"]'
             ' > [class*="st-key-reorder_fragment_"])')
REORDER_CSS = (f'{keyed("reorder_first_")}, {_FRAGMENT} {{ order: -1; }} '
               f'{keyed("reorder_last_")} {{ order: 1; }}')

# Phones: each explanation folded to one line, as presenter mode folds it (ui/presenter.explain draws it twice:
# in full, and folded); wider screens show it in full. Not while presenting: there, only the folded one is drawn.
PHONE_FOLD_CSS = f"""
@media (min-width: {PHONE_MAX_PX + 1}px) {{ {keyed("explain_")} {{ display: none; }} }}
@media (max-width: {PHONE_MAX_PX}px) {{
  {REORDER_CSS}
  {keyed("explained_")} {{ display: none; }}
  [class*="st-key-explain_"] summary :is(p, span) {{ white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
}}
"""


# A wheel over a 3-D chart (the word map) scrolls the page until the chart is clicked: Plotly's camera takes every
# wheel turn over it (a room's presenter scrolling past turned the map into a dot). Clicked, the wheel zooms it, until
# the pointer leaves it. The event is stopped before it reaches the chart, in the capture phase, not cancelled: the
# browser still scrolls.
WHEEL_JS = """(() => {
  if (window.dllWheel) return;
  window.dllWheel = true;
  const chart = e => e.target.closest && e.target.closest('.js-plotly-plot');
  window.addEventListener('wheel', e => {
    const plot = chart(e);
    if (plot && plot.querySelector('.gl-container') && plot.dataset.wheel !== 'zoom') e.stopPropagation();
  }, {capture: true, passive: true});
  window.addEventListener('pointerdown', e => { const plot = chart(e); if (plot) plot.dataset.wheel = 'zoom'; }, true);
  window.addEventListener('pointerover', e => {
    const plot = chart(e);
    document.querySelectorAll('.js-plotly-plot[data-wheel=zoom]').forEach(p => { if (p !== plot) delete p.dataset.wheel; });
  }, true);
})();"""
# The script's own box takes no room either (Streamlit keeps one for it in the page's column).
SCRIPT_CSS = '[data-testid="stElementContainer"]:has(> [data-testid="stHtml"] > script:only-child) { display: none; }'


def inject() -> None:
    """A style-only st.html (it takes no room on the page), and the wheel's script."""
    css = BASE_CSS + SCRIPT_CSS + (presenter.PRESENTER_CSS + REORDER_CSS if presenter.presenting() else PHONE_FOLD_CSS)
    st.html(f"<style>{css}</style>")
    st.html(f"<script>{WHEEL_JS}</script>", unsafe_allow_javascript=True)
