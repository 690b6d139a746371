"""A phone in a room (`?room=CODE` on any page): the line at the top with Leave (`arrive`, from app.py), and what each
page sends after it has answered, with the person's one tap (`digit`, `photo`, `speech`, `live`: a page adds one
call). Nothing is sent outside a room; never audio; a photo only as a 64x64 thumbnail when the box is ticked.

The store (ui/room_store.py) is one per server process; with DLL_ROOM_REDIS, Redis, shared by the replicas. A phone
never waits on the room: a refused or unsent answer is one small note, and the page's own answer stays.
"""
from __future__ import annotations

import base64
import io
import time
import zlib

import numpy as np
import streamlit as st

from ui import room_store

PARAM = "room"
CODE, PHONE, SENT, JOINED, PENDING = "room_code", "room_phone", "room_sent", "room_joined", "room_pending"
THUMB_PX = 64
RATE_RETRIES = 2
INTRO = ("You're in room {code}: your answers appear on the screen, anonymously (drawings and answers only; no audio, "
         "no photos unless you tick the box)")


@st.cache_resource
def store() -> room_store.RoomStore:
    """One store per server process (Redis when DLL_ROOM_REDIS is set)."""
    return room_store.from_env()


def code() -> str | None:
    return st.session_state.get(CODE)


def _leave() -> None:
    st.session_state.pop(CODE, None)
    st.session_state.pop(JOINED, None)
    if PARAM in st.query_params:
        del st.query_params[PARAM]


def arrive() -> None:
    """Before the page: `?room=CODE` joins the room (once), and the line at the top says so, with Leave."""
    raw = st.query_params.get(PARAM)
    if raw is not None and raw != st.session_state.get("room_link"):
        st.session_state["room_link"] = raw  # a link is read once: Leave is not undone by the next run
        st.session_state[CODE] = room_store.normal_code(raw) or ""
    given = st.session_state.get(CODE)
    if given is None:
        return
    if not given:
        st.warning("This link's room code can't be right (8 letters and digits): you're not in a room.",
                   icon=":material/group_off:")
        st.session_state.pop(CODE)
        return
    st.session_state.setdefault(PHONE, room_store.new_phone())
    if st.session_state.get(JOINED) != given:
        try:
            store().join(given, st.session_state[PHONE])
            st.session_state[JOINED] = given
        except room_store.NoSuchRoom as error:
            st.warning(f"Room {given}: {error.message}", icon=":material/group_off:")
            st.session_state.pop(CODE)
            return
        except room_store.RoomError as error:
            st.caption(f"Room {given}: {error.message}")
    # One row, Leave beside the line (columns would stack on a phone and push the page's answer off the first
    # screen: ui/style.py sets the line in small type there)
    with st.container(key="room_banner", horizontal=True, vertical_alignment="center", border=True):
        st.markdown(":material/groups: " + INTRO.format(code=given))
        st.button("Leave", key="room_leave", on_click=_leave, icon=":material/logout:")


def send(kind: str, slot: int, payload: dict) -> None:
    """The page's answer (and the person's tap) to the room, once per change; a note when it did not go."""
    room = code()
    if not room:
        return
    event = {"kind": kind, "slot": int(slot), **payload}
    sent = st.session_state.setdefault(SENT, {})
    if sent.get((kind, slot)) == event:
        return
    try:
        _add(room, event)
        sent[(kind, slot)] = event
    except room_store.TooFast:
        st.caption("Sent to the room in a moment (at most 2 answers a second).")  # the next run sends it
    except room_store.Unreachable:
        st.caption("The room's screen can't be reached just now: your answer is here, and goes when it's back.")
    except room_store.RoomError as error:
        st.caption(f"Not sent to the room: {error.message}")


def _add(room: str, event: dict) -> None:
    """A person's answer right after their tap can come within the phone's 2 a second: it waits for the next
    second (at most twice) rather than being lost if they do nothing more."""
    for attempt in range(RATE_RETRIES + 1):
        try:
            store().add_event(room, st.session_state[PHONE], event)
            return
        except room_store.TooFast:
            if attempt == RATE_RETRIES:
                raise
            time.sleep(room_store.RATE_WINDOW_S / 2)


def _verdict(kind: str, slot, options: list | None = None) -> tuple[bool | None, object]:
    """The one tap: right or wrong; and when wrong, which answer was meant (from `options`)."""
    tap = st.segmented_control("Was it right? (for the room's screen)", ["Right", "Wrong"], key=f"room_{kind}_{slot}")
    meant = None
    if tap == "Wrong" and options:
        meant = st.pills("It was", options, key=f"room_{kind}_meant_{slot}")
    return (None if tap is None else tap == "Right"), meant


def digit(prediction, slot: int) -> None:
    """Draw a digit: the 28x28 drawing the network saw, its answer and confidence; the tap."""
    if not code() or prediction is None:
        return
    right, meant = _verdict("digit", slot, list(range(10)))
    pixels = np.clip(np.asarray(prediction.input) * 255, 0, 255).astype(np.uint8).tobytes()
    sure = prediction.p_not_digit if prediction.not_digit else prediction.confidence  # of what the page said
    send("digit", slot, {"drawing": base64.b64encode(pixels).decode(), "confidence": round(float(sure), 4),
                         "answer": -1 if prediction.not_digit else int(prediction.digit),
                         "right": right, "meant": meant})


def slot_of(data: bytes) -> int:
    """An uploaded photo's or a recording's slot: the same file, the same answer."""
    return zlib.crc32(data) & 0x7FFFFFFF


def photo(result, data: bytes, image=None, own: bool = True) -> None:
    """Upload a photo (models.photos.Analysis): the class, or "none of the ten" / "not sure", and confidence; the
    tap; the photo only as a 64x64 thumbnail, only when the box is ticked. Nothing for a photo too small to tell,
    nor for the page's examples (own=False): the room shows what its people brought."""
    if not code() or result.too_small or not own:
        return
    top_class, confidence = result.ranking[0]
    label = "none of the ten" if result.outlier else top_class if result.sure else "not sure"
    slot = slot_of(data)
    right, _ = _verdict("photo", slot)
    thumb = None
    if image is not None and st.checkbox("Show my photo on the screen (64×64)", key=f"room_thumb_{slot}"):
        small = image.convert("RGB").resize((THUMB_PX, THUMB_PX))
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=80)
        thumb = base64.b64encode(buffer.getvalue()).decode()
    send("photo", slot, {"label": label, "confidence": round(float(confidence), 4), "right": right, "thumb": thumb})


def speech(result, data: bytes, own: bool = True) -> None:
    """Record speech (models.speech.Transcript): the digits heard; the digits meant, typed. Never the audio; nothing
    for the page's example clips (own=False)."""
    if not code() or not own:
        return
    heard, slot = result.digits if result.prepared.speech else "", slot_of(data)
    typed = st.text_input("The digits you said (for the room's screen)", key=f"room_speech_{slot}", max_chars=40,
                          placeholder="e.g. 4159")
    meant = "".join(ch for ch in typed if ch.isdigit())[:20] or None
    if typed and (meant is None or any(not (ch.isdigit() or ch.isspace()) for ch in typed)):
        st.caption("Digits only, e.g. 4159.")
        meant = None
    send("speech", slot, {"heard": " ".join(heard.replace(" ", ""))[:39], "meant": " ".join(meant) if meant else None})


def live(result) -> None:
    """Watch a network learn (models.live.Result): the run, network, seconds, accuracy, for the leaderboard. The
    network is the page's choice, which can't change while its run trains."""
    if code() and result is not None:
        from models.live import PRESETS

        network = PRESETS[st.session_state.get("live_preset") or "default"].title
        slot = slot_of(f"{result.seconds} {result.test_accuracy} {result.steps}".encode())  # one run, one slot
        send("live", slot, {"network": network, "seconds": round(float(result.seconds), 1),
                                              "accuracy": round(float(result.test_accuracy), 4)})
