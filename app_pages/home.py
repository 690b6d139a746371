"""Home: what the review says, and one card per example page."""
import streamlit as st

from app_pages.registry import sections
from ui.loading import device_label, model_meta
from ui.presenter import explain

CARDS_PER_ROW = 3

st.title("🧠 Deep Learning Live")
explain(
    "An interactive companion to **“Deep learning”** by Yann LeCun, Yoshua Bengio and Geoffrey Hinton "
    "(*Nature* 521, 436–444, 2015). Every model here was trained **from scratch** by this project's own "
    "scripts; each page lets you try one and look inside it."
)
explain(  # folded on a phone and in presenter mode: the examples' cards then start on the first screen
    """
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
""", label="The review in a few lines")

st.subheader("Try the examples")
# In the sidebar's order, one row of columns at a time: on a phone, where columns stack, the cards then keep that
# order (columns filled one after the other would stack as the first column's cards, then the second's).
ordered = [example for examples in sections().values() for example in examples]
for row in range(0, len(ordered), CARDS_PER_ROW):
    for column, example in zip(st.columns(CARDS_PER_ROW), ordered[row:row + CARDS_PER_ROW]):
        with column.container(border=True, height="stretch"):
            st.page_link(example.page, label=f"**{example.title}**", icon=example.icon)
            st.write(example.summary)
            st.caption(f"Measured: {example.headline(model_meta(example.name))}  \nIn the review: {example.review}")

st.divider()
st.caption(f"Models run on: **{device_label()}**")
