"""Explore word embeddings: skip-gram vectors trained from scratch, in an interactive 3D map."""
import streamlit as st

from models import embeddings
from models.embeddings import DEFAULT_PERPLEXITY, UnknownWordError
from app_pages.figures.embeddings import word_map
from ui.card import curve_panels, model_card
from ui.charts import score_bars
from ui.loading import load_model
from ui import share
from ui.presenter import MAP_HEIGHT_PX, explain, presenting

SIZES = [500, 1000, 2000, 5000]
DEFAULT_SIZE = 1000
PERPLEXITIES = [5, 10, 20, 30, 50]
NEIGHBOURS = 10
EXAMPLE_WORDS = ["france", "king", "three", "music", "blue", "dog", "walked"]
# (a, b, c): a is to b as c is to ?
EXAMPLE_ANALOGIES = {
    "king − man + woman": ("man", "king", "woman"),
    "paris − france + italy": ("france", "paris", "italy"),
    "walking − walk + swim": ("walk", "walking", "swim"),
    "bigger − big + small": ("big", "bigger", "small"),
}
MAX_QUERY_CHARS = 100

emb, meta = load_model(embeddings.NAME)

st.title("🔤 Explore word embeddings")
# For a room (presenter mode) the map comes first, across the whole width and most of the screen's height; the
# explanation, the controls, then the neighbours' bars, under it.
room = presenting()
map_slot = st.container() if room else None
explain(
    "Each word becomes a vector of "
    f"{meta['config']['dim']} numbers, learned by a **skip-gram** network (Mikolov et al., 2013) that reads "
    f"{meta['corpus_tokens_all'] / 1e6:.0f} million words of Wikipedia and books and learns to predict the words "
    "around each word. Nobody tells it what words mean, yet words used alike end up close together: the review's "
    "*distributed representations* (its Figure 4 is a map like this one). Rotate, zoom, hover: each dot is a word."
)


@st.cache_data(show_spinner="Clustering…")
def clusters(n: int, k: int):
    return emb.clusters(n, k)


# A search ranks all 60,000 words (~10 ms of CPU, every run of the page): a room asks the same few words, and every
# viewer's page shows the same example analogy, so each answer is computed once per server.
@st.cache_data(max_entries=2048, show_spinner=False)
def nearest(word: str, k: int) -> list[tuple[str, float]]:
    return emb.nearest(word, k)


@st.cache_data(max_entries=2048, show_spinner=False)
def analogy(a: str, b: str, c: str, k: int) -> list[tuple[str, float]]:
    return emb.analogy(a, b, c, k)


def coordinates(n: int, method: str, perplexity: float):
    """The map's coordinates; a t-SNE never computed in this server yet shows its progress (the model keeps it)."""
    if not emb.needs_computation(n, method, perplexity):
        return emb.view(n, method, perplexity)
    label = f"Computing t-SNE of {n:,} words, perplexity {perplexity:g}"
    bar = st.progress(0.0, text=label + "…")

    def progress(i: int, total: int) -> None:
        if i % 10 == 0 or i == total:
            bar.progress(i / total, text=f"{label}: iteration {i}/{total}")

    xyz = emb.view(n, method, perplexity, progress=progress)
    bar.empty()
    return xyz


def word_query(text: str):
    """The word to look up, or None with a message on the page."""
    words = embeddings.tokenize(text[:MAX_QUERY_CHARS])
    if not words:
        if text.strip():
            st.warning("Type a word made of letters (a–z): that is how the corpus was split into words.")
        return None
    if len(words) > 1:
        st.info(f"One word at a time: showing **{words[0]}** (the first of {len(words)}).")
    return words[0]


def analogy_key(box: str) -> str:
    """The key of an analogy box ("a", "b" or "c") of the example shown (as below)."""
    return f"{box}_{st.session_state.get('analogy_example') or list(EXAMPLE_ANALOGIES)[0]}"


def analogy_restored(values: dict) -> None:
    """A link's analogy words: the example they are, if one is (else the first example's boxes take them)."""
    first = list(EXAMPLE_ANALOGIES)[0]
    words = tuple(values.get(box, default) for box, default in zip("abc", EXAMPLE_ANALOGIES[first]))
    example = next((name for name, triple in EXAMPLE_ANALOGIES.items() if triple == words), first)
    st.session_state.analogy_example = example
    for box, word in zip("abc", words):
        st.session_state[analogy_key(box)] = word


def use_word() -> None:
    if st.session_state.example_word:
        st.session_state.query = st.session_state.example_word


MAPS = {"tsne": "t-SNE", "pca": "PCA"}
# The URL's state (ui/share.py): ?word=king&words=2000&map=pca, and the analogy's words ?a=man&b=king&c=woman
SHARE = share.View("embeddings", [
    share.Param("word", "query", share.text(MAX_QUERY_CHARS), default=""),
    share.Param("words", "words", share.one_of(SIZES), default=DEFAULT_SIZE),
    share.Param("map", "method", share.one_of(MAPS), write=share.name_of(MAPS), default="t-SNE"),
    *[share.Param(box, None, share.text(MAX_QUERY_CHARS), default=default, apply=lambda word: None,
                  read=lambda box=box: st.session_state.get(analogy_key(box)))
      for box, default in zip("abc", EXAMPLE_ANALOGIES[list(EXAMPLE_ANALOGIES)[0]])],
], on_restore=analogy_restored)
if SHARE.restore():
    st.session_state.example_word = None  # the word came from the link, not from a pill
st.session_state.setdefault("query", "")
st.session_state.setdefault("words", DEFAULT_SIZE)
st.session_state.setdefault("method", "t-SNE")

# ---- controls -------------------------------------------------------------------------------
# The search first (on a phone, where columns stack, the word and its nearest words come before the map's settings).
right, left, middle = st.columns([3, 2, 2])
n = left.select_slider("Words on the map (most frequent first)", SIZES, key="words")
method = left.segmented_control("Map", list(MAPS.values()), key="method", required=True) or "t-SNE"
colour = middle.segmented_control("Colour by", ["clusters", "categories"], default="clusters", key="colour",
                                 required=True) or "clusters"
k = middle.slider("k-means clusters", 4, 20, 10, disabled=colour != "clusters")
computable = n <= embeddings.TSNE_COMPUTE_MAX_WORDS  # larger maps: only the precomputed perplexity
perplexity = middle.select_slider("t-SNE perplexity", PERPLEXITIES, value=int(DEFAULT_PERPLEXITY),
                                  disabled=method != "t-SNE" or not computable,
                                  help="Roughly how many neighbours each word keeps close. Other values are computed here "
                                  f"(about 15 s for 2,000 words) and remembered; for more than "
                                  f"{embeddings.TSNE_COMPUTE_MAX_WORDS:,} words only {DEFAULT_PERPLEXITY:g} (precomputed).")
if not computable and method == "t-SNE" and perplexity != DEFAULT_PERPLEXITY:
    middle.caption(f"{n:,} words: shown at perplexity {DEFAULT_PERPLEXITY:g}, precomputed (another would take minutes "
                   "to compute here).")
    perplexity = int(DEFAULT_PERPLEXITY)
# wrap: directly in a column, pills otherwise stay on one row and scroll, which cut the last word off at 1400 px.
right.pills("Try", EXAMPLE_WORDS, key="example_word", on_change=use_word, wrap=True)
query = right.text_input("Find a word", key="query", max_chars=MAX_QUERY_CHARS, placeholder="e.g. france")

xyz = coordinates(n, method, float(perplexity))
words = emb.vocab[:n]
groups = [f"cluster {c + 1}" for c in clusters(n, k)] if colour == "clusters" else embeddings.categories_of(words)

focus, on_map, neighbours = None, [], []
word = word_query(query) if query else None
if word is not None:
    try:
        neighbours = nearest(word, NEIGHBOURS)
        rank = emb.id(word)
    except UnknownWordError as error:
        st.warning(str(error), icon=":material/search_off:")
        word = None
    else:
        if rank < n:
            focus = rank
            on_map = [emb.index[w] for w, _ in neighbours if emb.index[w] < n]
        else:
            st.info(f"**{word}** is word #{rank + 1:,} by frequency, beyond the {n:,} on the map: its neighbours "
                    f"are listed; choose more words to see it in the map.")

if word is not None:  # the answer, under the search box
    right.container(key="nearest").markdown(f"Nearest to **{word}**: " + ", ".join(w for w, _ in neighbours[:5]))
map_column, side = (map_slot, st.container()) if room else st.columns([3, 1])
with map_column:
    st.plotly_chart(word_map((n, method, perplexity, colour, k), words, xyz, groups, focus, on_map,
                             **(dict(height=MAP_HEIGHT_PX, room=True) if room else {})), key="word_map")
    caption = (f"{method} of the {n:,} most frequent words' vectors (cosine geometry)"
               + (f", perplexity {perplexity}" if method == "t-SNE" else ": the three directions of largest variance")
               + ". Hover for a word; drag to rotate; click the map, then scroll to zoom (the wheel scrolls the page "
               "until then); double-click a legend entry to isolate it.")
    st.caption(caption)
with side:
    if word is not None:
        st.plotly_chart(score_bars(neighbours, f"Nearest to “{word}”"), key="neighbours")
        st.caption("Nearest: " + ", ".join(f"{w} ({s:.2f})" for w, s in neighbours))
        off_map = [w for w, _ in neighbours if emb.index[w] >= n]
        if off_map and focus is not None:
            st.caption(f"Not on this map (rarer words): {', '.join(off_map)}")
    else:
        st.caption("Find a word to see its 10 nearest neighbours by cosine similarity, drawn as lines on the map.")

# The CSV is made when the button is pressed (a callable), not at every run of the page for every viewer.
st.download_button("Download these coordinates (CSV)", lambda: embeddings.coordinates_csv(words, xyz, groups),
                   file_name=f"words_{method.lower()}_{n}.csv", mime="text/csv", icon=":material/download:")

# ---- analogies ------------------------------------------------------------------------------
st.subheader("Analogies: vector arithmetic")
st.markdown("*a* is to *b* as *c* is to **?** — the words nearest to *b − a + c*.")
example = st.selectbox("Example", list(EXAMPLE_ANALOGIES), key="analogy_example")
for box, given in zip("abc", EXAMPLE_ANALOGIES[example]):
    st.session_state.setdefault(f"{box}_{example}", given)
cols = st.columns(3)
a = cols[0].text_input("a", max_chars=MAX_QUERY_CHARS, key=f"a_{example}")
b = cols[1].text_input("is to b", max_chars=MAX_QUERY_CHARS, key=f"b_{example}")
c = cols[2].text_input("as c is to ?", max_chars=MAX_QUERY_CHARS, key=f"c_{example}")
SHARE.sync()
terms = [embeddings.tokenize(t[:MAX_QUERY_CHARS]) for t in (a, b, c)]
if any(len(t) != 1 for t in terms):
    st.warning("Give exactly one word (letters a–z) in each box.")
else:
    (a, ), (b, ), (c, ) = terms
    missing = [w for w in (a, b, c) if w not in emb]
    if missing:
        for w in missing:
            st.warning(str(UnknownWordError(w, emb.suggestions(w))), icon=":material/search_off:")
    else:
        answers = analogy(a, b, c, 5)
        st.markdown(f"**{b} − {a} + {c} ≈ {answers[0][0]}**")
        st.plotly_chart(score_bars(answers, f"{a} : {b} :: {c} : ?"), key="analogy")

# ---- model card -----------------------------------------------------------------------------
with st.expander("Model card", icon=":material/info:"):
    model_card(meta, embeddings.card_text(meta))
    st.plotly_chart(curve_panels(embeddings.NAME, meta["curve"], {"train_loss": "training loss (positive pairs)",
                                                "wordsim353": "WordSim-353 ρ", "analogy": "analogy accuracy"}),
                    key="curves")
    st.caption("Wikipedia text: Wikipedia contributors, English Wikipedia (2015), CC BY-SA 3.0. Books: Project "
               "Gutenberg (public domain in the USA). Brown, ABC and presidential speeches: NLTK corpora. "
               "Evaluation: WordSim-353 (Finkelstein et al., 2002) and the word2vec analogy set (Mikolov et al., 2013).")
