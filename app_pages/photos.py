"""Upload a photo: a CIFAR-10 CNN names the object, and Grad-CAM shows where it found the evidence."""
import hashlib
from importlib import resources

import streamlit as st

from models import photos
from app_pages.figures.photos import photo_with_heatmap
from ui.card import model_card, training_curves
from ui.charts import article, feature_grid, ranking_bars, rgb_grid
from ui.loading import load_model
from ui import room, secure, share
from ui.presenter import explain

FEATURE_MAPS_SHOWN = 32
# Example photos that ship inside scikit-image (skimage/data), with their credits.
EXAMPLES = {
    "Chelsea the cat": ("chelsea.png", "cat", "Stefan van der Walt, CC0"),
    "A horse (silhouette)": ("horse.png", "horse", "Andreas Preuss (openclipart), CC0"),
    "Falcon 9 rocket": ("rocket.jpg", None, "SpaceX, public domain"),
    "Astronaut Eileen Collins": ("astronaut.png", None, "NASA, public domain"),
}

model, meta = load_model(photos.NAME)
metrics = meta["metrics"]

st.title("📷 Upload a photo")
explain(
    "A **convolutional network** trained from scratch on CIFAR-10's 50,000 tiny photos names the object "
    "in yours (one of ten classes: " + ", ".join(photos.CLASSES) + "), and **Grad-CAM** shows where in "
    "the photo it found the evidence: the review's example of recognising *and locating* objects. "
    + photos.learned_from(meta)
)


@st.cache_data(show_spinner=False)
def example_bytes(name: str) -> bytes:
    return (resources.files("skimage") / "data" / EXAMPLES[name][0]).read_bytes()


def cam_key() -> str | None:
    """The "Evidence for" box's key for an example photo (as below); None while no example is shown."""
    source = st.session_state.get("source")
    return f"cam_class:{source}:{st.session_state.get('example')}" if source in ("Example", None) else None


SOURCES = ["Example", "Upload", "Camera"]
PHOTOS = {file.split(".")[0]: name for name, (file, _, _) in EXAMPLES.items()}  # chelsea, horse, rocket, astronaut
# The URL's state (ui/share.py): ?example=chelsea&cam=cat, ?source=upload (an uploaded photo is never in the link)
SHARE = share.View("photos", [
    share.Param("source", "source", share.one_of({s.lower(): s for s in SOURCES}), write=str.lower,
                default="Example"),
    share.Param("example", "example", share.one_of(PHOTOS), write=share.name_of(PHOTOS), default=list(EXAMPLES)[0],
                active=lambda: cam_key() is not None),
    share.Param("cam", cam_key, share.one_of(photos.CLASSES), default=lambda: top_class),  # its own top class
])
SHARE.restore()
st.session_state.setdefault("source", "Example")
source = st.segmented_control("Photo", SOURCES, key="source", required=True)
data, credit = None, None
if source == "Upload":
    upload = st.file_uploader("A photo (JPEG, PNG, WebP, BMP or GIF)", type=["jpg", "jpeg", "png", "webp", "bmp", "gif"])
    data = upload.getvalue() if upload is not None else None  # kept in memory only
elif source == "Camera" and not secure.media_allowed():  # browsers give the camera to https pages only
    secure.insecure_note("camera")
elif source == "Camera":
    shot = st.camera_input("Take a photo")
    data = shot.getvalue() if shot is not None else None
else:
    name = st.selectbox("Example photo", list(EXAMPLES), key="example")
    data = example_bytes(name)
    truth = EXAMPLES[name][1]
    credit = f"{name}: {EXAMPLES[name][2]} (from scikit-image's sample images). " + (
        f"A CIFAR-10 class: {truth}." if truth else "**Not** one of the ten classes: the network should say so."
    )

if data is None:
    if source != "Camera" or secure.media_allowed():  # else the note above says what to do
        st.info("**Choose a photo**: upload one, take one with the camera, or pick an example.",
                icon=":material/photo_camera:")
    SHARE.sync()
    st.stop()

try:
    image = photos.open_image(data, photos.WORKING_SIDE)
except photos.BadImageError as error:
    st.error(f"**Can't use this file.** {error}", icon=":material/broken_image:")
    SHARE.sync()
    st.stop()


@st.cache_data(max_entries=64, show_spinner=False)
def example_analysis(name: str, tta: bool) -> photos.Analysis:
    """The examples' results, computed once per server for every viewer (each one opens on the first example)."""
    return photos.analyze(image, model, tta=tta)


@st.cache_data(max_entries=128, show_spinner=False)
def example_gradcam(name: str, cam_class: str):
    return photos.gradcam(image, cam_class, model)


tta = st.toggle("Test-time augmentation: average over the photo, its mirror and 1-pixel shifts (6 views)", value=True)
result = example_analysis(name, tta) if source == "Example" else photos.analyze(image, model, tta=tta)
top_class, top_p = result.ranking[0]

# The verdict's column first: on a phone, where columns stack, the answer comes before Grad-CAM.
right, left = st.columns([1, 1.3], gap="large")
with right:
    if result.too_small:
        st.warning(
            f"**Too small to tell.** This image is {image.width}×{image.height} pixels; it needs at least "
            f"{photos.MIN_ANSWER_SIDE} on its short side to show an object. Best guess, for what it's worth: "
            f"{top_class} ({top_p:.0%}).", icon=":material/zoom_in:")
    elif result.outlier:
        st.markdown("### This doesn't look like any of the ten things I know")
        st.caption(
            f"Best guesses, small: {', '.join(f'{c} {p:.0%}' for c, p in result.ranking[:2])}. A network trained on "
            "ten classes spreads all of its belief over those ten, whatever it is shown: anything has to be *some* "
            "class. So a read-out of what it sees was taught on thousands of photos of other things (food, "
            "furniture, tools, other animals) to tell when a photo is like none of its ten; this photo scores "
            f"{result.score:.2f}, below the {result.outlier_threshold:.2f} the ten classes reach."
            + photos.outlier_caveat(meta))
    elif result.sure:
        st.markdown(f"### It's {article(top_class)} **{top_class}** ({top_p:.0%})")
    else:
        st.warning(
            f"**Not sure.** Best guess: {top_class} at only {top_p:.0%} (below {result.confidence:.0%}). "
            f"Next: {', '.join(f'{c} {p:.0%}' for c, p in result.ranking[1:3])}. The photo may show none of the "
            "ten classes, or its object may be small, cut off or seen from an unusual side.",
            icon=":material/help:",
        )
    st.plotly_chart(ranking_bars(result.ranking, "Probability of each class"), key="ranking")
    room.photo(result, data, image, own=source != "Example")  # in a room (?room=CODE): to its screen, with a tap
    other = result.alternative[0]
    st.caption(
        f"{'With' if not tta else 'Without'} test-time augmentation it would say **{other[0]}** ({other[1]:.0%}). "
        f"On the test set: {metrics['test_accuracy']:.2%} without, {metrics['test_accuracy_tta']:.2%} with."
    )
with left:
    names = [name for name, _ in result.ranking]
    c1, c2 = st.columns(2)
    # The viewer's choice of class holds for the photo it was made on only: a new photo opens on its own top
    # class (one key per photo; Streamlit forgets the keys of widgets no longer drawn).
    photo_id = name if source == "Example" else hashlib.blake2b(data, digest_size=8).hexdigest()
    cam_class = c1.selectbox("Evidence for", names, key=f"cam_class:{source}:{photo_id}")
    opacity = c2.slider("Heatmap opacity", 0.0, 1.0, 0.8, 0.05)
    SHARE.sync()
    heat = example_gradcam(name, cam_class) if source == "Example" else photos.gradcam(image, cam_class, model)
    st.plotly_chart(photo_with_heatmap(image, heat, opacity, f"Grad-CAM: where the evidence for “{cam_class}” lies",
                                       box=result.crop), key="cam")
    if credit:
        st.caption(credit)
    st.caption("The dashed square is the part of the photo the network sees: its largest centred square.")

st.subheader("What the network sees, and what it computes")
sees, first, maps = st.columns([1, 1, 2])
with sees:
    st.plotly_chart(rgb_grid(result.input[None], 1, f"input {photos.IMAGE_SIZE}×{photos.IMAGE_SIZE}"), key="input")
    st.caption("Your photo, as CIFAR-10 photos are: 32×32 pixels. Small objects, fine text and textures vanish.")
with first:
    filters = photos.first_layer_filters(model)
    st.plotly_chart(rgb_grid(filters, 6, f"first layer: {len(filters)} filters, 2×2"), key="filters")
    st.caption("The first layer is not learned: its filters whiten the image (decorrelate neighbouring "
               "pixels and colours), computed from the training photos' statistics.")
with maps:
    layer = st.selectbox("Feature maps of", list(result.activations), index=1, key="layer")
    activation = result.activations[layer]
    st.plotly_chart(feature_grid(activation, FEATURE_MAPS_SHOWN, columns=8,
                                 title=f"{layer}: {activation.shape[0]} maps of {activation.shape[1]}×{activation.shape[2]}"),
                    key="maps")

st.subheader("How it was trained")
st.plotly_chart(training_curves(photos.NAME, meta["curve"]), key="curves")
with st.expander("Model card", expanded=True):
    model_card(meta, photos.card_text(meta))
    st.caption(
        f"CIFAR-10 by Alex Krizhevsky, Vinod Nair and Geoffrey Hinton (2009). {meta['data']['caveat']}. "
        + photos.credit_and_limits(meta)
    )
