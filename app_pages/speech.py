"""Record speech: a recurrent network trained with CTC transcribes spoken digits; teach it your voice."""
import json
from pathlib import Path

import streamlit as st

from models import speech
from app_pages.figures.speech import speech_figure
from ui.card import epoch_lines, model_card
from ui.charts import ACCENT
from ui.loading import load_model
from ui import share
from ui.presenter import explain

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "speech"
# Example clips made by this project with espeak-ng (not from FSDD): name -> file, what is said, how it was made.
EXAMPLES = json.loads((EXAMPLES_DIR / "examples.json").read_text(encoding="utf-8"))

model, meta = load_model(speech.NAME)

st.title("🎙️ Record speech")
explain(
    f"Say a string of up to {speech.MAX_TRAINING_DIGITS} digits (a PIN, a phone number in parts: the longest "
    "strings it was trained on) and a **recurrent network** transcribes it. It reads the "
    "sound's spectrogram 25 times a second with a bidirectional GRU and, trained with **CTC** (connectionist "
    "temporal classification), learns by itself *where* in time each digit is: nobody marked it in the data. "
    "The review's example of RNNs for speech."
)
st.caption(f"Trained on {len(meta['training']['training_speakers'])} adult male speakers (FSDD) and synthetic voices: "
           "other voices (women, children, strong accents) are harder. **Teach it your voice** below if it struggles.")


@st.cache_data(show_spinner=False)
def example_bytes(file: str) -> bytes:
    return (EXAMPLES_DIR / file).read_bytes()


def transcript_figure(result: speech.Transcript):
    return speech_figure(result, speech.LABELS, speech.HOP_LENGTH / speech.SAMPLE_RATE)


@st.cache_resource(max_entries=16, show_spinner=False)
def example_result(name: str):
    """An example clip through the shared model, and its figure: the same for every viewer, so made once per
    server (read-only afterwards)."""
    samples, rate = speech.read_audio(example_bytes(EXAMPLES[name]["file"]))
    result = speech.transcribe(samples, rate, model)
    return result, transcript_figure(result)


def active_model():
    adaptation = st.session_state.get("adaptation")
    if adaptation is not None and st.session_state.get("use_adapted", True):
        return adaptation.model, "your adapted copy"
    return model, "the shared model"


SOURCES = ["Example", "Record", "Upload"]
CLIPS = dict(zip(["pin", "phone", "three", "silence"], EXAMPLES))  # the examples' names in the URL, in order
# The URL's state (ui/share.py): ?example=pin, ?source=record (a recording or an upload is never in the link)
SHARE = share.View("speech", [
    share.Param("source", "source", share.one_of({s.lower(): s for s in SOURCES}), write=str.lower,
                default="Example"),
    share.Param("example", "example", share.one_of(CLIPS), write=share.name_of(CLIPS), default=list(EXAMPLES)[0],
                active=lambda: st.session_state.get("source") in ("Example", None)),
])
SHARE.restore()
st.session_state.setdefault("source", "Example")

# ---- transcribe -------------------------------------------------------------------------------------
# In one container, so that the number of elements shown here (the toggle after adapting, the answer or a message)
# never moves the expanders below: the browser matches elements to the previous run's by position, and one that
# moved was rebuilt, collapsed, with its recorders recreated (see below).
with st.container():
    source = st.segmented_control("Audio", SOURCES, key="source") or "Example"
    data, expected = None, None
    if source == "Record":
        recording = st.audio_input("Say a few digits, e.g. “four one five nine”", key="recording")
        data = recording.getvalue() if recording is not None else None  # stays in memory
    elif source == "Upload":
        upload = st.file_uploader("An audio file (WAV, FLAC, OGG or MP3)", type=["wav", "flac", "ogg", "mp3"],
                                  key="upload")
        data = upload.getvalue() if upload is not None else None
    else:
        name = st.selectbox("Example clip (synthesised with espeak-ng, like some of the training voices)",
                            list(EXAMPLES), key="example")
        data = example_bytes(EXAMPLES[name]["file"])
        expected = EXAMPLES[name]["says"]
    SHARE.sync()

    if st.session_state.get("adaptation") is not None:
        st.toggle("Use my adapted model", value=True, key="use_adapted")

    if data is None:
        st.info("**Record** some digits with the microphone, **upload** a file, or pick an **example**.",
                icon=":material/mic:")
    else:
        try:
            net, which = active_model()
            if source == "Example" and net is model:
                result, figure = example_result(name)
            else:
                samples, rate = speech.read_audio(data)
                result, figure = speech.transcribe(samples, rate, net), None
        except speech.AudioError as error:
            st.error(f"**Can't use this audio.** {error}", icon=":material/error:")
        else:
            if result.prepared.truncated:
                st.warning(f"The recording is longer than {speech.MAX_SECONDS:.0f} s: only the first "
                           f"{speech.MAX_SECONDS:.0f} s were transcribed.")
            if result.no_speech:
                st.warning("**No speech detected.** " + (
                    "The recording is silent (or far too quiet): check the microphone, or speak closer to it."
                    if not result.prepared.speech else
                    "The network heard no digit: speak closer to the microphone, or say digits from zero to nine."),
                    icon=":material/volume_off:")
            else:
                per_digit = "confidence per digit: " + ", ".join(
                    f"**{d}** {c:.0%}" for d, c in zip(result.digits.split(), result.confidences)) + f"  ·  by {which}"
                if result.sure:
                    st.markdown(f"## <span style='color:{ACCENT}'>{result.digits}</span>", unsafe_allow_html=True)
                    st.markdown(f"“{result.words}”  ·  {per_digit}")
                else:  # the answer is the doubt; the digits are only a guess, in small type
                    st.markdown("## Not sure what was said")
                    st.warning("**Not sure.** " + " ".join(result.doubts), icon=":material/help:")
                    st.caption(f"Best guess: {result.digits} (“{result.words}”)  ·  {per_digit}")
            if expected is not None:
                st.caption(f"The clip says: “{expected or 'nothing'}”.")
            left, right = st.columns(2)
            left.caption("What was recorded")
            left.audio(data)
            right.caption("What the network hears (8 kHz, speech found and levelled)")
            if result.prepared.waveform.any():
                right.audio(result.prepared.waveform, sample_rate=speech.SAMPLE_RATE)
            else:  # all zeros: nothing to play (and Streamlit's player would divide by the zero peak)
                right.caption("(digital silence)")
            st.plotly_chart(figure if figure is not None else transcript_figure(result), key="speech_figure")
            st.caption("Top: the waveform. Middle: the log-mel spectrogram the network reads (40 frequency bands, "
                       "normalised). Bottom: the network's output per 40 ms frame: the probability of *blank* (no "
                       "new digit, grey) and of each digit. CTC lets it fire each digit in a spike and say blank in "
                       "between.")


# ---- teach it your voice ------------------------------------------------------------------------
# The expander keeps its place (after the container above) and has a key, its identity in the browser. Before,
# the "Use my adapted model" toggle that appears after adapting moved it down one place: the browser rebuilt it,
# collapsed (hiding the result), and created its four recorders again, which then showed "An error has occurred"
# (a recorder remounted after its recording's blob: URL was freed cannot play it).
with st.expander("Teach it your voice", icon=":material/record_voice_over:", key="teach"):
    st.markdown(
        "Record the four strings below (each digit twice). The network is then **fine-tuned on your recordings "
        f"by backpropagation**, here in the page ({speech.FINE_TUNE_STEPS} steps), and transcribes with the adapted copy. "
        "The copy lives in your browser session only; the shared model is never changed and nothing is saved.")
    enrolment = []
    for i, prompt in enumerate(speech.ENROLMENT_PROMPTS):
        said = st.audio_input(f"Say: “{' '.join(speech.WORDS[int(d)] for d in prompt.split())}”", key=f"enrol_{i}")
        if said is not None:
            enrolment.append((said.getvalue(), prompt))
    ready = len(enrolment) == len(speech.ENROLMENT_PROMPTS)
    if st.button("Adapt the model to my voice", disabled=not ready, type="primary", key="adapt"):
        try:
            clips = [(*speech.read_audio(b), text) for b, text in enrolment]
        except speech.AudioError as error:
            st.error(f"**Can't use a recording.** {error}")
        else:
            bar = st.progress(0.0, text="Fine-tuning…")
            st.session_state["adaptation"] = speech.adapt(model, clips, progress=lambda i, n, loss: bar.progress(
                i / n, text=f"Fine-tuning: step {i}/{n}, CTC loss {loss:.3f}"))
            st.rerun()
    if not ready:
        st.caption(f"{len(enrolment)} of {len(speech.ENROLMENT_PROMPTS)} recorded.")
    report = st.session_state.get("adaptation")
    if report is not None:
        total = report.digits
        st.success(f"Adapted. Digit errors on your recordings: **{report.errors_before}/{total} before → "
                   f"{report.errors_after}/{total} after** (measured on the same recordings it learned from: say new "
                   "digits above to test it).")
        st.plotly_chart(epoch_lines([{"epoch": i + 1, "loss": l} for i, l in enumerate(report.losses)],
                                    {"loss": "CTC loss on your recordings, per step"}), key="adapt_curve")
        if st.button("Forget my adapted model", key="forget"):
            st.session_state.pop("adaptation", None)
            st.rerun()

# ---- model card -----------------------------------------------------------------------------------
with st.expander("Model card", icon=":material/info:", key="card"):
    model_card(meta, speech.card_text(meta))
    st.caption("Free Spoken Digit Dataset (Zohar Jackson et al.), CC BY-SA 4.0. "
               f"Synthetic voices: {', '.join(meta['training'].get('synthesisers', ['espeak-ng']))}.")
