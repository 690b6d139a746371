"""Watch a network learn: the review's Figure 1 as a playground (Part 1), and a digit network trained live (Part 2)."""
import streamlit as st

from app_pages.learning import live_digits, playground

PARTS = {"Figure 1, to play with": playground.render, "Train a digit network": live_digits.render}

st.title("🧠 Watch a network learn")
st.markdown(
    "The review's central idea is **backpropagation**: a multilayer network, trained by the chain rule and "
    "stochastic gradient descent, learns its own representation. Every other page shows a network that "
    "finished learning long ago; here you watch it happen."
)
part = st.segmented_control("Part", list(PARTS), default=list(PARTS)[0], key="part", label_visibility="collapsed")
PARTS[part or list(PARTS)[0]]()
