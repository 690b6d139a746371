"""Phones in the room (issue 41): browsers give the microphone and the camera to secure pages only (https, or this
computer). On an http page from another host every recorder and camera is one sentence instead (ui/secure.py); over
https, made with the project's own certificate command (deploy/https.py), a phone records and takes photos.

The room's phone is Chromium at 390x844 that opens room.test (mapped to 127.0.0.1 by --host-resolver-rules: no
/etc/hosts edit), with a fake microphone (a PIN spoken by espeak-ng) and a fake camera (a cat)."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from conftest import free_port, start_server, stop_server
from test_share import open_page as share_page
from ui import secure

ROOM = "room.test"
PIN, PIN_WORDS = "4 1 5 9", "four one five nine"
MIC_NOTE, CAMERA_NOTE = "Recording needs https", "Taking a photo needs https"


# ---- the helper ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url,expected", [
    ("http://room.test:8501/speech", False), ("http://192.168.1.20:8501", False), ("http://0.0.0.0:8501", False),
    ("http://localhost:8501/speech", True), ("http://127.0.0.1:8501", True), ("http://127.0.1.1", True),
    ("http://[::1]:8501/photos", True), ("http://app.localhost:8501", True), ("https://room.test:8501", True),
    ("https://192.168.1.20:8443/faces", True), (None, None), ("", None), ("not a url", None), ("http://[::1", None),
])
def test_secure_origin(url, expected):
    assert secure.secure_origin(url) is expected


@pytest.mark.parametrize("url,origin,allowed", [
    ("http://room.test:8501/speech", "https://room.test:8501", False),  # the page's URL first
    (None, "http://room.test:8501", False),  # no URL: the WebSocket's Origin
    (None, "https://room.test:8501", True), (None, None, True),  # nothing known: allowed
])
def test_media_allowed_reads_the_url_then_the_origin(monkeypatch, url, origin, allowed):
    class Context:
        headers = {"Origin": origin} if origin else {}

    Context.url = url
    monkeypatch.setattr(secure.st, "context", Context())
    assert secure.media_allowed() is allowed


def open_page(page: str, url: str | None, params: dict) -> AppTest:
    return share_page(page, params, url, timeout=90)


def notes(at: AppTest, start: str) -> list[str]:
    return [i.value for i in at.info if i.value.startswith(f"**{start}")]


@pytest.mark.parametrize("url", ["http://room.test:8501/speech", "https://room.test:8501/speech",
                                 "http://localhost:8501/speech", None])
def test_speech_recorders_only_on_a_secure_page(url):
    at = open_page("speech", url, {"source": "record"})
    insecure = secure.secure_origin(url) is False
    recorders = at.get("audio_input")
    if insecure:  # the main recorder and the nine of "Teach it your voice": none, a sentence each place instead
        assert not recorders and len(notes(at, MIC_NOTE)) == 2
        assert all("upload a recording instead" in n or "voice profile" in n for n in notes(at, MIC_NOTE))
        assert not [i for i in at.info if i.value.startswith("**Record** some digits")]  # no advice to record
    else:
        assert len(recorders) == 10 and not notes(at, MIC_NOTE)


def test_the_adapted_models_test_recorder_only_on_a_secure_page():
    """After a voice profile is loaded, "Teach it your voice" offers a recorder to test it: on an http page from
    another host, the sentence instead (the main page's upload, which the adapted copy answers)."""
    import torch

    from models import speech, voice_profile
    from test_voice_profile import say

    torch.set_num_threads(1)
    shipped = speech.load(device=torch.device("cpu")).model
    clips = [(*speech.read_audio(say(p)), p.digits) for p in speech.ENROLMENT_PROMPTS[:2]]
    data = voice_profile.to_bytes(speech.adapt(shipped, clips, steps=3), shipped)  # a quick profile: 3 steps
    for url, recorders in ((f"http://{ROOM}:8501/speech", 0), (f"https://{ROOM}:8501/speech", 1)):
        at = open_page("speech", url, {})
        at.file_uploader(key="profile_upload").set_value((voice_profile.FILE_NAME, data, "application/octet-stream"))
        at.run()
        assert not at.exception and at.session_state["adaptation"] is not None
        assert len([a for a in at.get("audio_input") if a.key == "try_new"]) == recorders
        assert bool([n for n in notes(at, MIC_NOTE) if "your adapted copy answers there" in n]) == (not recorders)


@pytest.mark.parametrize("page,params", [("photos", {"source": "camera"}), ("faces", {})])
def test_cameras_only_on_a_secure_page(page, params):
    at = open_page(page, f"http://{ROOM}:8501/{page}", params)
    assert not at.get("camera_input") and notes(at, CAMERA_NOTE)
    assert all("upload a photo instead" in n for n in notes(at, CAMERA_NOTE))
    at = open_page(page, f"https://{ROOM}:8501/{page}", params)
    assert at.get("camera_input") and not notes(at, CAMERA_NOTE)


# ---- a phone in Chromium --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def room_certificate(tmp_path_factory):
    """The certificate for room.test, made by the project's command (as a presenter runs it, --print)."""
    from deploy import https

    folder = tmp_path_factory.mktemp("dll-https")
    assert https.main(["--print", "--only", "--name", ROOM, "--ip", "127.0.0.1", "--dir", str(folder)]) == 0
    return folder / https.CERT, folder / https.KEY


@pytest.fixture(scope="module")
def https_url(room_certificate, tmp_path_factory):
    """The app served over https with that certificate, as https://room.test:PORT."""
    port = free_port()
    try:
        server = start_server(port, tmp_path_factory.mktemp("https") / "streamlit.log", tls=room_certificate)
    except RuntimeError as error:
        pytest.fail(str(error))
    yield f"https://{ROOM}:{port}"
    stop_server(server)


@pytest.fixture(scope="module")
def room_media(tmp_path_factory):
    """The fake microphone's file (the PIN, then 5 s of silence: the device loops it) and the fake camera's."""
    from conftest import espeak_wav
    from harness.camera import chelsea_y4m

    folder = tmp_path_factory.mktemp("room-media")
    (folder / "pin.wav").write_bytes(espeak_wav(PIN_WORDS, voice="en-gb-x-rp", speed=140, lead=0.5, tail=5.0))
    (folder / "cat.y4m").write_bytes(chelsea_y4m())
    return folder


@pytest.fixture(scope="module")
def room_browser(playwright, room_media):
    """Chromium that resolves room.test to this computer, its microphone saying the PIN, its camera seeing a cat."""
    from conftest import CHROMIUM, CHROMIUM_ARGS

    folder = room_media
    args = [f"--host-resolver-rules=MAP {ROOM} 127.0.0.1", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={folder / 'pin.wav'}",
            f"--use-file-for-fake-video-capture={folder / 'cat.y4m'}"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + args)
    yield browser
    browser.close()


@pytest.fixture
def phone(room_browser):
    context = room_browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                       ignore_https_errors=True, permissions=["microphone", "camera"])
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def no_error(page) -> None:
    assert page.get_by_text("An error has occurred").count() == 0 and page.get_by_text("Traceback").count() == 0


def test_a_phone_over_http_gets_the_reason_instead_of_a_broken_recorder_or_camera(phone, app_url):
    page, port = phone, urlsplit(app_url).port
    page.goto(f"http://{ROOM}:{port}/speech?source=record")
    page.get_by_text(MIC_NOTE).first.wait_for()
    assert page.evaluate("window.isSecureContext") is False  # what the browser decides, not only the app
    teach = page.get_by_test_id("stExpander").filter(has=page.locator("summary", has_text="Teach it your voice"))
    teach.locator("summary").click()
    teach.get_by_text(MIC_NOTE).wait_for()
    assert page.locator("[data-testid=stAudioInput]").count() == 0
    no_error(page)
    page.goto(f"http://{ROOM}:{port}/photos?source=camera")
    page.get_by_text(CAMERA_NOTE).wait_for()
    assert page.locator("[data-testid=stCameraInput]").count() == 0
    assert page.get_by_text("would like to use your camera").count() == 0
    no_error(page)


def test_a_phone_over_https_records_a_pin_and_photographs_a_cat(phone, https_url, room_media):
    from test_browser import speech_seconds

    page = phone
    page.goto(f"{https_url}/speech?source=record")
    page.get_by_text("Say a few digits").wait_for()
    assert page.evaluate("window.isSecureContext") is True and page.get_by_text(MIC_NOTE).count() == 0
    page.get_by_role("button", name="Record").first.click()
    page.wait_for_timeout(1000 * speech_seconds(room_media / "pin.wav", tail=5.0) + 700)
    page.get_by_role("button", name="Stop recording").first.click()
    page.get_by_text(PIN, exact=True).wait_for(timeout=60_000)
    page.get_by_text(PIN_WORDS).first.wait_for()
    no_error(page)

    page.goto(f"{https_url}/photos?source=camera")
    take = page.get_by_role("button", name="Take Photo")
    take.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('button')].some("
                           "b => b.innerText.includes('Take Photo') && !b.disabled)")
    take.click()
    answer = page.get_by_text(re.compile(r"It's an? [a-z]+ \(\d+%\)"))
    answer.wait_for(timeout=60_000)
    assert re.search(r"It's an? ([a-z]+)", answer.inner_text()).group(1) == "cat"
    no_error(page)
