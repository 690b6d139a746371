"""AppTest of the room (ui/room.py, ui/room_screen.py, app_pages/room.py), in-process store: the presenter opens a
room; a phone in it draws, taps, and its answer reaches the store and the room's screen; a wrong code, a wrong key,
Leave; what a phone sent is never shown as HTML."""
from __future__ import annotations

import base64
import io
import time

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from harness.drawing import render
from ui import room, room_store

TIMEOUT = 60


def canvas(digit: int) -> dict:
    buffer = io.BytesIO()
    Image.fromarray(render(digit, 60, 40, 180, 18)).save(buffer, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": data}, "backgroundFit": None}


def text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("title", "markdown", "caption", "info", "warning", "error", "success")
                     for e in getattr(at, kind))


def room_page(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    at.switch_page("app_pages/room.py").run()
    return at


def phone(code: str, digit: int | None = 7) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["room"] = code
    at.run()
    if digit is not None:
        at.session_state["canvas_0"] = canvas(digit)
    at.switch_page("app_pages/digits.py").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def opened() -> room_store.Room:
    """A room opened by pressing the room page's button, as a presenter does: (code, key) from its URL."""
    at = room_page()
    assert not at.exception
    [b for b in at.button if b.label == "Open a room"][0].click().run()
    assert not at.exception, at.exception
    code, key = at.query_params["code"], at.query_params["key"]
    assert room_store.normal_code(code) == code and len(key) >= 22 and at.query_params["present"] == "1"
    assert f"Room **{code}**" in text(at) and f"/digits?room={code}" in [c.value for c in at.code][0]
    labels = [b.label for b in at.button]
    assert "Fine-tune on the room's drawings" in labels and "Close the room" in labels
    assert "20 more drawings" in text(at)  # too few labelled drawings: how many more
    return room_store.Room(code, key)


def test_a_phone_in_the_room_sends_its_drawing_and_tap_and_the_screen_shows_them(opened):
    at = phone(opened.code)
    assert room.INTRO.format(code=opened.code) in text(at)
    assert "It's a **7**" in text(at)  # its own answer, as without a room
    (event,) = room.store().events(opened.code)
    assert (event["kind"], event["answer"], event["right"]) == ("digit", 7, None)
    assert len(base64.b64decode(event["drawing"])) == 784 and event["confidence"] > 0.7
    tap = [s for s in at.get("button_group") if "Was it right?" in str(s.proto.label)][0]
    tap.set_value("Right").run()  # AppTest's segmented_control
    assert not at.exception
    events = room.store().events(opened.code)
    assert len(events) == 2 and events[-1]["right"] is True and events[-1]["slot"] == event["slot"]

    screen = room_page(code=opened.code)  # a viewer with the code only: the screen, no controls
    assert not screen.exception
    metrics = {m.label: m.value for m in screen.metric}
    assert metrics["Phones joined"] == "1" and metrics["Answers in"] == "1"
    assert metrics["The room's accuracy (by taps)"] == "100%"
    assert "Close the room" not in [b.label for b in screen.button]


def arriving(code: str) -> AppTest:
    """A phone's first page with ?room=CODE (the line or the warning shows on the page the link opens)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["room"] = code
    return at.run()


def test_a_wrong_code_or_a_closed_room_joins_nothing(opened):
    at = arriving(room_store.new_room().code)
    assert "No room with this code" in text(at) and "You're in room" not in text(at)
    assert "can't be right" in text(arriving("<b>x</b>"))
    room.store().close(opened.code, opened.key)
    at = arriving(opened.code)
    assert "No room with this code" in text(at) and "You're in room" not in text(at)
    at.switch_page("app_pages/digits.py").run()
    assert "You're in room" not in text(at)


def test_a_wrong_key_shows_the_screen_without_the_controls(opened):
    at = room_page(code=opened.code, key=opened.key[:-2] + "xx")
    assert not at.exception
    assert "not this room's" in text(at) and "Close the room" not in [b.label for b in at.button]


def test_leave_takes_the_phone_out_of_the_room(opened):
    at = phone(opened.code)
    [b for b in at.button if b.label == "Leave"][0].click().run()
    assert "You're in room" not in text(at) and "room" not in at.query_params
    before = len(room.store().events(opened.code))
    at.session_state["canvas_1"] = canvas(3)
    at.session_state["canvas_version"] = 1
    at.run()
    assert len(room.store().events(opened.code)) == before  # nothing sent after Leave


def test_the_presenter_hides_a_drawing_and_clears_the_room(opened):
    phone(opened.code)
    (event,) = room.store().events(opened.code)
    at = room_page(code=opened.code, key=opened.key)
    assert len(at.get("image")) >= 2  # the QR code and the wall
    at.number_input(key="room_hide_id").set_value(event["id"])
    [b for b in at.button if b.label == "Hide"][0].click().run()
    assert room.store().events(opened.code)[0]["hidden"]
    [b for b in at.button if b.label == "Clear the room"][0].click().run()
    assert room.store().events(opened.code) == []


def test_nothing_a_phone_sends_is_rendered_as_html():
    """The room's code never renders HTML (what phones send is shown as images, numbers and tables), and the store
    keeps only values from the pages' own answers (tests/test_room_store.py: an <img onerror> label is refused)."""
    for path in [ROOT / "app_pages" / "room.py", *(ROOT / "ui").glob("room*.py")]:
        code = path.read_text()
        assert "unsafe_allow_html" not in code and "st.html" not in code and "components.html" not in code, path


def in_room(code: str, page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["room"] = code
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str) -> AppTest:
    at.segmented_control(key="source").set_value("Upload").run()
    at.file_uploader[0].set_value((name, data, mime)).run()
    assert not at.exception, at.exception
    return at


def test_the_photo_page_sends_its_class_and_the_photo_only_when_ticked(opened):
    from harness.replicas import cat_photo

    at = in_room(opened.code, "app_pages/photos.py")
    assert room.store().events(opened.code) == []  # the page's own example is not the room's
    upload(at, "my cat.jpg", cat_photo(), "image/jpeg")
    (event,) = room.store().events(opened.code)
    assert event["kind"] == "photo" and event["label"] == "cat" and event["thumb"] is None
    [c for c in at.checkbox if c.label.startswith("Show my photo on the screen")][0].check().run()
    thumb = room.store().events(opened.code)[-1]["thumb"]
    assert Image.open(io.BytesIO(base64.b64decode(thumb))).size == (room.THUMB_PX, room.THUMB_PX)


def test_the_speech_page_sends_the_digits_heard_and_meant_never_audio(opened):
    at = in_room(opened.code, "app_pages/speech.py")
    assert room.store().events(opened.code) == []  # an example clip is not the room's
    upload(at, "pin.wav", (ROOT / "assets" / "speech" / "pin_en-us.wav").read_bytes(), "audio/wav")
    (box,) = [b for b in at.text_input if b.label.startswith("The digits you said")]
    box.set_value("4 1 5 9").run()
    events = room.store().events(opened.code)
    assert events and events[-1]["kind"] == "speech" and events[-1]["meant"] == "4 1 5 9" and events[-1]["heard"]
    assert set(events[-1]) <= {"kind", "slot", "heard", "meant", "id", "phone", "t", "hidden"}  # no audio field
    box.set_value("four").run()
    assert "Digits only" in text(at)


def test_the_live_page_sends_its_run_for_the_leaderboard(opened):
    def script():
        from types import SimpleNamespace

        from ui import room

        room.live(SimpleNamespace(seconds=15.04, test_accuracy=0.98123, steps=900))

    at = AppTest.from_function(script, default_timeout=TIMEOUT)
    for name, value in {room.CODE: opened.code, room.PHONE: "phone-live-0001", "live_preset": "lenet"}.items():
        at.session_state[name] = value
    at.run()
    (event,) = room.store().events(opened.code)
    assert (event["network"], event["seconds"], event["accuracy"]) == ("LeNet-style CNN", 15.0, 0.9812)


@pytest.fixture
def redis_room(monkeypatch):
    """The app's store is Redis (started here): DLL_ROOM_REDIS set, the cached store made again; put back after."""
    from harness import redis_server

    if redis_server.BINARY is None:
        pytest.skip(redis_server.MISSING)
    with redis_server.RedisServer() as server:
        monkeypatch.setenv(room_store.ENV, server.url)
        room.store.clear()
        try:
            yield server
        finally:
            room.store.clear()


def test_redis_down_phones_keep_their_answers_and_the_screen_says_so_then_both_recover(redis_room):
    from ui.room_redis import RETRY_S

    presenter = room_page()
    [b for b in presenter.button if b.label == "Open a room"][0].click().run()
    code = presenter.query_params["code"]
    at = phone(code, 7)
    assert len(room.store().events(code)) == 1
    redis_room.stop()
    at.session_state["canvas_1"] = canvas(3)
    at.session_state["canvas_version"] = 1
    at.run()
    assert "It's a **3**" in text(at) and "can't be reached just now" in text(at)  # its own answer, and a note
    presenter.run()
    assert "The room's store is unreachable" in text(presenter)
    redis_room.start()  # empty again: no persistence
    time.sleep(RETRY_S + 0.1)
    presenter.run()  # the presenter's screen puts the room back under the same code
    assert "unreachable" not in text(presenter) and f"Room **{code}**" in text(presenter)
    at.run()  # the phone's next run sends the answer that waited
    assert "can't be reached" not in text(at)
    assert [e["answer"] for e in room.store().events(code)] == [3]


def test_the_presenter_fine_tunes_on_the_rooms_drawings_in_the_background(opened):
    """20 drawings tapped right or wrong: the button is enabled; pressed, the screen says it is fine-tuning, then
    shows the room's other half and the 2,000 MNIST digits, before and after."""
    from benchmarks.room_finetune import room_drawings

    images, labels = room_drawings(20, turn=False)
    for i, (image, label) in enumerate(zip(images, labels)):
        room.store().add_event(opened.code, f"phone-tune-{i:03d}", {
            "kind": "digit", "slot": 0, "drawing": base64.b64encode(image.tobytes()).decode(), "answer": int(label),
            "confidence": 0.9, "right": True})
    at = room_page(code=opened.code, key=opened.key)
    (tune,) = [b for b in at.button if b.label == "Fine-tune on the room's drawings"]
    assert not tune.disabled and "more drawings" not in text(at)
    tune.click().run()
    deadline = time.time() + 90
    while "Fine-tuned on" not in text(at) and time.time() < deadline:
        time.sleep(1)
        at.run()
    assert "Fine-tuned on 10 of the room's drawings" in text(at), text(at)
    labels = [m.label for m in at.metric]
    assert "The room's other 10 drawings" in labels and "2,000 MNIST test digits" in labels
