"""The room's screen (app_pages/room.py): its parts, drawn from ui/room_summary.py; the phones' link and QR code;
the presenter's controls; the fine-tuning that runs in the background (models/room_finetune.py).

What phones sent is shown as images, numbers and tables (st.image, st.metric, st.dataframe), never as Markdown or
HTML: every text field was also checked against the page's own answers when it was stored (ui/room_store.validate).
"""
from __future__ import annotations

import base64
import functools
import io
import re
import threading
import time
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image, ImageOps

from ui import room, room_address, room_store, room_summary

REFRESH_S = 1.0  # the screen reads the room this often (the issue: 2 s at most); a refresh costs ~30 ms
TILE_PX, FRAME_PX = 84, 6
ROWS = 12  # of the speech table, the latest
COLOURS = {True: (22, 163, 74), False: (220, 38, 38), None: (110, 110, 110)}  # right, wrong, not tapped yet


def phone_link(code: str) -> tuple[str, room_address.RoomBase | None]:
    """The link phones open: the digit page in the room, at an address the room can reach (ui/room_address.py)."""
    if not st.context.url:
        return f"/digits?room={code}", None
    base = room_address.room_base(st.context.url, room_address.settings())
    return re.sub(r"/room/?$", "", base.url) + f"/digits?room={code}", base


def tile(event: dict) -> bytes:
    """A drawing as the network saw it, framed in green (right), red (wrong) or grey (not tapped yet): a PNG."""
    return _tile(event["drawing"], event.get("right"))


@functools.lru_cache(maxsize=512)
def _tile(drawing: str, right: bool | None) -> bytes:
    """Made once per drawing and tap, not at every refresh of every screen: a screen refreshed every second
    re-encoded its 24 tiles each time, and slowed the phones' own answers on its replica."""
    image = Image.fromarray(room_summary.drawing({"drawing": drawing})).resize((TILE_PX, TILE_PX),
                                                                               Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    ImageOps.expand(image.convert("RGB"), FRAME_PX, COLOURS[right]).save(buffer, format="PNG")
    return buffer.getvalue()


def reading(event: dict) -> str:
    read = "not a digit" if event["answer"] == room_summary.NOT_A_DIGIT else str(event["answer"])
    meant = room_summary.truth(event)
    told = "" if event.get("right") is None else " ✓" if event["right"] else f" ✗ {meant if meant is not None else '?'}"
    return f"#{event['id']}: {read} {event['confidence']:.0%}{told}"


def confusion_figure(matrix: np.ndarray) -> go.Figure:
    columns = [str(d) for d in range(10)] + ["not a digit"]
    return go.Figure(go.Heatmap(z=matrix, x=columns, y=[str(d) for d in range(10)], colorscale="Blues", showscale=False,
                                text=matrix, texttemplate="%{text}",
                                hovertemplate="meant %{y}, read %{x}: %{z}<extra></extra>"),
                     layout=dict(title=dict(text="The room's confusion matrix"), height=420, margin=dict(t=50, b=40),
                                 xaxis=dict(title="read as", type="category"),
                                 yaxis=dict(title="meant", type="category", autorange="reversed")))


def digits_part(events: list[dict], mnist_accuracy: float) -> None:
    summary = room_summary.digits(events)
    st.subheader("Draw a digit")
    a, b, c = st.columns(3)
    a.metric("Drawings", summary.count)
    b.metric("The room's accuracy (by taps)", "–" if summary.accuracy is None else f"{summary.accuracy:.0%}",
             help=f"{summary.right} right of {summary.tapped} tapped")
    c.metric("MNIST test", f"{mnist_accuracy:.2%}")
    if summary.wall:
        st.image([tile(e) for e in summary.wall], caption=[reading(e) for e in summary.wall],
                 width=TILE_PX + 2 * FRAME_PX)
    if summary.tapped:
        left, right = st.columns([3, 2])
        left.plotly_chart(confusion_figure(summary.confusion), key="room_confusion")
        with right:
            st.markdown("**The hardest drawings** (wrong, or least sure)")
            st.image([tile(e) for e in summary.hardest], caption=[reading(e) for e in summary.hardest],
                     width=TILE_PX + 2 * FRAME_PX)


def photos_part(events: list[dict]) -> None:
    summary = room_summary.photos(events)
    st.subheader("Upload a photo")
    a, b, c, d = st.columns(4)
    a.metric("Photos", summary.count)
    b.metric("None of the ten", summary.classes.get("none of the ten", 0))
    c.metric("Not sure", summary.classes.get("not sure", 0))
    d.metric("Accuracy (by taps)", "–" if summary.accuracy is None else f"{summary.accuracy:.0%}")
    st.bar_chart({"photos": summary.classes}, horizontal=True, height=260)
    if summary.thumbs:
        st.image([base64.b64decode(e["thumb"]) for e in summary.thumbs[-24:]],
                 caption=[f"#{e['id']}: {e['label']}" for e in summary.thumbs[-24:]], width=96)


def speech_part(events: list[dict]) -> None:
    summary = room_summary.speech(events)
    st.subheader("Record speech")
    st.metric("Digit error rate (heard vs meant)", "–" if summary.error_rate is None else f"{summary.error_rate:.0%}",
              help=f"{summary.errors} errors in {summary.digits} digits meant")
    # st.table: plain text cells (escaped), large on a projector, and readable by the browser tests
    st.table({"heard": [r[0] for r in summary.rows[:ROWS]], "meant": [r[1] or "" for r in summary.rows[:ROWS]]})


def live_part(events: list[dict]) -> None:
    st.subheader("Watch a network learn: the leaderboard")
    board = room_summary.leaderboard(events)
    st.table({"network": [r[0] for r in board], f"best accuracy (≤ {room_summary.LEADERBOARD_S:g} s)":
              [f"{r[1]:.2%}" for r in board], "seconds": [f"{r[2]:.0f}" for r in board],
              "runs": [str(r[3]) for r in board]})


# ---- the fine-tuning, in the background ----------------------------------------------------------------------------
@dataclass
class Job:
    started: float
    result: object = None
    error: str = ""
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


@st.cache_resource
def jobs() -> dict[str, Job]:
    """Per room code, its latest fine-tuning: one per server process (the thread outlives the run that began it)."""
    return {}


def start_fine_tuning(code: str, images: np.ndarray, labels: np.ndarray, model) -> Job:
    from models import room_finetune

    job = jobs().get(code)
    if job is not None and job.running:
        return job
    job = Job(time.time())

    def work() -> None:
        try:
            job.result = room_finetune.fine_tune(images, labels, model)
        except Exception as error:  # noqa: BLE001 - shown on the screen, never raised into a session
            job.error = str(error)
    job.thread = threading.Thread(target=work, name=f"room-finetune-{code}", daemon=True)
    jobs()[code] = job
    job.thread.start()
    return job


def fine_tuning_part(code: str) -> None:
    job = jobs().get(code)
    if job is None:
        return
    if job.running:
        st.info(f"Fine-tuning a copy of the digit network on the room's drawings… {time.time() - job.started:.0f} s",
                icon=":material/model_training:")
    elif job.error:
        st.warning(f"The fine-tuning stopped: {job.error}")
    elif job.result is not None:
        r = job.result
        st.success(f"Fine-tuned on {r.trained_on} of the room's drawings in {r.seconds:.1f} s (one thread).",
                   icon=":material/school:")
        a, b = st.columns(2)
        a.metric(f"The room's other {r.scored_on} drawings", f"{r.room_after:.0%}",
                 f"{r.room_after - r.room_before:+.0%} (was {r.room_before:.0%})")
        b.metric("2,000 MNIST test digits", f"{r.mnist_after:.2%}",
                 f"{r.mnist_after - r.mnist_before:+.2%} (was {r.mnist_before:.2%})")


def presenter_controls(code: str, key: str, events: list[dict], model) -> None:
    """Clear, close, hide one drawing or thumbnail, fine-tune: the key checked again by the store on each."""
    from models import room_finetune

    store = room.store()
    images, labels = room_summary.labelled(room_summary.answers(events).get("digit", []))
    more = room_finetune.needed(len(labels))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        if st.button("Fine-tune on the room's drawings", icon=":material/school:", disabled=bool(more),
                     help=f"{more} more drawings with a right/wrong tap needed" if more else None):
            start_fine_tuning(code, images, labels, model)
        hide = st.number_input("Hide drawing or photo #", min_value=1, step=1, value=None, key="room_hide_id")
        if st.button("Hide", icon=":material/visibility_off:") and hide:
            _act(lambda: store.hide(code, key, int(hide)))
        if st.button("Clear the room", icon=":material/delete_sweep:"):
            _act(lambda: store.clear(code, key))
        if st.button("Close the room", icon=":material/door_front:"):
            _act(lambda: store.close(code, key))
    if more:
        st.caption(f"Fine-tuning needs {more} more drawings the room tapped right or wrong (at least "
                   f"{room_finetune.MIN_LABELLED}: half to learn from, half to score on).")


def _act(action) -> None:
    try:
        action()
    except room_store.RoomError as error:
        st.warning(error.message)
