"""Translate a sentence: English -> French with an RNN encoder-decoder and attention."""
import html

import pandas as pd
import streamlit as st

from models import translate
from app_pages.figures.translate import attention_heatmap
from ui.card import curve_panels, model_card
from ui.loading import load_model
from ui import share, style
from ui.presenter import explain

EXAMPLES = [
    "I don't know what to do.",
    "The cat is sleeping on the sofa.",
    "A man in an orange hat is looking at something.",
    "Two children are playing football in the park.",
    "Could you help me carry these boxes, please?",
    "She has lived in Paris for ten years.",
]
BEAM_SIZES = [1, 2, 3, 5, 8, 10]
DEFAULT_BEAM = 5

model, meta = load_model(translate.NAME)

st.title("🌐 Translate a sentence")
explain(
    "A **recurrent encoder–decoder** reads your English sentence one subword at a time into a sequence of "
    "vectors, then writes French one subword at a time. At every step the decoder **attends**: it weighs the "
    "English words it needs now (Bahdanau, Cho & Bengio, 2015), the review's example of a network that reads, "
    "keeps the meaning, and writes it in another language. Trained here, from scratch, on "
    f"{meta['data']['train_pairs']:,} sentence pairs."
)
st.caption("It learned from short everyday sentences (Tatoeba) and photo captions (Multi30k): it does well on "
           "those, and goes wrong on long, technical or idiomatic text, names it never saw, and anything not English.")


def use_text(text: str | None) -> None:
    """A link's sentence into the box (None: the first example), its pill lit if it is another example."""
    st.session_state.sentence = EXAMPLES[0] if text is None else text
    st.session_state.example = text if text in EXAMPLES else None


# The URL's state (ui/share.py): ?text=...&beam=5
SHARE = share.View("translate", [
    share.Param("text", "sentence", share.text(translate.MAX_CHARS), default=EXAMPLES[0], apply=use_text),
    share.Param("beam", "beam", share.one_of(BEAM_SIZES), default=DEFAULT_BEAM),
])
SHARE.restore()
if "sentence" not in st.session_state:
    st.session_state.sentence = EXAMPLES[0]
st.session_state.setdefault("beam", DEFAULT_BEAM)


def use_example() -> None:
    if st.session_state.example:
        st.session_state.sentence = st.session_state.example


# The sentence and its translation, with the examples: on a phone the examples come after the French (style.last).
io = st.container()
io.container(key=style.last("examples")).pills("Examples", EXAMPLES, key="example", on_change=use_example)
left, right = io.columns([4, 1])
sentence = left.text_input("English sentence", key="sentence", placeholder="Type a sentence and press Enter")
beam = right.select_slider("Beam size", BEAM_SIZES, key="beam",
                           help="How many partial translations the decoder keeps at each step. 1 = greedy.")
SHARE.sync()


@st.cache_data(max_entries=2000, show_spinner=False)
def translated(sentence: str, beam: int) -> translate.Translation:
    """Shared by all viewers, in memory only: every new viewer opens on the same example, and a room of viewers
    tends to try the same sentences."""
    return model.translate(sentence, beam)


try:
    result = translated(sentence, beam) if sentence.strip() else None
except translate.InputError as error:
    st.warning(str(error), icon=":material/short_text:")
    result = None
if result is None and not sentence.strip():
    st.info("Type an English sentence above, or pick an example.", icon=":material/keyboard:")

if result is not None:
    with io:  # under the sentence
        # html.escape: whatever was typed (HTML, Markdown) is shown as text, never rendered
        if result.sure:
            st.markdown(f"<div class='translation' style='font-size:2rem;font-weight:600;line-height:1.3'>"
                        f"{html.escape(result.text) or '&nbsp;'}</div>", unsafe_allow_html=True)
        else:  # the answer is the doubt; the French is only a guess, in small type
            st.markdown("## Not sure what this says")
            st.warning(f"**Not sure.** Its best translation scores {result.candidates[0].score:.2f} per subword, "
                       f"below {translate.NOT_SURE_SCORE:.2f}, where about 1 real sentence in 100 falls: this may not "
                       "be English, or not a sentence like the everyday ones it learned from." + (
                           " It learned from sentences written out in full: try a capital letter, apostrophes and a "
                           "final full stop or question mark (“How are you?”, not “how are you”)."
                           if result.casual else ""), icon=":material/help:")
            st.markdown(f"<div class='translation-guess' style='font-size:1rem;opacity:0.75'>Best guess: "
                        f"{html.escape(result.text) or '&nbsp;'}</div>", unsafe_allow_html=True)
        notes = []
        if result.unknown:
            notes.append("Not in the vocabulary, read as an unknown token: " + " ".join(result.unknown))
        if result.truncated:
            notes.append(f"Only the first {translate.MAX_SOURCE_TOKENS - 1} subwords were read.")
        for note in notes:
            st.caption(note)

    tab_attention, tab_nbest = st.tabs(["Attention", f"{len(result.candidates)}-best list"])
    with tab_attention:
        st.plotly_chart(attention_heatmap(result.attention, result.source_tokens, result.target_tokens),
                        key="attention")
        st.caption("Each row is one French subword as it was written; its cells show where the decoder looked in "
                   "the English (each row sums to 1). ▁ marks the start of a word: rare words are split into "
                   "pieces, so no word is ever out of vocabulary. Word order that differs between the languages "
                   "shows up off the diagonal.")
    with tab_nbest:
        table = pd.DataFrame({
            "translation": [c.text for c in result.candidates],
            "log-probability per subword": [round(c.score, 3) for c in result.candidates],
        })
        st.dataframe(table, hide_index=True, width="stretch")
        st.caption("Beam search keeps the best partial translations at every step; finished ones are ranked by "
                   "their log-probability divided by their length (so short ones are not favoured). Closer to 0 = "
                   "more confident.")

# ---- model card -----------------------------------------------------------------------------
with st.expander("Model card", icon=":material/info:"):
    model_card(meta, translate.card_text(meta))
    st.plotly_chart(curve_panels(translate.NAME, meta["curve"], {"train_loss": "training loss (label-smoothed)",
                                                "val_tatoeba_bleu_greedy": "Tatoeba val BLEU (greedy)",
                                                "val_multi30k_bleu_greedy": "Multi30k val BLEU (greedy)"}),
                    key="curves")
    st.caption("English–French sentence pairs from the Tatoeba Project (https://tatoeba.org), contributors of Tatoeba, "
               "as compiled by www.manythings.org/anki; licensed CC BY 2.0 FR; normalised (NFKC, straight "
               "apostrophes) and split for this project. Multi30k (Elliott et al., 2016), captions of Flickr30k images, "
               "for research and educational use. Trained from scratch: no pretrained weights.")
