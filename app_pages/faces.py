"""Recognise a face: a CNN maps faces to embeddings; one photo of a person is enough to recognise them again."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

from app_pages.figures.faces import embedding_map, photo_with_box, roc_figure, saliency_overlay, training_curve
from models import faces
from ui.card import model_card
from ui.charts import feature_grid, score_bars
from ui.loading import load_model
from ui import secure, share, style
from ui.presenter import explain

ORL_FILE = Path(__file__).resolve().parents[1] / "assets" / "faces" / "orl.npz"
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "pgm"]
MAX_PHOTOS_PER_PERSON = 3
SHOWN_MATCHES = 5
FEATURE_MAPS_SHOWN = 32

model, meta = load_model(faces.NAME)
threshold = float(meta["threshold"]["value"])
unseen_metrics = meta["metrics"]["unseen"]

st.title("🙂 Recognise a face")
explain(
    "The review's convolutional networks do more than name objects: they identify **specific individuals**. This "
    f"network maps a face to {model.dim} numbers (an *embedding*, a unit vector) so that photos of one person point "
    "the same way and photos of different people do not. Recognising someone is then a nearest-neighbour search: one photo "
    f"of each person in a gallery is enough. It trained on 30 people of the ORL faces only; the 10 others (people "
    f"30–39) it **never saw**, and on them it names {unseen_metrics['one_shot']['accuracy']:.1%} of the photos right "
    "from one gallery photo each."
    + (f" To embed a face, {model.views.describe()} go through the network together; the embedding is the mean of "
       "theirs." if model.views.count > 1 else "")
)


@st.cache_resource(show_spinner="Embedding the 400 ORL faces…")
def orl() -> dict:
    """The 400 ORL photos (assets/faces), their embeddings, once per server."""
    with np.load(ORL_FILE) as d:
        pixels, labels = d["x"], d["y"].astype(int)
    images = [faces.orl_image(p) for p in pixels]
    return {"images": images, "labels": labels, "embeddings": faces.embed_many(images, model)}


@st.cache_resource(show_spinner="Drawing the map…")
def orl_map(method: str) -> np.ndarray:
    """The map's points: t-SNE from the card (computed by the training script: seconds of CPU), PCA here."""
    if method == "t-SNE" and meta.get("map", {}).get("method") == "t-SNE":
        return np.asarray(meta["map"]["points"])
    return faces.map_2d(orl()["embeddings"], method)[0]


@st.cache_resource(show_spinner=False, max_entries=64)
def orl_map_figure(method: str, highlight: int):
    """The map of the 400 photos with one ringed: 41 traces, the page's costliest figure to build (40 % of its
    run), the same for every viewer of that view. Read only: shared by all sessions."""
    labels = orl()["labels"]
    return embedding_map(orl_map(method), labels, labels < min(faces.UNSEEN_PEOPLE), method,
                         highlight=highlight)


@st.cache_resource(show_spinner=False)
def curve_figure():
    return training_curve(meta["curve"])


@st.cache_resource(show_spinner=False, max_entries=32)
def inside_orl(probe: int, target: int) -> tuple[dict, np.ndarray]:
    """An ORL photo's feature maps and saliency towards ORL photo `target` (its best match in the gallery): the
    same for every viewer of that view, so made once (SmoothGrad, a fifth of the server's CPU at 20 viewers when
    made at every load). Read only: shared by all sessions."""
    image, aim = orl()["images"][probe], orl()["embeddings"][target]
    return faces.feature_maps(image, model), faces.saliency(image, aim, model)


data = orl()
labels, embeddings, images = data["labels"], data["embeddings"], data["images"]
unseen_people = list(faces.UNSEEN_PEOPLE)


def shown_maps(count: int) -> str:
    """The feature grid's title: "all 32" or "the 32 most active of 64"."""
    return f"all {count}" if count <= FEATURE_MAPS_SHOWN else f"the {FEATURE_MAPS_SHOWN} most active of {count}"


def photo_index(person: int, k: int) -> int:
    return int(np.flatnonzero(labels == person)[k])


def headline(ranking: list[tuple[str, float]], truth: str | None = None) -> None:
    """The answer in a few words: who it is, or "not in the gallery" when the best match is below the threshold."""
    if not ranking:
        return
    best, similarity = ranking[0]
    if faces.is_known(ranking, threshold):
        st.markdown(f"### It's **{best}** (similarity {similarity:.2f})")
        if truth is not None:
            if truth == best:
                st.success("Right.", icon=":material/check:")
            else:
                st.warning(f"Wrong: it is {truth}.", icon=":material/close:")
    else:
        st.markdown("### Not sure: **not in the gallery**")
        st.caption(f"The most similar is {best} at {similarity:.3f}, below the threshold {threshold:.3f} (chosen on "
                   "people the network trained on, never on the ten unseen people).")
        if truth is not None and truth in dict(ranking):
            st.caption(f"It is {truth}: a miss.")


# ---------------------------------------------------------------- 1. the unseen ten

MAPS = ["t-SNE", "PCA"]
# The URL's state (ui/share.py): ?person=33&gallery=1&photo=5&map=tsne (photos added by a viewer never are)
SHARE = share.View("faces", [
    share.Param("person", "person", share.one_of(unseen_people), default=unseen_people[3]),
    share.Param("gallery", "gallery_photo", share.integer(1, 10), default=1),
    share.Param("photo", "probe_photo", share.integer(1, 10), default=5),
    share.Param("map", "map_method", share.one_of({"tsne": "t-SNE", "pca": "PCA"}),
                write=share.name_of({"tsne": "t-SNE", "pca": "PCA"}), default="t-SNE"),
])
SHARE.restore()

st.subheader("Who is this? Ten people the network never saw")
# The choice, then the photo and its answer; on a phone the answer comes first, under the photo (style.last).
unseen = st.container()
choice = unseen.container(key=style.last("faces_choice"))
choice.caption("The gallery holds **one** photo of each of people 30–39, who were not in the training set. Pick "
               "another photo of one of them: the network's embedding of it is compared with the gallery's.")
c1, c2, c3 = choice.columns(3)
gallery_k = c1.slider("Gallery photo of each person", 1, 10, key="gallery_photo") - 1
person = c2.selectbox("Person (unseen in training)", unseen_people, key="person", format_func=lambda p: f"person {p}")
probe_k = c3.slider("Their photo", 1, 10, key="probe_photo") - 1
probe = photo_index(person, probe_k)
orl_gallery = {f"person {p}": embeddings[photo_index(p, gallery_k)][None] for p in unseen_people}
ranking = faces.similarities(embeddings[probe], orl_gallery)

left, right = unseen.columns([1, 2], gap="large")
with left:
    st.image(images[probe], caption=f"person {person}, photo {probe_k + 1}" +
             (" (the gallery's own photo)" if probe_k == gallery_k else ""), width=184)
with right:
    headline(ranking, f"person {person}")
    st.markdown("**The gallery's nearest faces**")
    columns = st.columns(SHOWN_MATCHES)
    for column, (name, similarity) in zip(columns, ranking[:SHOWN_MATCHES]):
        p = int(name.split()[1])
        column.image(images[photo_index(p, gallery_k)], caption=f"{name}: {similarity:.2f}", width="stretch")
    st.plotly_chart(score_bars(ranking, "Cosine similarity to each gallery photo", "similarity", threshold),
                    key="ranking")

method = st.segmented_control("Map", MAPS, key="map_method", required=True) or "t-SNE"
st.plotly_chart(orl_map_figure(method, probe), key="map")
st.caption("Each point is one photo's embedding, placed so that similar embeddings are near (t-SNE) or along the two "
           "directions of largest spread (PCA). Each person's ten photos form a cluster: the unseen people's "
           "(diamonds) too, although the network never learned their faces.")

# ---------------------------------------------------------------- 2. add yourself

st.subheader("Add yourself")
st.info("Take 1–3 photos of your face with the camera (or upload them), give a name, and add them to a gallery; "
        "then a new shot is recognised, or said to be **not in the gallery**. Add a second person the same way. "
        "Everything stays in this browser session: nothing is stored. The network learned from **40 people "
        "photographed in the early 1990s** (grey, frontal, even light): lighting and angle matter. Face the camera, "
        "evenly lit, your face filling the dashed box: light from one side and faces small in the box make "
        "different people look alike to it.", icon=":material/person_add:")
people: dict = st.session_state.setdefault("faces_people", {})  # name -> {"embeddings": [...], "thumbs": [...]}
# sha256 of each photo added -> the name it was added under: the uploader keeps its files after "Add", so adding a
# second person the same way would otherwise add the first one's photos under the second name too.
added: dict = st.session_state.setdefault("faces_added", {})


def read_photo(data: bytes, camera: bool):
    """-> (image, None) or (None, the user's message)."""
    try:
        return faces.open_image(data), None
    except faces.BadImageError as error:
        return None, f"**Can't use this file.** {error}"


def photo_source(key: str, label: str, multiple: bool = False, fresh: int = 0) -> list[tuple[str, bytes, bool]]:
    """A camera or upload input -> [(file name, bytes, camera?)] (in memory only). A new `fresh` number gives new,
    empty inputs (the add section's, once its photos are added)."""
    source = st.segmented_control("Photo from", ["Camera", "Upload"], default="Camera", key=f"{key}_source",
                                    required=True) or "Camera"
    suffix = f"_{fresh}" if fresh else ""
    if source == "Camera" and not secure.media_allowed():  # browsers give the camera to https pages only
        secure.insecure_note("camera")
        return []
    if source == "Camera":
        shot = st.camera_input(label, key=f"{key}_camera{suffix}")
        return [("camera", shot.getvalue(), True)] if shot is not None else []
    files = st.file_uploader(label, type=UPLOAD_TYPES, accept_multiple_files=multiple, key=f"{key}_upload{suffix}")
    files = files if isinstance(files, list) else ([files] if files is not None else [])
    return [(f.name, f.getvalue(), False) for f in files]


def add_person(name: str, shots: list[tuple[str, bytes, bool]]) -> list[tuple[str, str]]:
    """Add the photos `shots` under `name` (at most MAX_PHOTOS_PER_PERSON, none added before) -> the messages to
    show: [(kind, text)], kind "success", "warning", "error" or "caption"."""
    messages, new = [], []
    for file_name, raw, camera in shots:
        digest = hashlib.sha256(raw).hexdigest()
        if digest in added:
            messages.append(("warning", f"{file_name}: already added, as {added[digest]}: skipped."))
        else:
            new.append((file_name, raw, camera, digest))
    good = []
    for file_name, raw, camera, digest in new[:MAX_PHOTOS_PER_PERSON]:
        image, problem = read_photo(raw, camera)
        if problem:
            messages.append(("error", f"{file_name}: {problem}"))
        else:
            good.append((image, camera, digest))
            added[digest] = name
    if good:
        entry = people.setdefault(name, {"embeddings": [], "thumbs": [], "digests": []})
        for image, camera, digest in good:
            entry["embeddings"].append(faces.embed(image, model, camera))
            box = faces.face_box(image.size, camera)
            entry["thumbs"].append(image.crop(box).resize((92, 112)))
            entry["digests"].append(digest)
        dropped = len(entry["embeddings"]) - MAX_PHOTOS_PER_PERSON
        for digest in entry["digests"][: max(0, dropped)]:  # replaced: may be added again
            added.pop(digest, None)
        for part in ("embeddings", "thumbs", "digests"):
            entry[part] = entry[part][-MAX_PHOTOS_PER_PERSON:]
        messages.insert(0, ("success", f"Added {len(good)} photo{'s' * (len(good) > 1)} of {name}." + (
            f" The {dropped} oldest {'were' if dropped > 1 else 'was'} replaced: at most {MAX_PHOTOS_PER_PERSON} "
            "photos a person." if dropped > 0 else "")))
    if len(new) > MAX_PHOTOS_PER_PERSON:
        messages.append(("caption", f"Only the first {MAX_PHOTOS_PER_PERSON} photos were used."))
    return messages


ICONS = {"success": ":material/check:", "warning": ":material/content_copy:", "error": ":material/broken_image:"}


def show(messages: list[tuple[str, str]]) -> None:
    for kind, text in messages:
        if kind == "caption":
            st.caption(text)
        else:
            getattr(st, kind)(text, icon=ICONS[kind])


add, shown = st.columns([1, 1], gap="large")
with add:
    # The name stays after "Add": the camera takes one shot at a time, and the next may be the same person's
    name = st.text_input("Name", max_chars=40, key="add_name", placeholder="e.g. Ada").strip()
    # Once photos are added, the inputs start empty again (a new key): the next person's photos are theirs alone
    fresh = st.session_state.setdefault("faces_add_fresh", 0)
    shots = photo_source("add", "Photos of the face to add (1–3)", multiple=True, fresh=fresh)
    show(st.session_state.pop("faces_add_messages", []))  # those of the photos just added, before the new inputs
    if st.button("Add to the gallery", key="add_button", disabled=not shots, type="primary"):
        if not name:
            st.error("Give a name first.", icon=":material/badge:")
        else:
            # The inputs start empty again after any try: files that failed would otherwise fail again at the next
            messages = add_person(name, shots)
            st.session_state["faces_add_messages"] = messages
            st.session_state["faces_add_fresh"] = fresh + 1
            st.rerun()
with shown:
    if people:
        st.markdown(f"**Your gallery** ({len(people)} {'person' if len(people) == 1 else 'people'}, this session only)")
        for who, entry in people.items():
            st.image(entry["thumbs"], caption=[who] * len(entry["thumbs"]), width=80)
        alike = faces.alike_people({who: np.stack(e["embeddings"]) for who, e in people.items()}, threshold)
        if alike:
            a, b, similarity = alike[0]
            st.warning(f"**{a} and {b} look alike to the network** (similarity {similarity:.2f}, above the "
                       f"threshold {threshold:.3f}): it may name one for the other. Usually the light or the framing "
                       "does it, not the faces: light from one side, or faces small in the box, make everyone look "
                       "alike to it. Retake the photos facing even light, the face filling the box.",
                       icon=":material/group:")
        if st.button("Forget everyone", key="forget"):
            people.clear()
            added.clear()
            st.rerun()
    else:
        st.caption("No one added yet.")

user_result = None
if people:
    st.markdown("#### Who is this?")
    with_orl = st.toggle("Also put the ten unseen ORL people in the gallery (one photo each)", value=False, key="with_orl")
    probe_shots = photo_source("probe", "A new photo to recognise")
    if probe_shots:
        file_name, raw, camera = probe_shots[0]
        image, problem = read_photo(raw, camera)
        if problem:
            st.error(problem, icon=":material/broken_image:")
        else:
            gallery = {who: np.stack(entry["embeddings"]) for who, entry in people.items()}
            if with_orl:
                gallery |= orl_gallery
            embedding = faces.embed(image, model, camera)
            user_ranking = faces.similarities(embedding, gallery)
            a, b = st.columns([1, 2], gap="large")
            with a:
                st.plotly_chart(photo_with_box(image, faces.face_box(image.size, camera), "what the network sees: the box"),
                                key="probe_photo_box")
            with b:
                headline(user_ranking)
                st.plotly_chart(score_bars(user_ranking[:8], "Cosine similarity to each person's closest photo",
                                           "similarity", threshold), key="user_ranking")
            user_result = (image, camera, embedding, user_ranking, gallery)
else:
    st.caption("Add someone first: then a new photo can be recognised.")

# ---------------------------------------------------------------- 3. inside the network

st.subheader("Inside the network")
choices = ["the chosen ORL photo"] + (["your photo"] if user_result else [])
# A new photo of yours is shown here at once (the value kept from before it came would win over the default).
shown = hash(user_result[2].tobytes()) if user_result else None
# Also when the control's value is gone: Streamlit drops it while another page is shown (it came back empty).
if st.session_state.get("inside_face_for", "never") != shown or st.session_state.get("inside_face") not in choices:
    st.session_state["inside_face_for"] = shown
    st.session_state["inside_face"] = choices[-1]
inside = st.segmented_control("Face", choices, key="inside_face", required=True) or choices[0]
if inside == "your photo" and user_result:
    face_image, camera, _, ranks, gallery = user_result
    target = gallery[ranks[0][0]][0] if ranks else None
    maps = faces.feature_maps(face_image, model, camera)
    heat = faces.saliency(face_image, target, model, camera)
else:
    face_image, camera = images[probe], False
    maps, heat = inside_orl(probe, photo_index(int(ranking[0][0].split()[1]), gallery_k))
grey = faces.grey_input(face_image, camera)
s1, s2 = st.columns([1, 2], gap="large")
with s1:
    st.plotly_chart(saliency_overlay(grey, heat, "saliency"), key="saliency")
    st.caption(f"The network's input ({faces.INPUT_HEIGHT}×{faces.INPUT_WIDTH} grey). Red: where a small change of "
               "the pixel changes most the similarity to the best match (averaged over noisy copies).")
with s2:
    layer = st.selectbox("Feature maps of", list(maps), key="layer")
    activation = maps[layer]
    st.plotly_chart(feature_grid(activation, FEATURE_MAPS_SHOWN, columns=8,
                                 title=f"{layer}: {shown_maps(activation.shape[0])} maps of "
                                       f"{activation.shape[1]}×{activation.shape[2]}"),
                    key="maps")

# ---------------------------------------------------------------- the card

st.subheader("How it was trained and measured")
base = meta["metrics"].get("eigenfaces")
curves = {"this CNN": unseen_metrics["roc"]} | ({"eigenfaces": base["roc"]} if base else {})
r1, r2 = st.columns(2)
with r1:
    st.plotly_chart(roc_figure(curves), key="roc")
with r2:
    st.plotly_chart(curve_figure(), key="curves")
    st.caption(f"Each of the {len(model.members)} networks alone, as it trained on people 0–29 (the unseen people's "
               "accuracy recorded every 10 epochs, never used to choose anything). Joined: "
               f"{unseen_metrics['one_shot']['accuracy']:.1%}.")
with st.expander("Model card", expanded=True):
    model_card(meta, faces.card_text(meta))
    st.caption("The ORL Database of Faces, AT&T Laboratories Cambridge (1992–1994): 40 people × 10 grey photos. "
               "Limits: 40 people, mostly young and white, photographed in one lab under even light; it has never "
               "seen colour, strong side light, glasses on and off the same person, or faces much turned away.")

SHARE.sync()
