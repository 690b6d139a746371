"""Home: what the review says, and one card per example page."""
import streamlit as st

from ui import device_label, model_meta

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
digits_metrics = model_meta("digits")["metrics"]
photos_metrics = model_meta("photos")["metrics"]
embeddings_metrics = model_meta("embeddings")["metrics"]
speech_meta = model_meta("speech")
speech_held_out = speech_meta.get("held_out_speakers", {})
translate_metrics = model_meta("translate").get("metrics", {})
# (page, title, icon, what it shows, the review's section, measured result)
EXAMPLES = [
    ("app_pages/digits.py", "Draw a digit", ":material/draw:",
     "A convolutional network trained with backpropagation on MNIST reads your handwriting, "
     "and shows the feature maps of each layer.", "Backpropagation; convolutional neural networks",
     f"{digits_metrics['test_accuracy']:.2%} on the {digits_metrics['test_images']:,} MNIST test digits"),
    ("app_pages/photos.py", "Upload a photo", ":material/photo_camera:",
     "A CNN trained from scratch on CIFAR-10 names the object in your photo, and Grad-CAM shows where "
     "it found the evidence.", "Convolutional neural networks; image understanding",
     f"{photos_metrics['test_accuracy_tta']:.2%} on the {photos_metrics['test_images']:,} CIFAR-10 test photos"),
    ("app_pages/speech.py", "Record speech", ":material/mic:",
     "Say a string of digits: a recurrent network trained with CTC transcribes it and shows, frame by frame, "
     "where it heard each digit. Teach it your voice in a few seconds.", "Recurrent neural networks; speech recognition",
     (f"{sum(r['string_digit_error_rate'] for r in speech_held_out.values()) / len(speech_held_out):.1%} digit errors "
      f"on voices it never heard (mean of {len(speech_held_out)} held-out speakers)") if speech_held_out else
     f"{speech_meta['metrics']['single_digit_accuracy']:.1%} of FSDD test digits"),
    ("app_pages/translate.py", "Translate a sentence", ":material/translate:",
     "An English sentence goes into a recurrent encoder–decoder and comes out in French; the attention "
     "map shows which English words it looked at for each French word.", "Recurrent neural networks; machine translation",
     (f"BLEU {translate_metrics['tatoeba']['beam5']['bleu']:.1f} on held-out Tatoeba sentences, "
      f"{translate_metrics['multi30k']['beam5']['bleu']:.1f} on Multi30k test 2016") if translate_metrics else "not scored yet"),
    ("app_pages/embeddings.py", "Explore word embeddings", ":material/scatter_plot:",
     "Skip-gram word vectors learned from 22 million words of Wikipedia and books, in a 3D map you can "
     "rotate and search, with vector arithmetic (king − man + woman).", "Distributed representations and language processing",
     f"WordSim-353 ρ = {embeddings_metrics['wordsim353_spearman']:.3f}, analogies "
     f"{embeddings_metrics['analogy_accuracy']:.1%}"),
]
columns = st.columns(3)
for i, (page, title, icon, text, section, result) in enumerate(EXAMPLES):
    with columns[i % 3].container(border=True):
        st.page_link(page, label=f"**{title}**", icon=icon)
        st.write(text)
        st.caption(f"Measured: {result}  \nIn the review: {section}")

st.divider()
st.caption(f"Models run on: **{device_label()}**")
