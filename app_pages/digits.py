"""Draw a digit: a CNN trained with backpropagation on MNIST reads what you draw."""
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from models import digits
from ui.card import model_card, training_curves
from ui.charts import article, feature_grid, image_heatmap, probability_bars
from ui.loading import load_model
from ui import room, share
from ui.presenter import explain

CANVAS_SIZE = 280  # display pixels: ten times MNIST's 28x28
FEATURE_MAPS_SHOWN = 16  # per layer, the most active ones

model, meta = load_model(digits.NAME)

st.title("✏️ Draw a digit")
explain(
    "Draw a digit from 0 to 9. A **convolutional network**, trained with **backpropagation** on "
    "MNIST's 60,000 handwritten digits, reads it as you draw. Below, see what it sees and what "
    "each layer computes: the review's *multiple levels of abstraction*."
)

PEN_WIDTH = 18  # the pen's width when the page opens
SHARE = share.View("digits", [share.Param("pen", "pen", share.integer(5, 40), default=PEN_WIDTH)])  # ?pen=24
SHARE.restore()
st.session_state.setdefault("pen", PEN_WIDTH)
st.session_state.setdefault("canvas_version", 0)
left, right = st.columns([1, 1.2], gap="large")
with left:
    # The pen and Clear above the canvas (in a row, which unlike columns does not stack on a phone), the answer
    # (the right column) right after it: on a phone, where the columns stack, it shows under the drawing.
    with st.container(horizontal=True, vertical_alignment="bottom"):
        stroke = st.slider("Pen width", min_value=5, max_value=40, step=1, key="pen")
        if st.button("Clear", icon=":material/delete:"):
            st.session_state.canvas_version += 1  # a new key mounts a fresh, empty canvas
            st.rerun()
    canvas = st_canvas(
        stroke_width=stroke,
        stroke_color="#FFFFFF",
        background_color="#000000",
        width=CANVAS_SIZE,
        height=CANVAS_SIZE,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"canvas_{st.session_state.canvas_version}",
    )
SHARE.sync()

prediction, unreadable = None, False
try:
    drawing = canvas.image_bytes  # the PNG the browser sent (a malformed data URL raises ValueError)
    if drawing is not None:
        prediction = digits.predict_png(drawing, model)
except digits.EmptyImageError:
    prediction = None
except ValueError:  # digits.UnreadableImageError too: corrupt or oversized, not from our canvas
    unreadable = True

with right:
    if unreadable:
        st.warning("**Can't read this drawing** (the browser sent a corrupt or oversized image). "
                   "Press **Clear** and draw again.", icon=":material/broken_image:")
    elif prediction is None:
        st.info("**Draw a digit** on the black square: the prediction appears here.", icon=":material/draw:")
    else:
        if prediction.not_digit:
            st.markdown("### That doesn't look like a digit")
            st.caption(
                f"{prediction.p_not_digit:.0%} likely not a digit (it says so from "
                f"{digits.NOT_DIGIT_THRESHOLD:.0%}). The closest digit, only as a guess: {prediction.digit}. "
                "Draw one digit from 0 to 9."
            )
        elif prediction.sure:
            st.markdown(f"### It's {article(prediction.digit)} **{prediction.digit}** ({prediction.confidence:.0%} sure)")
        else:
            st.warning(
                f"**Not sure.** Best guess: {prediction.digit} at only {prediction.confidence:.0%} "
                f"(below {digits.CONFIDENCE_THRESHOLD:.0%}). Try drawing it larger or more clearly.",
                icon=":material/help:",
            )
        # The ten digits and "not a digit": the network's eleven outputs, which sum to 1.
        winner = len(digits.CLASSES) if prediction.not_digit else prediction.digit if prediction.sure else None
        st.plotly_chart(
            probability_bars(digits.CLASSES + [digits.NOT_DIGIT], [*prediction.probabilities, prediction.p_not_digit],
                             winner, "Probability of each digit"),
            key="probabilities",
        )
        room.digit(prediction, st.session_state.canvas_version)  # in a room (?room=CODE): to its screen, with a tap

if prediction is not None:
    st.subheader("What the network sees, layer by layer")
    explain(
        f"**Input:** your drawing made to look like an MNIST digit, the way MNIST itself was made: cropped "
        f"to the ink, scaled into a {digits.BOX_SIZE}×{digits.BOX_SIZE} box keeping its proportions, and "
        f"placed so that its centre of mass sits at the centre of a {digits.IMAGE_SIZE}×{digits.IMAGE_SIZE} "
        "image; so it doesn't matter where or how big you draw. **Then each convolutional layer** turns it "
        "into many *feature maps*: the first respond to strokes and edges at each orientation; deeper ones, "
        "after pooling halves the resolution, to corners, curves and loops. Shown: the "
        f"{FEATURE_MAPS_SHOWN} most active maps of each layer (bright = strong response)."
    )
    columns = st.columns(1 + len(prediction.activations))
    with columns[0]:
        st.plotly_chart(image_heatmap(prediction.input, "input 28×28", height=200), key="input")
    for column, (name, maps) in zip(columns[1:], prediction.activations.items()):
        channels, height, width = maps.shape
        with column:
            st.plotly_chart(
                feature_grid(maps, FEATURE_MAPS_SHOWN, columns=4, title=f"{name}<br>{channels} maps, {height}×{width}"),
                key=f"maps_{name}",
            )

st.subheader("How backpropagation trained it")
metrics = meta["metrics"]
explain(
    f"Each epoch shows the network all {metrics['train_images']:,} training digits, distorted "
    "at random (rotated, scaled, slanted, shifted, thicker or thinner pen) so it also reads digits "
    "drawn on a screen"
    + (f", mixed with {metrics['scribbles_per_epoch']:,} drawings that are not digits (generated scribbles, "
       "letters and shapes, drawn as on this canvas), which it learns to call *not a digit*"
       if "scribbles_per_epoch" in metrics else "")
    + ". After every batch, backpropagation computes the gradient of the loss with "
    "respect to every weight, and the optimiser takes a small step against it. The training loss is "
    "measured on those distorted digits with dropout on, which is why it stays above the test loss."
)
st.plotly_chart(training_curves(digits.NAME, meta["curve"]), key="curves")

with st.expander("Model card", expanded=True):
    model_card(meta, digits.card_text(meta))
    st.caption(
        "MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, CC BY-SA 3.0. "
        "Limits: it has only seen single, upright, Western-style digits. It learned *not a digit* from generated "
        "scribbles, letters and shapes, so it flags drawings like those; other drawings can still get a "
        "confident digit (a U is read as a 0, a u as a 4, a smiley as a 0). Letters written like digits (O, l, S, Z, B, g, q, …) are read as those digits, and "
        "several digits in one drawing are not read as a number."
    )
