"""Digits spoken by espeak-ng, as a microphone or an upload would bring them (16 kHz WAV bytes)."""
from __future__ import annotations

import io
import shutil
import subprocess


class EspeakMissing(RuntimeError):
    """espeak-ng is not installed: nothing can be spoken."""


def espeak_wav(text: str, voice: str = "en-gb-x-rp", speed: int = 150, lead: float = 0.3, tail: float = 0.3) -> bytes:
    """`text` spoken by espeak-ng as 16 kHz WAV bytes with `lead` and `tail` seconds of silence around it.

    Raises EspeakMissing (a RuntimeError) when espeak-ng is not installed."""
    import numpy as np
    import soundfile as sf

    if shutil.which("espeak-ng") is None:
        raise EspeakMissing("espeak-ng not installed: apt-get install -y espeak-ng")
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True, check=True).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    audio = np.concatenate([np.zeros(int(lead * rate), np.float32), audio, np.zeros(int(tail * rate), np.float32)])
    t_new = np.arange(0, len(audio) / rate, 1 / 16000)
    audio = np.interp(t_new, np.arange(len(audio)) / rate, audio).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, audio, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()
