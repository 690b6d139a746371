"""Home: what the review says, and one card per example page."""
import streamlit as st

from app_pages.registry import EXAMPLES
from ui.loading import device_label, model_meta

st.title("🧠 Deep Learning Live")
st.markdown(
    """
An interactive companion to **“Deep learning”** by Yann LeCun, Yoshua Bengio and Geoffrey Hinton
(*Nature* 521, 436–444, 2015). Every model here was trained **from scratch** by this project's own
scripts; each page lets you try one and look inside it.

The review in a few lines:

- **Representation learning.** Deep networks learn their own features, layer by layer: edges,
  then motifs, then parts, then objects. No engineer designs them.
- **Backpropagation** computes how each of millions of weights should change to reduce the error,
  by the chain rule, from the output back to the input; stochastic gradient descent does the rest.
- **Convolutional networks** exploit local connections, shared weights, pooling and many layers,
  the properties of natural signals such as images and sound.
- **Recurrent networks** read sequences one element at a time and keep a state: speech, and
  language, where attention lets a decoder look back at the words it translates.
- **Distributed representations**: words become vectors, and similar words end up close.
"""
)

st.subheader("Try the examples")
columns = st.columns(3)
for i, example in enumerate(EXAMPLES):
    with columns[i % 3].container(border=True):
        st.page_link(example.page, label=f"**{example.title}**", icon=example.icon)
        st.write(example.summary)
        st.caption(f"Measured: {example.headline(model_meta(example.name))}  \nIn the review: {example.review}")

st.divider()
st.caption(f"Models run on: **{device_label()}**")
