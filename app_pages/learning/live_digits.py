"""Part 2 of the live page: a digit network trained in the page, then compared with the shipped one."""
import streamlit as st


def render() -> None:
    st.info("Part 2 is being built.")
