"""Deep Learning Live: page config and navigation, nothing else."""
import streamlit as st

st.set_page_config(page_title="Deep Learning Live", page_icon="🧠", layout="wide")

# Only pages that exist are listed: each section grows as its models land.
# The folder is app_pages/, not pages/: Streamlit would also auto-discover pages/ and, on a
# fresh server opened at a deep link such as /digits, show that folder's navigation instead.
pages = {
    "": [st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True)],
    "Vision": [
        st.Page("app_pages/digits.py", title="Draw a digit", icon=":material/draw:"),
        st.Page("app_pages/photos.py", title="Upload a photo", icon=":material/photo_camera:"),
    ],
    "Speech and language": [
        st.Page("app_pages/speech.py", title="Record speech", icon=":material/mic:"),
        st.Page("app_pages/translate.py", title="Translate a sentence", icon=":material/translate:"),
        st.Page("app_pages/embeddings.py", title="Explore word embeddings", icon=":material/scatter_plot:"),
    ],
}
st.navigation(pages).run()
