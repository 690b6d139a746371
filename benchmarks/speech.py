"""Latency of models.speech.transcribe on 5 s of 16 kHz audio (median and p95 of many calls).

    python -m benchmarks.speech [--calls 100] [--seconds 5]
    python -m benchmarks.speech --fine-tune [--calls 3]     # "teach it your voice": the page's fine-tuning, in seconds

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
    parser.add_argument("--fine-tune", action="store_true",
                        help="time the page's fine-tuning (six prompts, the default settings) instead")
    args = parser.parse_args()
    if args.fine_tune:
        return fine_tune_seconds(args.calls if args.calls != 100 else 3)

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


def fine_tune_seconds(calls: int) -> None:
    """The page's fine-tuning on as many prompt-length recordings as the page learns from (the example clips in turn,
    each about as long as a prompt), with the page's one inference thread: seconds per fine-tuning, median of
    `calls`."""
    import time

    torch.set_num_threads(1)
    model, _ = speech.load(device=torch.device("cpu"))
    clips = []
    names = ["pin_en-us.wav", "phone_scotland.wav", "three_f3.wav"]
    for i in range(len(speech.ENROLMENT_PROMPTS)):
        path = EXAMPLE.parent / names[i % len(names)]
        if path.exists():
            audio, rate = speech.read_audio(path.read_bytes())
            clips.append((audio, rate, speech.transcribe(audio, rate, model).digits))
    seconds, cpu = [], []
    for _ in range(calls):
        start, start_cpu = time.perf_counter(), time.process_time()
        speech.fine_tune(model, clips)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    # CPU seconds too: on a machine shared with other jobs the wall clock measures them as well; with one thread the
    # process's CPU time is what the fine-tuning takes on a core of its own.
    print(f"fine_tune: {len(clips)} recordings, {speech.FINE_TUNE_STEPS} steps of {', '.join(speech.ADAPTED_PARTS)} "
          f"at {speech.FINE_TUNE_LR:g}, one thread, {device_name()}: median {np.median(seconds):.1f} s over {calls} "
          f"({', '.join(f'{t:.1f}' for t in seconds)}); CPU time median {np.median(cpu):.1f} s")


if __name__ == "__main__":
    main()
