"""Part 1 of the live page: the review's Figure 1, to play with (a small network trained on 2-D points)."""
import streamlit as st


def render() -> None:
    st.info("Part 1 is being built.")
