"""Watch a network learn: the review's Figure 1 as a playground (Part 1), and a digit network trained live (Part 2)."""
from dataclasses import replace

import streamlit as st

from app_pages.learning import live_digits, playground
from models import live
from ui.card import model_card
from ui.loading import model_meta
from ui import share
from ui.presenter import explain

PARTS = {"Figure 1, to play with": playground.render, "Train a digit network": live_digits.render}

st.title("🧠 Watch a network learn")
explain(
    "The review's central idea is **backpropagation**: a multilayer network, trained by the chain rule and "
    "stochastic gradient descent, learns its own representation. Every other page shows a network that "
    "finished learning long ago; here you watch it happen."
)

# The URL's state (ui/share.py): ?part=figure1 or digits, then the part's own (app_pages/learning/*.py's SHARE).
PART_NAMES = dict(zip(["figure1", "digits"], PARTS))
FIRST = list(PARTS)[0]


def showing(part: str):
    return lambda: (st.session_state.get("part") or FIRST) == PART_NAMES[part]


def restored(values: dict) -> None:
    """After a link or a return from another page: the playground's check, and Part 2 again while the viewer's
    digit network is still training and the link names no part (it went on while they looked at another page)."""
    playground.link_restored(values)
    run = st.session_state.get("live_run")
    if "part" not in values and run is not None and run.active:
        st.session_state["part"] = PART_NAMES["digits"]


SHARE = share.View("live", [
    share.Param("part", "part", share.one_of(PART_NAMES), write=share.name_of(PART_NAMES), default=FIRST),
    *[replace(param, active=showing("figure1")) for param in playground.SHARE],
    *[replace(param, active=showing("digits")) for param in live_digits.SHARE],
], on_restore=restored)
SHARE.restore()
st.session_state.setdefault("part", FIRST)
part = st.segmented_control("Part", list(PARTS), key="part", label_visibility="collapsed", required=True)
PARTS[part or FIRST]()
SHARE.sync()

with st.expander("Model card", expanded=False):
    meta = model_meta(live.NAME)
    st.markdown("**Train a digit network** (Part 2): the networks are trained in the page, from random weights; "
                "what they reach, measured on this project's 2-core CPU:")
    model_card(meta, live.card_text(meta))
    st.caption("MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, CC BY-SA 3.0; its four official "
               "files ship with the app (assets/mnist). The 2-D data sets of Part 1 are generated in the page.")
