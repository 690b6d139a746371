"""Watch a network learn: the review's Figure 1 as a playground (Part 1), and a digit network trained live (Part 2)."""
import streamlit as st

from app_pages.learning import live_digits, playground
from models import live
from ui.card import model_card
from ui.loading import model_meta

PARTS = {"Figure 1, to play with": playground.render, "Train a digit network": live_digits.render}

st.title("🧠 Watch a network learn")
st.markdown(
    "The review's central idea is **backpropagation**: a multilayer network, trained by the chain rule and "
    "stochastic gradient descent, learns its own representation. Every other page shows a network that "
    "finished learning long ago; here you watch it happen."
)
part = st.segmented_control("Part", list(PARTS), default=list(PARTS)[0], key="part", label_visibility="collapsed")
PARTS[part or list(PARTS)[0]]()

with st.expander("Model card", expanded=False):
    meta = model_meta(live.NAME)
    st.markdown("**Train a digit network** (Part 2): the networks are trained in the page, from random weights; "
                "what they reach, measured on this project's 2-core CPU:")
    model_card(meta, live.card_text(meta))
    st.caption("MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, CC BY-SA 3.0; its four official "
               "files ship with the app (assets/mnist). The 2-D data sets of Part 1 are generated in the page.")
