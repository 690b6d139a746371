"""Deep Learning Live: page config and navigation, nothing else (the examples are listed in app_pages/registry.py)."""
import streamlit as st

from app_pages.registry import sections

st.set_page_config(page_title="Deep Learning Live", page_icon="🧠", layout="wide")

# The folder is app_pages/, not pages/: Streamlit would also auto-discover a pages/ folder and, on a fresh
# server opened at a deep link such as /digits, show that folder's navigation instead.
pages = {"": [st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True)]}
for section, examples in sections().items():
    pages[section] = [st.Page(e.page, title=e.title, icon=e.icon) for e in examples]
st.navigation(pages).run()
