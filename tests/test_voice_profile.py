"""Voice profiles (models/voice_profile.py): the adapted copy as a small safetensors file, read back exactly; every
other kind of file refused with a plain message, a pickle never unpickled; and the page's load of one (AppTest)."""
from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_tensors

from conftest import ROOT, espeak_wav
from models import speech as S
from models import voice_profile as VP


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return S.load(device=torch.device("cpu")).model


def say(prompt: S.Prompt, voice: str = "en-us+m3", tail: float = 0.3) -> bytes:
    """A prompt spoken by espeak-ng as the page asks for it: slow ones one digit at a time, with pauses."""
    if prompt.slow:
        return espeak_wav(", ".join(prompt.words.split()), voice=voice, speed=110, tail=tail)
    return espeak_wav(prompt.words, voice=voice, tail=tail)


@pytest.fixture(scope="module")
def adaptation(shipped):
    """A quick adaptation (3 steps, no held-back prompt, so the tuned copy is kept whatever it scores)."""
    clips = [(*S.read_audio(say(p)), p.digits) for p in S.ENROLMENT_PROMPTS[:2]]
    return S.adapt(shipped, clips, steps=3)


def header_of(data: bytes) -> dict:
    return VP.safetensors_header(data)["__metadata__"]


def profile(tensors: dict, **header) -> bytes:
    """Safetensors bytes with a valid voice-profile header, some of its fields replaced."""
    base = header_of(VP.to_bytes(S.SpeechNet(), S.SpeechNet()))  # an empty profile: its header alone
    return save_tensors(tensors, metadata={**base, **header})


def test_a_profile_round_trips_exactly_and_is_small(shipped, adaptation):
    data = VP.to_bytes(adaptation, shipped)
    assert len(data) <= 3 * 10**6
    loaded = VP.read(data, shipped)
    for name, tensor in adaptation.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name
    audio, rate = S.read_audio((ROOT / "assets" / "speech" / "phone_scotland.wav").read_bytes())
    a, b = S.transcribe(audio, rate, adaptation.model), S.transcribe(audio, rate, loaded.model)
    assert a.digits == b.digits and np.array_equal(a.posteriors, b.posteriors)
    # The header: format, the model it applies to, the prompts, the date, the numbers the page shows.
    header = header_of(data)
    assert header["format"] == VP.FORMAT and header["version"] == str(VP.VERSION)
    assert header["model_sha256"] == VP.model_sha256() and len(header["model_sha256"]) == 64
    assert json.loads(header["prompts"])[2] == "2 7 0 5 9 (slow)" and header["created"].endswith("+00:00")
    again = loaded.adaptation()
    assert (again.errors_before, again.errors_after, again.digits) == (
        adaptation.errors_before, adaptation.errors_after, adaptation.digits)
    assert again.losses == pytest.approx(adaptation.losses, abs=1e-4)


def test_only_the_tensors_that_differ_are_stored(shipped):
    tuned = VP.from_bytes(VP.to_bytes(shipped, shipped), shipped)  # nothing differs: an empty profile
    assert len(VP.to_bytes(shipped, shipped)) < 4096
    changed = VP.from_bytes(profile({"out.bias": shipped.out.bias + 1}), shipped)
    assert torch.equal(changed.out.bias, shipped.out.bias + 1)
    assert torch.equal(tuned.out.weight, shipped.out.weight) and tuned is not shipped
    assert len(VP.to_bytes(changed, shipped)) < 4096  # one small tensor


def test_the_shared_model_is_never_changed(shipped):
    before = {k: v.clone() for k, v in shipped.state_dict().items()}
    clips = [(*S.read_audio(say(p)), p.digits) for p in S.ENROLMENT_PROMPTS[:1]]
    adapted = S.adapt(shipped, clips, steps=2)
    loaded = VP.from_bytes(VP.to_bytes(adapted, shipped), shipped)
    loaded.out.bias.add_(1.0)  # the loaded copy is a copy
    for name, tensor in shipped.state_dict().items():
        assert torch.equal(tensor, before[name]), name  # bit-identical
    assert not any(p.requires_grad for p in shipped.parameters())


def pickled_files(shipped) -> dict[str, bytes]:
    state = {k: v.clone() for k, v in shipped.state_dict().items()}
    zipped, legacy = io.BytesIO(), io.BytesIO()
    torch.save(state, zipped)  # torch's zip format, a pickle inside
    torch.save(state, legacy, _use_new_zipfile_serialization=False)  # torch's older format: a bare pickle
    return {"pickle.dumps": pickle.dumps({"weights": [1.0, 2.0]}), "torch.save": zipped.getvalue(),
            "torch.save legacy": legacy.getvalue()}


def test_a_pickle_or_torch_file_is_refused_and_never_unpickled(shipped, monkeypatch):
    files = pickled_files(shipped)

    def never(*args, **kwargs):
        raise AssertionError("a voice profile was unpickled")

    for module, name in [(pickle, "loads"), (pickle, "load"), (pickle, "Unpickler"), (torch, "load")]:
        monkeypatch.setattr(module, name, never)
    for what, data in files.items():
        with pytest.raises(VP.ProfileError, match="pickle or a PyTorch .pt file: refused") as error:
            VP.read(data, shipped)
        assert "Traceback" not in str(error.value), what


def test_a_profile_whose_header_length_looks_like_pickle_magic_is_read(shipped):
    """safetensors starts with its header's length (8 bytes, little-endian): a header of 640, 896, 1152 or 1408
    bytes starts the file with 80 02 .. 80 05, the bytes a pickle starts with. Such a profile (nine prompts gave
    one) is a profile, not a pickle."""
    import struct

    from safetensors.torch import load as load_tensors

    good = VP.to_bytes(VP.from_bytes(profile({"out.bias": shipped.out.bias + 1}), shipped), shipped)
    meta = VP.safetensors_header(good)["__metadata__"]
    tensors = load_tensors(good)
    for target in (640, 896, 1152, 1408):
        for pad in range(0, 1200):
            data = save_tensors(tensors, metadata=meta | {"created": meta["created"] + " " * pad})
            if struct.unpack("<Q", data[:8])[0] == target:
                break
        else:
            pytest.fail(f"no padding gives a {target}-byte header")
        assert data.startswith(VP.PICKLE_MAGIC)
        read = VP.read(data, shipped)
        assert torch.equal(read.model.out.bias, shipped.out.bias + 1)


def test_bad_files_are_refused_in_plain_english(shipped):
    good = VP.to_bytes(VP.from_bytes(profile({"out.bias": shipped.out.bias + 1}), shipped), shipped)
    cases = [
        (b"", "The file is empty."),
        (b"\0" * (VP.MAX_BYTES + 1), "a voice profile is at most 3 MB"),
        (b"not a profile at all, just text", "not a safetensors file"),
        ((ROOT / "assets" / "speech" / "pin_en-us.wav").read_bytes(), "not a safetensors file"),
        (b"\xff" * 8 + b"{}", "not a safetensors file"),
        (save_tensors({"out.bias": shipped.out.bias.clone()}), "safetensors file, but not a voice profile"),
        (save_tensors({"x": torch.zeros(1)}, metadata={"format": "something else"}), "not a voice profile"),
        (profile({}, version="2"), "format version '2'; this page reads version 1"),
        (profile({}, model_sha256="0" * 64), "made for a different version of the speech model; record the prompts "
                                             "again"),
        (profile({"evil.weight": torch.zeros(3)}), "tensors the speech model does not have: evil.weight"),
        (profile({"out.bias": torch.zeros(5)}), "out.bias is (5,) torch.float32; the speech model's is (11,)"),
        (profile({"out.bias": shipped.out.bias.double()}), "out.bias is (11,) torch.float64"),
        (profile({"out.bias": torch.full((11,), float("nan"))}), "out.bias holds NaN or infinite values"),
        (profile({"rnn.weight_hh_l0": torch.full_like(shipped.rnn.weight_hh_l0, float("inf"))}), "NaN or infinite"),
        (good[: len(good) - 10], "damaged"),
    ]
    for data, message in cases:
        with pytest.raises(VP.ProfileError) as error:
            VP.read(data, shipped)
        assert message in str(error.value), (data[:40], str(error.value))


# ---- the page (AppTest) ------------------------------------------------------------------------------------
def all_text(at) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "success", "error") for e in getattr(at, kind))


def speech_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("app_pages/speech.py").run()
    assert not at.exception
    return at


def test_the_page_loads_a_voice_profile_and_uses_it(shipped, adaptation):
    """A profile downloaded in another session, loaded through the uploader: the adapted copy is active (the
    toggle, the answer "by your adapted copy"), with its numbers; the shared model is unchanged."""
    data = VP.to_bytes(adaptation, shipped)
    at = speech_page()
    assert at.get("download_button") == []
    at.file_uploader(key="profile_upload").set_value((VP.FILE_NAME, data, "application/octet-stream")).run()
    assert not at.exception and not at.error
    assert at.toggle(key="use_adapted").value and "by your adapted copy" in all_text(at)
    loaded = at.session_state["adaptation"].model
    assert all(torch.equal(loaded.state_dict()[k], v.cpu()) for k, v in adaptation.model.state_dict().items())
    assert "Loaded from voice-profile.safetensors" in all_text(at)
    assert len(at.get("download_button")) == 1  # and it can be downloaded again
    at.run()  # a later rerun does not load it again
    assert at.session_state["adaptation"].model is loaded


def test_the_page_says_why_a_file_is_not_a_voice_profile(shipped):
    at = speech_page()
    zipped = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, zipped)
    for name, data, message in [("voice-profile.safetensors", b"garbage", "not a safetensors file"),
                                ("model.safetensors", zipped.getvalue(), "refused"),
                                ("old.safetensors", profile({}, model_sha256="1" * 64), "different version")]:
        at.file_uploader(key="profile_upload").set_value((name, data, "application/octet-stream")).run()
        assert not at.exception, name
        assert at.error and "Can't use this voice profile" in at.error[0].value and message in at.error[0].value, name
        assert "adaptation" not in at.session_state and "stays in use" not in at.error[0].value


def test_the_profile_message_never_contradicts_the_page(shipped, adaptation):
    """After a profile is loaded: a bad file put in its place gets its error alone (before, also "Your voice profile
    is loaded", green under the red); with "Use my adapted model" off, the message no longer says the answers above
    come from the adapted copy (they say "by the shared model")."""
    at = speech_page()
    at.file_uploader(key="profile_upload").set_value((VP.FILE_NAME, VP.to_bytes(adaptation, shipped),
                                                      "application/octet-stream")).run()
    assert "come from your adapted copy" in at.success[0].value
    at.toggle(key="use_adapted").set_value(False).run()
    assert "by the shared model" in all_text(at)
    assert not any("come from your adapted copy" in s.value for s in at.success)
    assert any("come from the shared model" in s.value for s in at.success)
    at.file_uploader(key="profile_upload").set_value(("notes.safetensors", b"just text",
                                                      "application/octet-stream")).run()
    assert not at.exception and "Can't use this voice profile" in at.error[0].value
    assert not any("is loaded" in s.value for s in at.success)
    # the good profile stays in use (the caption still says "Loaded from"): the error says so
    assert "The adapted copy you had stays in use: loaded from voice-profile.safetensors" in at.error[0].value
    assert at.session_state["adaptation"] is not None
