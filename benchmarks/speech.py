"""Latency of models.speech.transcribe on 5 s of 16 kHz audio (median and p95 of many calls).

    python -m benchmarks.speech [--calls 100] [--seconds 5]

The audio is the page's phone-number example (espeak-ng, ten digits), resampled to 16 kHz (what
st.audio_input records) and padded with quiet noise to the length asked for.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmarks.common import latency_parser, report, timed
from models import speech
from models.common import device_name

EXAMPLE = Path(__file__).resolve().parent.parent / "assets" / "speech" / "phone_scotland.wav"


def main() -> None:
    parser = latency_parser(__doc__, calls=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    model, _ = speech.load()
    audio, rate = speech.read_audio(EXAMPLE.read_bytes())
    audio16 = np.interp(np.arange(0, len(audio) / rate, 1 / 16000), np.arange(len(audio)) / rate, audio).astype(np.float32)
    n = int(args.seconds * 16000)
    rng = np.random.default_rng(0)
    x = (0.002 * rng.standard_normal(n)).astype(np.float32)
    start = (n - len(audio16)) // 2
    x[start : start + len(audio16)] += audio16[: n - start]
    ms = timed(lambda i: speech.transcribe(x, 16000, model), args.calls, args.warmup, busy=args.busy_thread)
    result = speech.transcribe(x, 16000, model)
    report(f"speech.transcribe on {args.seconds:g} s of 16 kHz audio -> '{result.digits}', {args.calls} calls, "
           f"{device_name()}, torch {torch.__version__}", ms, args.busy_thread)


if __name__ == "__main__":
    main()
