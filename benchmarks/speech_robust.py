"""The speech model in a stranger's room: a voice it never heard (FSDD's jason), noise with nothing said, and the
held-out speakers' enrolment.

    python -m benchmarks.speech_robust --data-dir ../shared/data                  # jason + noise, shipped model
    python -m benchmarks.speech_robust --data-dir ../shared/data --write          # ... into the model card
    python -m benchmarks.speech_robust --data-dir ../shared/data --weights runs/speech_new --name speech
    python -m benchmarks.speech_robust --data-dir ../shared/data --only shifted        # the higher-voices dev set
    python -m benchmarks.speech_robust --data-dir ../shared/data --enrol runs/speech_new/holdout_nicolas --parts all,out

jason (DATA_DIR/speech/fsdd_jason, never trained on): his 476 clips of at least 1 s, as given (3 s each, room noise
around the word), exact transcript = the one digit. His clips are circular: in 451 of them the word starts in the
last half second and ends at the start of the clip (the loudest 0.3 s window sits in the last 0.6 s), so the page
would hear the end of the word, then noise, then its beginning. "joined" puts the clip's end back in front of its
start (a rotation to the quietest point, nothing removed); both are reported. After enrolment: the page's prompts
said with his joined clips (train.speech.enrolment_sets), tested on his other clips, mean of three draws.

Noise (made here, not with the training's noise generators): 10 s of room tone (brown noise, mains hum, a fan's
whine, reverberation) and 60 s of white noise, each at levels from -60 to -10 dBFS, 20 clips of each kind.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from models import speech as S
from models.common import read_card, write_card
from train.common import default_data_dir

JASON = Path("speech") / "fsdd_jason"
ALLISON = Path("speech") / "asterisk_allison"  # a woman's studio voice, 0-9 and "oh": test only
MIN_SECONDS = 1.0  # shorter clips are broken (the folder's README: 15 under 0.25 s)


# ---- jason --------------------------------------------------------------------------------------
def joined(audio: np.ndarray) -> np.ndarray:
    """A circular clip rotated so that it starts at its quietest 0.3 s: the word is whole again."""
    db = S.frame_levels(audio)
    k = 15  # frames of 20 ms
    window = np.convolve(np.concatenate([db, db[: k - 1]]), np.ones(k) / k, "valid")
    return np.roll(audio, -int((int(np.argmin(window)) + k // 2) * S.SPEECH_FRAME * S.SAMPLE_RATE))


def load_jason(data_dir: str) -> list[dict]:
    """His clips of at least MIN_SECONDS: {"audio" (as given), "joined", "digit", "speaker", "index"}."""
    folder = Path(data_dir) / JASON
    clips = []
    with open(folder / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            if float(row["duration_s"]) < MIN_SECONDS:
                continue
            audio, rate = sf.read(folder / "recordings" / row["filename"], dtype="float32")
            assert rate == S.SAMPLE_RATE
            clips.append({"audio": audio, "joined": joined(audio), "digit": int(row["digit"]), "speaker": "jason",
                          "index": int(row["index"])})
    return clips


def allison(model, data_dir: str) -> dict:
    """Allison's 11 words (0.wav ... 9.wav and oh.wav, "oh" being zero) as the page hears them: what was heard."""
    heard = {}
    for name in [str(d) for d in range(10)] + ["oh"]:
        audio, rate = sf.read(Path(data_dir) / ALLISON / f"{name}.wav", dtype="float32")
        heard[name] = S.transcribe(audio, rate, model).digits
    right = sum(h == ("0" if name == "oh" else name) for name, h in heard.items())
    return {"right": right, "clips": len(heard), "heard": heard}


def single_digits(model, clips: list[dict], key: str = "audio") -> dict:
    """Exact transcripts of one-digit clips, the first digit right, digits heard per clip, clips heard as no speech."""
    heard = [S.transcribe(c[key], S.SAMPLE_RATE, model).digits.split() for c in clips]
    truth = [str(c["digit"]) for c in clips]
    n = len(clips)
    return {"clips": n, "exact": round(sum(h == [t] for h, t in zip(heard, truth)) / n, 4),
            "first_digit": round(sum(bool(h) and h[0] == t for h, t in zip(heard, truth)) / n, 4),
            "digits_per_clip": round(sum(map(len, heard)) / n, 3),
            "no_speech": round(sum(not h for h in heard) / n, 4)}


def jason_enrolment(model, clips: list[dict], seeds=(0, 1, 2), **fine_tune) -> dict:
    """The page's enrolment acted out with his joined clips, trimmed to the word; tested on his other clips."""
    from train import speech as T

    words = []
    for c in clips:
        span = S.speech_span(S.highpass(c["joined"]))
        audio = c["joined"][span[0] : span[1]] if span else c["joined"]
        words.append({**c, "audio": audio})
    return T.enrolment_results(model, words, seeds=seeds, **fine_tune)


# ---- how alike a speaker's own words are -----------------------------------------------------------
WINDOW_SECONDS = 0.5  # each word: its loudest half second (every FSDD word fits; none of jason's noise around it)


def loudest_window(audio: np.ndarray) -> np.ndarray:
    """The loudest WINDOW_SECONDS of a clip (rumble removed), padded when shorter."""
    x = S.highpass(audio)
    k = int(WINDOW_SECONDS * S.SAMPLE_RATE)
    if len(x) <= k:
        return np.pad(x, (0, k - len(x)))
    energy = np.convolve(x**2, np.ones(k, np.float32), "valid")
    start = int(np.argmax(energy))
    return x[start : start + k]


def self_consistency(clips: list[dict], key: str = "audio", per_digit: int = 15) -> float:
    """How alike one speaker's own words are, with no network: each of `per_digit` words of each digit is matched
    to the nearest of his other words (dynamic time warping of the normalised log-mel features, every other
    10-ms frame); the share whose nearest word says the same digit. A speaker-dependent ceiling of sorts: where
    a voice's own words are not alike, no model that has never heard it will read it well."""
    chosen = [c for d in range(10) for c in [c for c in clips if c["digit"] == d][:per_digit]]
    x = torch.stack([S.features(S.preprocess(loudest_window(c[key]), S.SAMPLE_RATE, trim=False).waveform)[:, ::2].T
                     for c in chosen])  # (N, T, 40): equal lengths, so every pair is warped at once
    n = x.shape[1]
    cost = torch.cdist(x[:, None], x[None]).reshape(-1, n, n)  # (N*N, T, T): every pair's frame distances
    total = torch.full((cost.shape[0], n + 1, n + 1), float("inf"))
    total[:, 0, 0] = 0
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            total[:, i, j] = cost[:, i - 1, j - 1] + torch.minimum(torch.minimum(total[:, i - 1, j], total[:, i, j - 1]),
                                                                     total[:, i - 1, j - 1])
    distance = total[:, n, n].view(len(x), len(x))
    distance.fill_diagonal_(float("inf"))
    digits = torch.tensor([c["digit"] for c in chosen])
    return round(float((digits[distance.argmin(1)] == digits).float().mean()), 4)


# ---- noise --------------------------------------------------------------------------------------
def room_tone(rng, seconds: float) -> np.ndarray:
    """Brown noise (a room's rumble), 50 Hz hum with harmonics, a fan's whine (a slowly wandering tone near 300-900
    Hz) and a little reverberation; unit RMS."""
    n = int(seconds * S.SAMPLE_RATE)
    t = np.arange(n) / S.SAMPLE_RATE
    brown = np.cumsum(rng.standard_normal(n))
    brown = brown - np.convolve(brown, np.ones(801) / 801, "same")  # keep it from drifting: rumble above ~10 Hz
    brown /= brown.std() + 1e-8
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3, 5))
    whine = np.sin(2 * np.pi * rng.uniform(300, 900) * t + 3 * np.sin(2 * np.pi * 0.2 * t))
    x = brown + rng.uniform(0.1, 1) * hum + rng.uniform(0, 0.3) * whine + 0.3 * rng.standard_normal(n)
    ir = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    ir[0] = 3
    x = np.convolve(x, ir)[:n]
    return (x / (np.sqrt(np.mean(x**2)) + 1e-8)).astype(np.float32)


def noise_clips(seed: int = 7, per_kind: int = 20) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    clips = []
    for level_db in np.linspace(-60, -10, per_kind):
        clips.append(("10 s of room tone", room_tone(rng, 10.0) * 10 ** (level_db / 20)))
        clips.append(("60 s of white noise", rng.standard_normal(60 * S.SAMPLE_RATE).astype(np.float32)
                      * 10 ** (level_db / 20)))
    return clips


def noise_results(model, clips) -> dict:
    out = {}
    for kind in dict.fromkeys(k for k, _ in clips):
        heard = [S.transcribe(np.clip(x, -1, 1), S.SAMPLE_RATE, model) for k, x in clips if k == kind]
        out[kind] = {"clips": len(heard), "no_speech": round(sum(t.no_speech for t in heard) / len(heard), 4),
                     "not_sure_or_none": round(sum(not t.sure for t in heard) / len(heard), 4)}
    return out


# ---- higher voices (issue 43's dev set) ----------------------------------------------------------------
SHIFTS = (3, 5, 7)  # semitones up: a woman's or a child's voice is roughly 3-7 semitones above a man's, formants too
SHIFT_CACHE = Path("runs") / "speech_shifted"  # made once here (git-ignored): never committed, never trained on


def sox_shifted(path: Path, semitones: int) -> tuple[np.ndarray, int]:
    """A recording raised `semitones` by sox's `pitch` effect (pitch and formants together, as a shorter vocal tract;
    the tempo kept), made once into runs/speech_shifted -> (samples, rate)."""
    import subprocess

    out = SHIFT_CACHE / f"+{semitones}" / path.parent.parent.name / f"{path.stem}.wav"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["sox", str(path), str(out), "pitch", str(100 * semitones)], check=True, capture_output=True)
    audio, rate = sf.read(out, dtype="float32")
    return audio, rate


def shifted_voices(model, data_dir: str, shifts=SHIFTS) -> dict:
    """The dev set of higher voices: the Speech Commands test split (102 speakers never trained on, 361 clips) and
    Allison's 11 words, each raised +3/+5/+7 semitones by sox, scored as the unshifted ones (the clip resampled and
    cut to its word as train.speech.load_speech_commands does, 0.3 s of silence around)."""
    from train.speech import speech_commands_rows, speech_commands_score, trim_to_speech

    folder = Path(data_dir) / "speech" / "speech_commands"
    rows = speech_commands_rows(data_dir, "test")
    out = {}
    for k in shifts:
        clips = []
        for row in rows:
            audio, rate = sox_shifted(folder / row["file"], k)
            audio = trim_to_speech(S.resample(S.to_mono(audio), rate))
            audio = audio * (S.TARGET_RMS / (np.sqrt(np.mean(audio**2)) + 1e-8))
            clips.append({"audio": audio.astype(np.float32), "digit": int(row["digit"]), "speaker": row["speaker"]})
        sc = speech_commands_score(model, clips)
        heard = {}
        if (Path(data_dir) / ALLISON).is_dir():
            for name in [str(d) for d in range(10)] + ["oh"]:
                heard[name] = S.transcribe(*sox_shifted(Path(data_dir) / ALLISON / f"{name}.wav", k), model).digits
        out[f"+{k}"] = {"speech_commands_test": sc["single_digit_accuracy"], "clips": sc["clips"],
                        "per_digit_right_of": sc["per_digit_right_of"],
                        "allison_right": sum(h == ("0" if n == "oh" else n) for n, h in heard.items()),
                        "allison_clips": len(heard), "allison_heard": heard}
    out["mean_speech_commands_test"] = round(float(np.mean([out[f"+{k}"]["speech_commands_test"] for k in shifts])), 4)
    return out


# ---- main ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--weights", default=None, help="a weights folder (default: the shipped models/weights)")
    parser.add_argument("--name", default=S.NAME, help="the checkpoint's name in that folder")
    parser.add_argument("--enrol", default=None, help="only compare enrolment settings on this held-out checkpoint "
                                                      "(folder/name, e.g. runs/speech_new/holdout_nicolas), or on "
                                                      "jason with the shipped (--weights) network: --enrol jason")
    parser.add_argument("--parts", default="rnn+out", help="comma-separated settings for --enrol: all, front, rnn, out, "
                                                       "rnn+out, rnn.l1+out (the GRU's top layer and the output)")
    parser.add_argument("--lr", type=float, default=S.FINE_TUNE_LR)
    parser.add_argument("--steps", type=int, default=S.FINE_TUNE_STEPS)
    parser.add_argument("--early-stop", action=argparse.BooleanOptionalAction, default=S.EARLY_STOP,
                        help="--enrol: stop on the held-back prompt's loss")
    parser.add_argument("--recombine", default=",".join(map(str, S.RECOMBINE)), help="for --enrol: single words, new strings per step made "
                        "of the prompts' cut words (models.speech.cut_words); several settings separated by ';'")
    parser.add_argument("--cosine", action=argparse.BooleanOptionalAction, default=S.COSINE,
                        help="for --enrol: the rate falls from --lr to 0 along a cosine")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="put the results into the shipped card")
    parser.add_argument("--only", default="", help="comma-separated parts to measure (jason, allison, speech_commands, "
                        "shifted, noise, enrolment, self_consistency; default all); with --write they replace only "
                        "their own entries in the card")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.enrol:
        return compare_enrolment(args)

    model, meta = S.load(args.weights, torch.device("cpu"), name=args.name)
    wanted = set(args.only.split(",")) if args.only else None
    want = lambda part: wanted is None or part in wanted  # noqa: E731
    results = {}
    jason = load_jason(args.data_dir) if want("jason") or want("enrolment") or want("self_consistency") else []
    if want("jason"):
        results |= {"jason": single_digits(model, jason), "jason_joined": single_digits(model, jason, "joined")}
        print("jason as given:", results["jason"], flush=True)
        print("jason joined:  ", results["jason_joined"], flush=True)
    if want("allison") and (Path(args.data_dir) / ALLISON).is_dir():
        results["allison"] = allison(model, args.data_dir)
        print("allison:", results["allison"], flush=True)
    if want("speech_commands") and (Path(args.data_dir) / "speech" / "speech_commands").is_dir():
        from train.speech import load_speech_commands, speech_commands_score

        results["speech_commands_test"] = speech_commands_score(model, load_speech_commands(args.data_dir, "test"))
        print("speech commands test speakers:", results["speech_commands_test"], flush=True)
    if want("shifted") and (Path(args.data_dir) / "speech" / "speech_commands").is_dir():
        results["shifted"] = shifted_voices(model, args.data_dir)
        print("higher voices (sox pitch):", {k: v if not isinstance(v, dict) else
                                             {kk: vv for kk, vv in v.items() if kk != "per_digit_right_of"}
                                             for k, v in results["shifted"].items()}, flush=True)
    if want("noise"):
        results["noise"] = noise_results(model, noise_clips())
        print("noise:", results["noise"], flush=True)
    if want("enrolment"):
        start = time.time()
        results["jason_after_enrolment"] = jason_enrolment(model, jason)
        print("jason after enrolment:", results["jason_after_enrolment"], f"{time.time() - start:.0f} s", flush=True)
    if want("self_consistency"):
        from train.speech import load_fsdd

        fsdd = load_fsdd(args.data_dir)
        results["self_consistency"] = {"jason": self_consistency(jason, "joined")} | {
            who: self_consistency([c for c in fsdd if c["speaker"] == who]) for who in sorted({c["speaker"] for c in fsdd})}
        print("each speaker's words matched to his own other words (no network):", results["self_consistency"],
              flush=True)
    if "shifted" in results:
        results["shifted"]["command"] = "python -m benchmarks.speech_robust --data-dir ../shared/data --only shifted"
    if not wanted:  # a partial run keeps the full run's command in the card
        results["command"] = "python -m benchmarks.speech_robust --data-dir ../shared/data --write"
    if args.write:  # a partial run (--only) replaces its own entries and keeps the others
        meta["metrics"]["robustness"] = (meta["metrics"].get("robustness", {}) if wanted else {}) | results
        write_card(meta, args.name, args.weights)
        print("written into the card")


PARTS = {"all": ("conv1", "conv2", "rnn", "out"), "front": ("conv1", "conv2"), "rnn": ("rnn",), "out": ("out",),
         "rnn+out": ("rnn", "out"), "rnn.l1+out": ("rnn.l1", "out")}


def compare_enrolment(args) -> None:
    """Enrolment settings on one held-out speaker's checkpoint: the mean over three draws of his prompts."""
    from train import speech as T

    if args.enrol == "jason":  # the shipped (or --weights) network and jason, never trained on: no held-out run needed
        model, meta = S.load(args.weights, torch.device("cpu"), name=args.name)
        who, jason = "jason", load_jason(args.data_dir)
        clips = []
        for c in jason:  # his joined clips trimmed to the word, as jason_enrolment does
            span = S.speech_span(S.highpass(c["joined"]))
            clips.append({**c, "audio": c["joined"][span[0] : span[1]] if span else c["joined"]})
        print(f"jason: before {single_digits(model, jason, 'joined')}")
    else:
        folder, name = str(Path(args.enrol).parent), Path(args.enrol).name
        model, meta = S.load(folder, torch.device("cpu"), name=name)
        who = meta["training"]["options"]["holdout"]
        clips = [c for c in T.load_fsdd(args.data_dir) if c["speaker"] == who]
        before = meta["metrics"]
        print(f"{who}: before single {before['single_digit_accuracy']:.1%}, strings "
              f"{before['string_digit_error_rate']:.1%}")
    for setting, recombine in itertools.product(args.parts.split(","), args.recombine.split(";")):
        r = T.enrolment_results(model, clips, parts=PARTS[setting], lr=args.lr, steps=args.steps,
                                early_stop=args.early_stop, recombine=tuple(map(int, recombine.split(","))),
                                cosine=args.cosine)
        print(f"{who} {setting:8s} lr {args.lr:g} steps<= {args.steps} early stop {args.early_stop} recombine "
              f"{recombine} cosine {args.cosine}: single {r['single_digit_accuracy']:.1%}, "
              f"strings {r['string_digit_error_rate']:.1%}, {r['steps']:.0f} steps, {r['fine_tune_seconds']:.1f} s, "
              f"draws {r['per_draw']}", flush=True)


if __name__ == "__main__":
    main()
