"""Hostile input: every page's inputs fed the worst cases, through Streamlit's AppTest.

Each case asserts that the page raised no exception and shows a specific, human-readable message
(or a valid result):

- digits: corrupt data URLs (not base64, not PNG, no data URL at all), a decompression bomb, an
  all-black drawing, a 1x1 drawing, a huge drawing (4000x4000, read) and one over the size limit.
- photos (upload and camera): empty, text or HTML renamed .jpg, truncated JPEG, decompression bombs
  (header patched to claim 30000x30000 and 8000x8000), over 25 MB, 1x1, and the odd-but-valid
  modes: 16-bit grey, CMYK, palette, RGBA with transparency, EXIF-rotated, animated GIF.
- speech (upload and record): empty, not audio, PNG renamed .wav, 60 s (cut to 20 s), digital
  silence, white noise, clipped, very quiet, 192 kHz stereo, 8 channels, float WAV with NaN/inf.
- translate: empty, whitespace, 10,000 characters, HTML/<script>, Markdown, emoji, unknown
  words, Chinese and Arabic, null bytes and control characters; every beam size.
- embeddings (word search and analogy boxes): 10,000 characters, HTML/<script>, emoji, unknown
  words, digits only.

Last, no user-provided bytes are left on disk: a random marker inside a photo, an audio file and
the typed text must not appear in any file written while the pages ran.
"""
from __future__ import annotations

import base64
import io
import json
import os
import stat
import struct
import tempfile
import time
import uuid
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image, PngImagePlugin
from streamlit.testing.v1 import AppTest

import answers
from conftest import ROOT
from harness.drawing import render
from test_app import all_text, app, canvas_state, chart_titles, example_wav, png_bytes


def open_page(name: str) -> AppTest:
    at = app()
    at.switch_page(f"app_pages/{name}.py").run()
    assert not at.exception
    return at


def check(at: AppTest, case: str) -> str:
    """No exception on the page; returns the page's text for the case's own assertions."""
    assert not at.exception, (case, [e.value for e in at.exception])
    return all_text(at)


# ---------------------------------------------------------------- builders of bad files


def saved(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def noise_image(width: int = 96, height: int = 64, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (height, width, 3), np.uint8))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (IHDR patched, CRC fixed): a decompression bomb."""
    data = bytearray(png_bytes(Image.new("L", (64, 64))))
    data[16:24] = struct.pack(">II", width, height)  # IHDR: length(4) type(4) width height ...
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def exif_rotated_jpeg() -> bytes:
    """A 64x32 JPEG tagged orientation 6 (rotate 90° clockwise to view): upright it is 32x64."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return saved(noise_image(64, 32), "JPEG", exif=exif)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (48, 48), colour) for colour in ((200, 30, 30), (30, 200, 30), (30, 30, 200))]
    return saved(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def wav(samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def with_wav_chunk(data: bytes, payload: bytes) -> bytes:
    """A WAV with an extra LIST chunk holding `payload` (RIFF size updated)."""
    payload += b"\0" * (len(payload) % 2)
    chunk = b"LIST" + struct.pack("<I", len(payload)) + payload
    return data[:4] + struct.pack("<I", len(data) - 8 + len(chunk)) + data[8:] + chunk


PIN = "4 1 5 9"  # what assets/speech/pin_en-us.wav says (8 kHz)


def pin() -> np.ndarray:
    return sf.read(io.BytesIO(example_wav("pin_en-us.wav")), dtype="float32")[0]


def resampled(x: np.ndarray, rate: int) -> np.ndarray:
    t = np.arange(0, len(x) / 8000, 1 / rate)
    return np.interp(t, np.arange(len(x)) / 8000, x).astype(np.float32)


def with_nan_and_inf() -> bytes:
    x = pin().copy()
    x[::997], x[500::1999], x[1000::2999] = np.nan, np.inf, -np.inf
    return wav(x, 8000, subtype="FLOAT")


# ---------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits_at() -> AppTest:
    return open_page("digits")


def data_url(payload: bytes | str) -> dict:
    state = canvas_state(None)
    if isinstance(payload, bytes):
        payload = "data:image/png;base64," + base64.b64encode(payload).decode()
    state["drawing"]["data"] = payload
    return state


def big_drawing(side: int) -> np.ndarray:
    """A transparent canvas of side x side with one opaque white vertical bar: a 1."""
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[side // 4 : 3 * side // 4, side // 2 - side // 40 : side // 2 + side // 40] = 255
    return rgba


def sliver() -> np.ndarray:
    """A drawing 2 pixels high: a dash, stretched by preprocessing into MNIST's 20x20 box."""
    rgba = np.zeros((2, 280, 4), np.uint8)
    rgba[:, 100:180] = 255
    return rgba


UNREADABLE = "Can't read this drawing"
EMPTY = "**Draw a digit** on the black square"


BAD_DRAWINGS = [
    ("not a PNG", lambda: data_url(b"GIF89a hello, not a PNG"), UNREADABLE),
    ("not base64", lambda: data_url("data:image/png;base64,@@@ not base64 !!"), UNREADABLE),
    ("not a data URL", lambda: data_url("javascript:alert(1)"), UNREADABLE),
    ("decompression bomb", lambda: data_url(png_claiming(30000, 30000)), UNREADABLE),
    ("over the size limit", lambda: canvas_state(big_drawing(4097)), UNREADABLE),
    ("all black", lambda: canvas_state(np.zeros((280, 280, 4), np.uint8)), EMPTY),
    ("opaque black (no alpha)", lambda: canvas_state(np.zeros((280, 280, 3), np.uint8)), EMPTY),
    ("1x1", lambda: canvas_state(np.full((1, 1, 4), 255, np.uint8)), EMPTY),
    ("4000x4000", lambda: canvas_state(big_drawing(4000)), "It's a **1**"),
    ("2x280 sliver", lambda: canvas_state(sliver()), "Probability of each digit"),
]


@pytest.mark.parametrize("case, state, expected", BAD_DRAWINGS, ids=[c[0] for c in BAD_DRAWINGS])
def test_digits_hostile_drawings(digits_at, case, state, expected):
    digits_at.session_state["canvas_0"] = state()
    text = check(digits_at.run(), case)
    assert expected in text + "\n".join(chart_titles(digits_at)), (case, text[:400])
    if expected == UNREADABLE:
        assert "Press **Clear** and draw again" in text and "What the network sees" not in text


def test_digits_recovers_after_a_bad_drawing(digits_at):
    digits_at.session_state["canvas_0"] = data_url(b"junk")
    check(digits_at.run(), "junk")
    digits_at.session_state["canvas_0"] = canvas_state(render(2, 60, 40, 180, 18))
    assert "It's a **2**" in check(digits_at.run(), "good after junk")


# ---------------------------------------------------------------- photos

NOT_AN_IMAGE = "This file is not an image that can be read (or it is corrupt or truncated)."
BAD_PHOTOS = [
    ("empty.jpg", lambda: b"", "The file is empty (0 bytes)."),
    ("text.jpg", lambda: b"Dear diary, this is not a photo.\n" * 20, NOT_AN_IMAGE),
    ("page.jpg", lambda: b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", NOT_AN_IMAGE),
    ("truncated.jpg", lambda: (lambda d: d[: len(d) // 2])(saved(noise_image(400, 300), "JPEG")), NOT_AN_IMAGE),
    ("bomb.png", lambda: png_claiming(30000, 30000), "the limit is 50 megapixels"),
    ("big.png", lambda: png_claiming(8000, 8000), "The image is 8000×8000 = 64 megapixels; the limit is 50 megapixels."),
    ("huge.jpg", lambda: b"\xff\xd8\xff" + bytes(26 * 2**20), "The file is 26 MB; the limit is 25 MB."),
    ("dot.png", lambda: png_bytes(Image.new("RGB", (1, 1))), "The image is 1×1 pixels; it needs at least 8 on each side."),
]
GOOD_PHOTOS = [
    ("grey16.png", lambda: png_bytes(Image.fromarray(np.linspace(0, 65535, 64 * 64).astype(np.uint16).reshape(64, 64)))),
    ("cmyk.jpg", lambda: saved(noise_image().convert("CMYK"), "JPEG")),
    ("palette.png", lambda: png_bytes(noise_image().convert("P", palette=Image.Palette.ADAPTIVE))),
    ("transparent.png", lambda: png_bytes(Image.new("RGBA", (64, 64), (255, 0, 0, 0)))),
    ("rotated.jpg", exif_rotated_jpeg),
    ("animated.gif", animated_gif),
]


@pytest.fixture(scope="module")
def photos_at() -> AppTest:
    at = open_page("photos")
    at.segmented_control(key="source").set_value("Upload").run()
    return at


def photo_result(at: AppTest, case: str) -> None:
    text = check(at, case)
    assert not at.error, (case, [e.value for e in at.error])
    headlines = ("It's a **", "**Not sure.**", "This doesn't look like any of the ten things I know", "**Too small to tell.**")
    assert "Probability of each class" in chart_titles(at) and any(h in text for h in headlines), case


@pytest.mark.parametrize("name, data, message", BAD_PHOTOS, ids=[c[0] for c in BAD_PHOTOS])
def test_photos_bad_uploads(photos_at, name, data, message):
    photos_at.file_uploader[0].set_value((name, data(), "image/jpeg")).run()
    check(photos_at, name)
    assert photos_at.error and "**Can't use this file.**" in photos_at.error[0].value, name
    assert message in photos_at.error[0].value, (name, photos_at.error[0].value)
    assert not chart_titles(photos_at)  # nothing else is drawn


@pytest.mark.parametrize("name, data", GOOD_PHOTOS, ids=[c[0] for c in GOOD_PHOTOS])
def test_photos_odd_but_valid_uploads(photos_at, name, data):
    photos_at.file_uploader[0].set_value((name, data(), "image/png")).run()
    photo_result(photos_at, name)
    if name == "rotated.jpg":  # shown upright: 32 wide, 64 high
        cam = next(json.loads(c.proto.spec) for c in photos_at.get("plotly_chart") if "Grad-CAM" in c.proto.spec)
        assert cam["layout"]["xaxis"]["range"] == [0, 32] and cam["layout"]["yaxis"]["range"] == [64, 0]


def test_photos_camera_bad_shots():
    at = open_page("photos")
    at.segmented_control(key="source").set_value("Camera").run()
    for name, data, message in [BAD_PHOTOS[0], BAD_PHOTOS[3], BAD_PHOTOS[4]]:
        at.camera_input[0].set_value((name.rsplit(".")[0] + ".jpg", data(), "image/jpeg")).run()
        check(at, name)
        assert at.error and message in at.error[0].value, (name, [e.value for e in at.error])
    at.camera_input[0].set_value(("shot.jpg", exif_rotated_jpeg(), "image/jpeg")).run()
    photo_result(at, "camera shot after bad ones")


# ---------------------------------------------------------------- speech

NOT_AUDIO = "This is not an audio file that can be read (WAV, FLAC, OGG or MP3)."
SILENT = "**No speech detected.** The recording is silent (or far too quiet)"
STEADY_NOISE = "**No speech detected.** Only steady noise (a fan, hiss, a room's hum)"
NOT_SURE = "## Not sure what was said"  # the headline, instead of the digits
BAD_AUDIO = [
    ("empty.wav", lambda: b"", "The file is empty."),
    ("notes.wav", lambda: b"These are my meeting notes, not audio." * 10, NOT_AUDIO),
    ("photo.wav", lambda: png_bytes(noise_image()), NOT_AUDIO),
    ("header_only.wav", lambda: wav(np.zeros(0, np.float32), 8000), "The file holds no audio samples."),
]
ODD_AUDIO = [  # (name, bytes, what the page must say)
    ("minute.wav", lambda: wav(np.concatenate([pin(), np.zeros(58 * 8000, np.float32)]), 8000),
     ["The recording is longer than 20 s: only the first 20 s were transcribed.", PIN]),
    ("digital_silence.wav", lambda: wav(np.zeros(3 * 8000, np.float32), 8000), [SILENT]),
    ("white_noise.wav", lambda: wav(np.random.default_rng(0).normal(0, 0.1, 3 * 8000).clip(-1, 1), 8000),
     [STEADY_NOISE]),
    ("minute_of_noise.wav", lambda: wav(np.random.default_rng(1).normal(0, 0.1, 60 * 8000).clip(-1, 1), 8000),
     ["The recording is longer than 20 s", STEADY_NOISE]),
    # 17 % of samples clipped. Known regression of 2026-12-05's network (trained with Speech Commands): it reads
    # this copy "4 9 5 9" with 72 % on the 9, above the not-sure line; the network before read it right.
    pytest.param("clipped.wav", lambda: wav(np.clip(pin() * 10, -1, 1), 8000), [PIN],
                 marks=pytest.mark.xfail(strict=True, reason="new network: clipped PIN read as 4 9 5 9 (issue 34)")),
    ("quiet.wav", lambda: wav(pin() * 0.03, 8000), [PIN]),
    ("whisper.wav", lambda: wav(pin() * 0.001, 8000, subtype="FLOAT"), [SILENT]),
    ("stereo_192k.wav", lambda: wav(np.stack([resampled(pin(), 192000)] * 2, axis=1), 192000), [PIN]),
    ("eight_channels.wav", lambda: wav(np.stack([pin() * (i + 1) / 8 for i in range(8)], axis=1), 8000), [PIN]),
    ("nan_inf.wav", with_nan_and_inf, [PIN]),
    ("float_1e30.wav", lambda: wav(pin() * 1e30, 8000, subtype="FLOAT"), [PIN]),
]


@pytest.fixture(scope="module")
def speech_at() -> AppTest:
    at = open_page("speech")
    at.segmented_control(key="source").set_value("Upload").run()
    return at


@pytest.mark.parametrize("name, data, message", BAD_AUDIO, ids=[c[0] for c in BAD_AUDIO])
def test_speech_bad_uploads(speech_at, name, data, message):
    speech_at.file_uploader(key="upload").set_value((name, data(), "audio/wav")).run()
    check(speech_at, name)
    assert speech_at.error and f"**Can't use this audio.** {message}" == speech_at.error[0].value, (
        name, [e.value for e in speech_at.error])


@pytest.mark.parametrize("name, data, messages", ODD_AUDIO, ids=[(c.values if hasattr(c, "values") else c)[0] for c in ODD_AUDIO])
def test_speech_odd_uploads(speech_at, name, data, messages):
    speech_at.file_uploader(key="upload").set_value((name, data(), "audio/wav")).run()
    text = check(speech_at, name)
    assert not speech_at.error, (name, [e.value for e in speech_at.error])
    for message in messages:  # the PIN in the headline only (a caption's best guess is no answer)
        assert message in text if message != PIN else answers.speech(speech_at) in (PIN, answers.NOT_SURE), (
            name, message, text[:600])
    # Either digits or "No speech detected", and the figure of what the network heard.
    assert "confidence per digit" in text or "**No speech detected.**" in text, (name, text[:600])
    # Digits in the headline only when sure; else the headline says it is not sure.
    headlines = [m.value for m in speech_at.markdown if m.value.startswith("#")]
    if "**No speech detected.**" in text:
        assert headlines == [], (name, headlines)
    elif "**Not sure.**" in text:
        assert headlines == [NOT_SURE], (name, headlines)
    else:
        assert len(headlines) == 1 and headlines[0].endswith(f">{PIN}</span>"), (name, headlines)
    assert len(speech_at.get("plotly_chart")) >= 1


def test_speech_record_bad_and_silent():
    at = open_page("speech")
    at.segmented_control(key="source").set_value("Record").run()
    at.audio_input(key="recording").set_value(("recording.wav", b"", "audio/wav")).run()
    check(at, "empty recording")
    assert at.error and "The file is empty." in at.error[0].value
    at.audio_input(key="recording").set_value(("recording.wav", wav(np.zeros(8000, np.float32), 8000), "audio/wav")).run()
    assert SILENT in check(at, "silent recording")


# ---------------------------------------------------------------- translate

TYPE_A_SENTENCE = "Type an English sentence above, or pick an example."


def translation(at: AppTest) -> str:
    """The French shown: the answer, or (text unlike its sentences) the small "best guess" under "Not sure"."""
    shown = [m.value for m in at.markdown if "class='translation'" in m.value or "class='translation-guess'" in m.value]
    assert len(shown) == 1, shown
    return shown[0]


@pytest.fixture(scope="module")
def translate_at() -> AppTest:
    return open_page("translate")


@pytest.mark.parametrize("case, sentence, expected", [
    ("empty", "", TYPE_A_SENTENCE),
    ("whitespace", " \t\n\u00a0\u3000 ", TYPE_A_SENTENCE),
    ("10,000 characters", "word " * 2000, "That is 9999 characters; the translator takes up to 300. Try one sentence at a time."),
    ("HTML", "<b>Hello</b> <img src=x onerror=alert(1)> <script>alert('hi')</script>", None),
    ("Markdown", "# Title **bold** [link](http://example.com) `code` | a | b |", None),
    ("emoji only", "😀🎉🐈", "There are no words here to translate"),
    ("punctuation only", "!!!???", "There are no words here to translate"),
    ("emoji and a word", "😀🎉 cat", "Not in the vocabulary, read as an unknown token: 😀 🎉"),
    ("unknown words", "The flibbertigibbet zorblaxed the quuxwidget.", None),
    ("Chinese", "我不知道该怎么办。", "Not in the vocabulary, read as an unknown token:"),
    ("Arabic", "لا أعرف ماذا أفعل", "Not in the vocabulary, read as an unknown token:"),
    ("control characters", "I\x00 don't\x07 know\x1b[31m what\x7f to do.\u200b", None),
])
def test_translate_hostile_sentences(translate_at, case, sentence, expected):
    translate_at.text_input(key="sentence").set_value(sentence).run()
    text = check(translate_at, case)
    if expected is not None:
        assert expected in text, (case, text[-600:])
    if expected is None or expected.startswith("Not in the vocabulary"):
        shown = translation(translate_at)
        body = shown.split(">", 1)[1].rsplit("</div>", 1)[0]
        assert "<" not in body and "\x00" not in body, (case, shown)  # typed markup is escaped, never rendered
        assert len(translate_at.get("plotly_chart")) == 2  # the attention map and the curves
    else:
        assert not [m for m in translate_at.markdown if "class='translation" in m.value]


def test_translate_every_beam_size_and_example(translate_at):
    translate_at.text_input(key="sentence").set_value("<i>Hello</i> 😀 " + "very " * 50).run()
    for beam in (1, 10):
        translate_at.select_slider(key="beam").set_value(beam).run()
        check(translate_at, f"beam {beam}")
        assert translation(translate_at)
    translate_at.pills(key="example").set_value("Could you help me carry these boxes, please?").run()
    check(translate_at, "example")
    assert translate_at.text_input(key="sentence").value == "Could you help me carry these boxes, please?"


# ---------------------------------------------------------------- embeddings

LETTERS = "Type a word made of letters (a–z): that is how the corpus was split into words."
ONE_WORD_EACH = "Give exactly one word (letters a–z) in each box."


@pytest.fixture(scope="module")
def embeddings_at() -> AppTest:
    return open_page("embeddings")


@pytest.mark.parametrize("case, query, expected", [
    ("10,000 characters", "x" * 10_000, f"“{'x' * 100}” is not in the vocabulary."),
    ("HTML", "<script>alert(1)</script>", "One word at a time: showing **script** (the first of 3)."),
    ("emoji", "😀🎉", LETTERS),
    ("unknown word", "flibbertigibbetx", "“flibbertigibbetx” is not in the vocabulary."),
    ("digits only", "1234567890", LETTERS),
    ("punctuation only", "!!! ??? ...", LETTERS),
])
def test_embeddings_hostile_search(embeddings_at, case, query, expected):
    embeddings_at.text_input[0].set_value(query).run()
    assert expected in check(embeddings_at, case), (case, all_text(embeddings_at)[-600:])


@pytest.mark.parametrize("case, word, expected", [
    ("10,000 characters", "x" * 10_000, f"“{'x' * 100}” is not in the vocabulary."),
    ("HTML", "<b>woman</b>", ONE_WORD_EACH),
    ("emoji", "👑", ONE_WORD_EACH),
    ("unknown word", "flibbertigibbetx", "“flibbertigibbetx” is not in the vocabulary."),
    ("digits only", "42", ONE_WORD_EACH),
])
def test_embeddings_hostile_analogy(embeddings_at, case, word, expected):
    box = embeddings_at.text_input(key="c_king − man + woman")
    box.set_value(word).run()
    assert expected in check(embeddings_at, case), (case, all_text(embeddings_at)[-600:])
    box.set_value("woman").run()
    assert "king − man + woman ≈ queen" in check(embeddings_at, case + ", then woman")


# ---------------------------------------------------------------- nothing left on disk

MAX_SCANNED_BYTES = 50 * 2**20


def files_modified_since(roots: list[Path], since: float):
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in files:
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode) and info.st_mtime >= since and info.st_size <= MAX_SCANNED_BYTES:
                    yield path


def test_uploads_are_not_left_on_disk():
    start = time.time() - 1
    marker = uuid.uuid4().hex
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", marker)
    photo = saved(noise_image(), "PNG", pnginfo=info)
    audio = with_wav_chunk(wav(pin(), 8000), b"INFOICMT" + struct.pack("<I", 33) + marker.encode() + b"\0")
    assert sf.read(io.BytesIO(audio))[1] == 8000  # still a valid WAV

    at = open_page("photos")
    at.segmented_control(key="source").set_value("Upload").run()
    at.file_uploader[0].set_value((f"{marker}.png", photo, "image/png")).run()
    photo_result(at, "photo with marker")
    at.switch_page("app_pages/speech.py").run()
    at.segmented_control(key="source").set_value("Upload").run()
    at.file_uploader(key="upload").set_value((f"{marker}.wav", audio, "audio/wav")).run()
    check(at, "audio with marker")
    assert answers.speech(at) in (PIN, answers.NOT_SURE)
    at.switch_page("app_pages/translate.py").run()
    at.text_input(key="sentence").set_value(f"My password is {marker}.").run()
    assert translation(at)
    at.switch_page("app_pages/embeddings.py").run()
    at.text_input[0].set_value(marker).run()
    check(at, "word with marker")

    needle, leaks = marker.encode(), []
    with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir(), suffix=".canary") as canary:
        canary.write(b"proof that the scan finds what is written: " + needle)
        canary.flush()
        for path in files_modified_since([Path(tempfile.gettempdir()), ROOT, Path.home() / ".streamlit"], start):
            try:
                with open(path, "rb") as f:
                    content = f.read()
            except OSError:
                continue
            if needle in content or marker in path:
                leaks.append(path)
        assert canary.name in leaks, "the scan missed the canary file"
    leaks.remove(canary.name)
    assert not leaks, f"user data written to disk: {leaks}"
