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
}}
"""


def inject() -> None:
    """One style-only st.html (it takes no room on the page)."""
    css = BASE_CSS + (presenter.PRESENTER_CSS if presenter.presenting() else "")
    st.html(f"<style>{css}</style>")
