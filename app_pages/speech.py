"""Record speech: a recurrent network trained with CTC transcribes spoken digits; teach it your voice."""
import hashlib
import json
from pathlib import Path

import streamlit as st

from models import speech, voice_profile
from app_pages.figures.speech import speech_figure
from ui.card import epoch_lines, model_card
from ui.charts import ACCENT
from ui.loading import load_model
from ui import room, secure, share
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
explain(speech.training_voices(meta) + " " + (speech.who_it_works_for(meta) or "")  # folded as the explanation is
        + " **Teach it your voice** below if it struggles.", caption=True)


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
    source = st.segmented_control("Audio", SOURCES, key="source", required=True) or "Example"
    data, expected = None, None
    can_record = secure.media_allowed()  # browsers give the microphone to https pages only (ui/secure.py)
    if source == "Record" and not can_record:
        secure.insecure_note("microphone")
    elif source == "Record":
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
        if can_record or source != "Record":  # else the note above says what to do
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
                    "Only steady noise (a fan, hiss, a room's hum): nothing stands out above it. Speak closer to the "
                    "microphone, or somewhere quieter." if result.prepared.steady_noise else
                    "The recording is silent (or far too quiet): check the microphone, or speak closer to it."
                    if not result.prepared.speech else
                    f"The network ({which}) heard no digit: speak closer to the microphone, or say digits from zero "
                    "to nine."),
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
            room.speech(result, data, own=source != "Example")  # in a room: heard and meant, never the audio
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
# collapsed (hiding the result), and created its recorders again, which then showed "An error has occurred"
# (a recorder remounted after its recording's blob: URL was freed cannot play it). Inside it, each part whose
# number of elements changes (a message, the result) sits in its own container, so that the recorders after it
# keep their places too.
PROMPTS = speech.ENROLMENT_PROMPTS + [speech.HELD_BACK_PROMPT]  # the last one is never learned from
HELD_BACK = len(PROMPTS) - 1
NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
TIMES_EACH = NUMBERS[min(sum(p.digits.split().count(str(d)) for p in speech.ENROLMENT_PROMPTS) for d in range(10))]
SLOW = sum(p.slow for p in speech.ENROLMENT_PROMPTS)


def prompt_text(i: int, prompt: speech.Prompt) -> str:
    """How the page asks for prompt i: its words, and how to say them."""
    if prompt.slow:
        return f"**{i + 1}.** “{' … '.join(prompt.words.split())}”  ·  *slowly, one digit at a time, pause after each*"
    if i == HELD_BACK:
        return f"**{i + 1}.** “{prompt.words}”  ·  *test prompt, not learned from*"
    return f"**{i + 1}.** “{prompt.words}”"


def heard(i: int, data: bytes) -> str | None:
    """What the shared model hears in recording i ("" when no digit; None when no speech or unreadable), kept in
    the session so that each recording is transcribed once."""
    seen = st.session_state.setdefault("heard_by_shared", {})
    digest = hashlib.sha256(data).hexdigest()
    if seen.get(i, (None,))[0] != digest:
        try:
            result = speech.transcribe(*speech.read_audio(data), model)
            seen[i] = (digest, result.digits if result.prepared.speech else None)
        except speech.AudioError:
            seen[i] = (digest, None)
    return seen[i][1]


def profile_bytes(report: speech.Adaptation) -> bytes:
    """The voice profile of the session's adaptation, made once (kept beside it in the session)."""
    kept = st.session_state.get("profile_bytes")
    if kept is None or kept[0] is not report:
        kept = (report, voice_profile.to_bytes(report, model, PROMPTS))
        st.session_state["profile_bytes"] = kept
    return kept[1]


def errors_line(before, after, digits) -> str:
    return f"{before}/{digits} → {after}/{digits} digit errors"


with st.expander("Teach it your voice", icon=":material/record_voice_over:", key="teach"):
    st.markdown(
        f"Record the {len(PROMPTS)} prompts below. The network is **fine-tuned on the first "
        f"{len(speech.ENROLMENT_PROMPTS)} by backpropagation**, here in the page ({speech.FINE_TUNE_STEPS} steps "
        f"of its recurrent and output layers), and then transcribes with the adapted copy. Together they say every "
        f"digit {TIMES_EACH} times; {NUMBERS[SLOW]} of the prompts are said slowly, one digit at a time. The network "
        "cuts them into words and, at each step, also "
        f"learns from single words and new strings made of them. Prompt {HELD_BACK + 1}, the **test prompt**, is never "
        "learned from: it shows honestly whether adapting helped. The copy lives in your browser session only: the "
        "shared model is never changed, nothing is saved on the server. Download your **voice profile** to keep it.")
    if (summary := speech.enrolment_summary(meta)) is not None:
        st.caption(summary)
    with st.container(key="profile_load"):  # its message comes and goes: its own container
        upload = st.file_uploader("Recorded before? **Load a voice profile** you downloaded "
                                  f"({voice_profile.FILE_NAME})", type=["safetensors"], key="profile_upload",
                                  max_upload_size=4)  # MB: a profile is at most 3
        refused = False  # a bad file after a good one: its error alone, not also "loaded"
        if upload is not None and st.session_state.get("profile_loaded") != upload.file_id:
            try:
                profile = voice_profile.read(upload.getvalue(), model)
            except voice_profile.ProfileError as error:
                how = st.session_state.get("adapted_how", "Adapted in this session.")
                kept = st.session_state.get("adaptation") is not None  # a good one before: it stays, say so
                st.error(f"**Can't use this voice profile.** {error}" + (
                    f" The adapted copy you had stays in use: {how[:1].lower()}{how[1:]}" if kept else ""),
                    icon=":material/error:")
                refused = True
            else:
                st.session_state["adaptation"] = profile.adaptation()
                st.session_state["adapted_how"] = f"Loaded from {upload.name} (made {profile.header['created']})."
                st.session_state["profile_loaded"] = upload.file_id  # loaded once, not at every rerun
                st.rerun()
        if not refused and upload is not None and st.session_state.get("adaptation") is not None and \
                st.session_state.get("adapted_how", "").startswith("Loaded"):
            st.success("Your voice profile is loaded: the answers above come from " + (
                "your adapted copy." if st.session_state.get("use_adapted", True) else
                "the shared model (“Use my adapted model” is off).") + " Its numbers, and a recorder to test it on a "
                "new string, are at the end of this section.", icon=":material/check_circle:")
    enrolment = {}
    if not can_record:  # no recorders that can only fail: one note instead
        secure.insecure_note("microphone", "load a voice profile you recorded before")
    for i, prompt in enumerate(PROMPTS if can_record else []):
        with st.container(key=f"prompt_{i}"):  # the same two elements whatever the status: nothing moves
            status = st.empty()
            said = st.audio_input(f"Record prompt {i + 1}", key=f"enrol_{i}", label_visibility="collapsed")
            if said is None:
                status.markdown(f"○ {prompt_text(i, prompt)}  —  not yet")
                continue
            digits = heard(i, said.getvalue())
            if digits is None:
                status.markdown(f"⚠️ {prompt_text(i, prompt)}  —  **no speech heard**: press the microphone to "
                                "record it again, closer to it")
                continue
            enrolment[i] = said.getvalue()
            if speech.as_many_digits(prompt.digits, digits):
                status.markdown(f"✓ {prompt_text(i, prompt)}  —  recorded (the shared model hears “{digits or 'nothing'}”)"
                                "; press the microphone to record it again")
            else:  # kept: a voice it doesn't know is often misheard, which is what adapting is for
                n = len(digits.split())
                status.markdown(f"⚠️ {prompt_text(i, prompt)}  —  recorded, but the shared model hears "
                                f"{n} digit{'s' * (n != 1)} (“{digits or 'nothing'}”"
                                f"), where the prompt has {len(prompt.digits.split())}. If you said the prompt, keep it: a "
                                "voice it doesn't know is often misheard, and that is what adapting is for. If not, "
                                "press the microphone to record it again.")
    ready = len(enrolment) == len(PROMPTS)
    st.progress(len(enrolment) / len(PROMPTS), text=f"{len(enrolment)} of {len(PROMPTS)} recorded")
    clicked = st.button("Adapt the model to my voice", disabled=not ready, type="primary", key="adapt")
    with st.container(key="adapt_result"):  # empty, a progress bar, or the result
        if clicked:
            try:
                clips = [(*speech.read_audio(enrolment[i]), p.digits) for i, p in enumerate(PROMPTS)]
            except speech.AudioError as error:
                st.error(f"**Can't use a recording.** {error}")
            else:
                bar = st.progress(0.0, text="Fine-tuning…")
                st.session_state["adaptation"] = speech.adapt(
                    model, clips[:HELD_BACK], steps=speech.FINE_TUNE_STEPS, held_back=clips[HELD_BACK],
                    progress=lambda i, n, loss: bar.progress(
                        i / n, text=f"Fine-tuning: step {i} of {n}, CTC loss {loss:.3f}"))
                st.session_state["adapted_how"] = "Adapted in this session."
                st.rerun()
        report = st.session_state.get("adaptation")
        if report is not None:
            if report.held_back_before is not None:
                st.success(f"**On the test prompt (not learned from): "
                           f"{errors_line(report.held_back_before, report.held_back_after, report.held_back_digits)}**"
                           " (shared model → adapted copy): speech the copy never learned from.")
                st.markdown(f"On the {len(speech.ENROLMENT_PROMPTS)} prompts it learned from: "
                            f"**{errors_line(report.errors_before, report.errors_after, report.digits)}** (learned from, "
                            "so they flatter it).")
            st.caption(f"{st.session_state.get('adapted_how', '')} {len(report.losses)} fine-tuning steps in "
                       f"{report.seconds:.1f} s.")
            st.plotly_chart(epoch_lines([{"epoch": i + 1, "loss": l} for i, l in enumerate(report.losses)],
                                        {"loss": "CTC loss on your recordings, per step"}, x_title="fine-tuning step"),
                            key="adapt_curve")
            st.markdown("**Now say a new string to test it**: digits in an order you have not recorded, e.g. "
                        "“seven two eight one”. Both models transcribe it, side by side.")
            trial = st.audio_input("Say a new string to test", key="try_new") if can_record else None
            if not can_record:
                secure.insecure_note("microphone", "upload a recording at the top of the page (your adapted copy "
                                                   "answers there)")
            with st.container(key="try_result"):
                if trial is not None:
                    try:
                        samples, rate = speech.read_audio(trial.getvalue())
                    except speech.AudioError as error:
                        st.error(f"**Can't use this audio.** {error}", icon=":material/error:")
                    else:
                        for column, (title, net) in zip(st.columns(2), [("The shared model", model),
                                                                        ("Your adapted copy", report.model)]):
                            result = speech.transcribe(samples, rate, net)
                            column.caption(title)
                            if result.sure:
                                column.markdown(f"### {result.digits}")
                                column.caption(f"“{result.words}”")
                            elif result.digits:  # a guess is never shown in the answer's type
                                column.markdown("### Not sure")
                                column.caption(f"Best guess: {result.digits}. " + " ".join(result.doubts))
                            else:
                                column.markdown("### (no digits)")
                                column.caption("No digit heard.")
            left, right = st.columns(2)
            left.download_button("Download my voice profile", profile_bytes(report), file_name=voice_profile.FILE_NAME,
                                 mime="application/octet-stream", on_click="ignore", icon=":material/download:",
                                 key="download_profile")
            if right.button("Forget my adapted model", key="forget"):
                for key in ("adaptation", "profile_bytes", "adapted_how"):
                    st.session_state.pop(key, None)
                st.rerun()
            st.caption("The voice profile is the adapted copy's changed weights (safetensors, about 2 MB), for this "
                       "version of the model: load it on a later visit instead of recording again.")

# ---- model card -----------------------------------------------------------------------------------
with st.expander("Model card", icon=":material/info:", key="card"):
    model_card(meta, speech.card_text(meta))
    st.caption(speech.CREDITS + f" Synthetic voices: {', '.join(meta['training'].get('synthesisers', ['espeak-ng']))}.")
