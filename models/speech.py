"""Record speech: spoken digit strings transcribed by a recurrent network trained with CTC.

Read top to bottom: constants, config, the network, preprocessing (shared by training and the
page), CTC decoding, `transcribe`, and `fine_tune` (the page's "teach it your voice").

    waveform (any rate, mono or stereo)
      -> preprocess: mono -> resample to 8 kHz (the training data's rate: 0-4 kHz, telephone-like)
         -> remove rumble below 100 Hz -> find speech (frame energy above the clip's own noise floor) -> keep it with PAD_SECONDS of context -> loudness to TARGET_RMS
         -> log-mel spectrogram (40 bands, 10 ms hop) -> per-band mean/variance normalisation
      -> SpeechNet: 2 conv layers (each halves time: 40 ms frames) -> 2-layer bidirectional GRU
         -> linear -> log-probabilities over blank + ten digit words, per frame
      -> CTC greedy decoding: best class per frame, merge repeats, drop blanks -> "4 1 5"
"""
from __future__ import annotations

import copy
import functools
import io
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from models.common import Loaded, get_device, load_checkpoint, return_freed_memory, shared

NAME = "speech"
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
BLANK = 0  # CTC class 0 is "no new digit"; class d + 1 is the digit d
LABELS = ["blank"] + WORDS
SAMPLE_RATE = 8000  # FSDD's rate: every input is resampled to it, so a 48 kHz microphone looks like the data
N_FFT = 256
WIN_LENGTH = 200  # 25 ms
HOP_LENGTH = 80  # 10 ms per spectrogram frame; the network's frames are 40 ms
N_MELS = 40
F_MIN, F_MAX = 20.0, 4000.0
# Rumble below the voice (a desk, traffic, a fan; DC from a cheap microphone) is removed first: in a real room it
# is often the loudest thing in the recording and hid the speech from the speech finder below.
HIGHPASS_HZ = 100.0
LOG_FLOOR = 1e-6
TARGET_RMS = 0.05  # loudness of the speech after normalisation (about -26 dBFS)
PAD_SECONDS = 0.25  # context kept around the detected speech: the model was trained with it
SPEECH_FRAME = 0.02  # seconds per energy frame when looking for speech
SPEECH_RELATIVE_DB = -35.0  # a frame is speech if within 35 dB of the loudest frame...
SILENCE_RMS = 0.002  # ...and the loudest frame is louder than this (about -54 dBFS): else no speech
# ...and louder than the recording's own noise floor (its 5th-percentile frame) by this much. A recording whose
# loudest frame is not that far above its floor is steady noise (a fan, hiss, room tone: no speech at all), however
# loud: before, a noisy room kept the whole clip and levelling amplified its noise into "digits".
NOISE_FLOOR_PERCENTILE = 5
SPEECH_ABOVE_FLOOR_DB = 10.0
FRAME_SECONDS = 4 * HOP_LENGTH / SAMPLE_RATE  # the network's output frames: 40 ms
MAX_SECONDS = 20.0  # longer recordings are cut here (the page says so)
MIN_SECONDS = 0.1
MAX_FILE_BYTES = 20 * 1024 * 1024
# Below this mean confidence per digit the page says "not sure": noise alone gives about 0.5, while 95 % of
# FSDD digit strings (clean, or with noise at 5 dB SNR) give over 0.75.
CONFIDENCE_THRESHOLD = 0.7
# The longest digit strings in training (train/speech.py draws FSDD strings and synthetic ones of 1 to 7 digits;
# its test strings have 2 to 7): a longer transcript is outside what the network learned (noise gives dozens of
# "digits"), so it is never called sure. (The card does not record it: tests/test_speech.py checks it against
# train/speech.py.)
MAX_TRAINING_DIGITS = 7
# "Teach it your voice": what a user records. Eight prompts say every digit four times: five at a natural pace and
# three slowly, one digit at a time (isolated words sound unlike digits run together: before, enrolment on fast strings
# alone hardly helped a speaker's single digits). One more prompt is held back: never learned from, it shows the
# errors before -> after on speech the copy has not learned.
#
# The settings were compared on FSDD speakers held out of training, each acted out with his own clips (mean of three
# draws; benchmarks/speech_robust.py --enrol, docs/experiments.md): fine-tuning the GRU and the output layer at 1e-3
# for 120 steps beat every layer at 3e-4 (nicolas 81.5 vs 76.1 % single digits), the front end or the output layer
# alone, and stopping early on the held-back prompt's loss (it stopped after about 40 steps, too early: 76.4 %).
# Learning also from single words and new strings cut from the prompts (RECOMBINE) moved every held-out speaker's
# single digits (mean 93.2 -> 95.5 %; nicolas 81.5 -> 87.8, george 91.4 -> 94.8); a 2e-3 rate did not, nor a
# cosine-falling rate from 2e-3 (COSINE: nicolas 88.6, george 94.0, yweweler 95.3 %, strings no better). Two more
# prompts (each digit four times), on the 2,000-step model: mean 96.2 -> 96.5 % single digits, 2.2 -> 1.9 % string
# errors (george's strings 3.8 -> 2.5 %); both new prompts slow instead of one: the same within 0.3 point.


@dataclass(frozen=True)
class Prompt:
    digits: str  # "0 1 2 3 4"
    slow: bool = False  # one digit at a time, with a pause after each

    @property
    def words(self) -> str:
        return " ".join(WORDS[int(d)] for d in self.digits.split())


ENROLMENT_PROMPTS = [Prompt("0 1 2 3 4"), Prompt("5 6 7 8 9"), Prompt("2 7 0 5 9", slow=True),
                     Prompt("9 7 5 3 1"), Prompt("8 6 4 2 0"), Prompt("4 1 6 3 8", slow=True),
                     Prompt("3 8 1 9 6"), Prompt("7 2 5 0 4", slow=True)]
HELD_BACK_PROMPT = Prompt("3 9 0 6 1 7")
# Half the steps at twice the rate (2026-12-06, issue 43: teach it your voice in <= 30 s on one thread): on jason
# (never trained on; benchmarks.speech_robust --enrol jason, mean of three draws, the shipped network) 60 steps at
# 2e-3 gave 48.4 % single digits / 49.8 % digit errors in strings, 120 at 1e-3 47.8 % / 50.6 %, at about half the
# time (0.35 CPU-seconds a step). Fine-tuning only the GRU's top layer and the output ("rnn.l1", 0.21 s a step) lost
# 5 points (42.4 % / 55.2 %). The held-out FSDD speakers were not re-measured (each needs a 38-53 min held-out run).
FINE_TUNE_STEPS = 60
FINE_TUNE_LR = 2e-3
EARLY_STOP = False  # stop on the held-back prompt's loss (measured: too early with one prompt of six digits)
EVAL_EVERY = 5  # with EARLY_STOP: steps between looks at the held-back prompt
PATIENCE = 3  # with EARLY_STOP: looks without improvement before stopping
ADAPTED_PARTS = ("rnn", "out")  # which of SpeechNet's layers fine-tuning changes (the conv front end stays)
RECOMBINE = (6, 4)  # per step: single words and new strings made of the prompts' words (cut_words)
COSINE = False  # the learning rate constant (else: falling from FINE_TUNE_LR to 0 along a cosine)


class AudioError(ValueError):
    """An audio file that cannot be read, or holds no samples."""


@dataclass
class Config:
    n_mels: int = N_MELS
    channels: int = 128
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.15
    classes: int = len(LABELS)


class SpeechNet(nn.Module):
    def __init__(self, cfg: Config = Config()):
        super().__init__()
        self.cfg = cfg
        self.conv1 = nn.Sequential(nn.Conv1d(cfg.n_mels, cfg.channels, 5, stride=2, padding=2),
                                   nn.BatchNorm1d(cfg.channels), nn.GELU())
        self.conv2 = nn.Sequential(nn.Conv1d(cfg.channels, cfg.channels, 5, stride=2, padding=2),
                                   nn.BatchNorm1d(cfg.channels), nn.GELU())
        self.rnn = nn.GRU(cfg.channels, cfg.hidden, num_layers=cfg.layers, batch_first=True, bidirectional=True,
                          dropout=cfg.dropout)
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.hidden, cfg.classes)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """features (B, n_mels, T) -> log-probabilities (B, T', classes), T' = ceil(ceil(T / 2) / 2)."""
        x = self.conv2(self.conv1(features)).transpose(1, 2)  # (B, T', C)
        if lengths is not None:
            x = nn.utils.rnn.pack_padded_sequence(x, output_lengths(lengths).cpu(), batch_first=True, enforce_sorted=False)
            x, _ = self.rnn(x)
            x, _ = nn.utils.rnn.pad_packed_sequence(x, batch_first=True)
        else:
            x, _ = self.rnn(x)
        return self.out(self.dropout(x)).log_softmax(-1)


def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
    """Spectrogram frames -> network frames (two stride-2 convolutions: 40 ms per frame)."""
    return ((lengths + 1) // 2 + 1) // 2


# ---- preprocessing ---------------------------------------------------------------------------
def read_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Decode WAV/FLAC/OGG/MP3 bytes in memory -> (float32 samples (n,) or (n, channels), rate)."""
    import soundfile as sf

    if not data:
        raise AudioError("The file is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise AudioError(f"The file is larger than {MAX_FILE_BYTES // 2**20} MB.")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except Exception as error:  # soundfile raises several types for unreadable data
        raise AudioError("This is not an audio file that can be read (WAV, FLAC, OGG or MP3).") from error
    if samples.size == 0:
        raise AudioError("The file holds no audio samples.")
    if not np.isfinite(samples).all():  # a float file with NaN or infinite samples: those become silence
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.abs(samples).max())
    if peak > 1.0:  # a float file beyond full scale (up to 3e38): bring it back, else its energy overflows
        samples = samples / peak
    return samples, int(rate)


def to_mono(waveform) -> np.ndarray:
    """(n,) or (n, channels) or (channels, n) -> (n,) float32, channels averaged."""
    x = np.asarray(waveform, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[0] > x.shape[1] else x.mean(axis=0)
    if x.ndim != 1:
        raise AudioError("Expected a mono or stereo waveform.")
    return np.nan_to_num(x)


@functools.lru_cache(maxsize=16)
def _resampler(rate: int) -> torchaudio.transforms.Resample:
    return torchaudio.transforms.Resample(rate, SAMPLE_RATE)


def highpass(x: np.ndarray) -> np.ndarray:
    """8 kHz waveform (n,) -> the same without rumble below HIGHPASS_HZ (a second-order filter, forward only)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) < 3:
        return x
    with torch.no_grad():
        y = torchaudio.functional.highpass_biquad(torch.from_numpy(x - x.mean()), SAMPLE_RATE, HIGHPASS_HZ)
    return y.numpy()


def resample(x: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return x.astype(np.float32)
    if rate <= 0:
        raise AudioError("Invalid sample rate.")
    with torch.no_grad():
        return _resampler(int(rate))(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def frame_levels(x: np.ndarray) -> np.ndarray:
    """8 kHz waveform (n,) -> level of each SPEECH_FRAME in dB full scale (n // 160,)."""
    frame = int(SPEECH_FRAME * SAMPLE_RATE)
    n = len(x) // frame
    return 20 * np.log10(np.sqrt((x[: n * frame].reshape(n, frame) ** 2).mean(1) + 1e-12))


def speech_span(x: np.ndarray) -> tuple[int, int] | None:
    """(start, end) samples of the speech in an 8 kHz waveform, or None when it holds none: silent, or steady
    noise (nothing SPEECH_ABOVE_FLOOR_DB above the recording's own noise floor)."""
    db = frame_levels(x)
    if len(db) == 0 or db.max() < 20 * np.log10(SILENCE_RMS):
        return None
    floor = np.percentile(db, NOISE_FLOOR_PERCENTILE)
    voiced = np.flatnonzero(db > max(db.max() + SPEECH_RELATIVE_DB, floor + SPEECH_ABOVE_FLOOR_DB))
    if len(voiced) == 0:
        return None
    frame = int(SPEECH_FRAME * SAMPLE_RATE)
    return int(voiced[0] * frame), int((voiced[-1] + 1) * frame)


@dataclass
class Prepared:
    """What the network hears: the kept 8 kHz waveform and its normalised log-mel features."""

    waveform: np.ndarray  # (n,) float32 at SAMPLE_RATE, loudness-normalised
    features: torch.Tensor  # (N_MELS, T)
    offset_seconds: float  # where the kept part starts in the (resampled) recording
    truncated: bool  # the recording was longer than MAX_SECONDS
    speech: bool  # False: silent, or steady noise with nothing standing out of it
    steady_noise: bool = False  # no speech, but not silent either: a fan, hiss, a room's hum


@functools.lru_cache(maxsize=1)
def _mel() -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(SAMPLE_RATE, n_fft=N_FFT, win_length=WIN_LENGTH, hop_length=HOP_LENGTH,
                                                f_min=F_MIN, f_max=F_MAX, n_mels=N_MELS, power=2.0)


def features(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """8 kHz waveform (n,) -> normalised log-mel (N_MELS, T): each band to mean 0, variance 1 over time,
    which removes the microphone's colouring and level."""
    with torch.no_grad():
        mel = torch.log(_mel()(torch.as_tensor(x, dtype=torch.float32)) + LOG_FLOOR)
        return (mel - mel.mean(1, keepdim=True)) / (mel.std(1, keepdim=True) + 1e-5)


def preprocess(waveform, sample_rate: int, trim: bool = True) -> Prepared:
    """Any recording -> what the network hears. Training calls it on every utterance it builds."""
    x = highpass(resample(to_mono(waveform), sample_rate))
    truncated = len(x) > MAX_SECONDS * SAMPLE_RATE
    x = x[: int(MAX_SECONDS * SAMPLE_RATE)]
    span = speech_span(x)
    offset = 0  # where the kept part starts in the recording, in samples (< 0: silence was put before it)
    if span is not None and trim:
        pad = int(PAD_SECONDS * SAMPLE_RATE)
        # A recording cut close to the word (a trimmed file) gets the context it lacks, in silence: the network
        # learned words with pauses around them (FSDD's own trimmed test clips as given: 88.3 % exact; with 0.3 s
        # of silence around: 97.3 %).
        start, before, after = max(0, span[0] - pad), max(0, pad - span[0]), max(0, span[1] + pad - len(x))
        x = np.pad(x[start : span[1] + pad], (before, after))
        offset = start - before
    if len(x) < MIN_SECONDS * SAMPLE_RATE:
        x = np.pad(x, (0, int(MIN_SECONDS * SAMPLE_RATE) - len(x)))
    if span is not None:  # loudness: the speech part to TARGET_RMS (quiet or clipped input alike)
        s0, s1 = max(0, span[0] - offset), max(1, span[1] - offset)
        rms = float(np.sqrt(np.mean(x[s0:s1] ** 2) + 1e-12))
        x = x * (TARGET_RMS / rms)
    x = np.clip(x, -1.0, 1.0).astype(np.float32)
    steady_noise = span is None and len(x) > 0 and float(np.abs(x).max()) > SILENCE_RMS
    return Prepared(x, features(x), offset / SAMPLE_RATE, truncated, span is not None, steady_noise)


# ---- decoding --------------------------------------------------------------------------------
def greedy_decode(log_probs: np.ndarray) -> list[tuple[int, int, int, float]]:
    """(T, classes) -> [(digit, first frame, last frame, confidence)]: the best class per frame,
    repeats merged, blanks dropped; confidence = the digit's highest posterior in its run."""
    best = log_probs.argmax(1)
    out, t = [], 0
    while t < len(best):
        end = t
        while end + 1 < len(best) and best[end + 1] == best[t]:
            end += 1
        if best[t] != BLANK:
            out.append((int(best[t]) - 1, t, end, float(np.exp(log_probs[t : end + 1, best[t]].max()))))
        t = end + 1
    return out


@dataclass
class Transcript:
    digits: str  # "4 1 5"; empty when nothing was said
    words: str  # "four one five"
    confidences: list[float]  # one per digit
    spans: list[tuple[float, float]]  # seconds (start, end) of each digit's frames, on the kept waveform's axis
    posteriors: np.ndarray  # (T', 11) probabilities per 40 ms frame: blank, zero..nine
    frame_seconds: float
    prepared: Prepared

    @property
    def no_speech(self) -> bool:
        return not self.digits

    @property
    def doubts(self) -> list[str]:
        """The reasons to doubt that this is what was said (sentences for the page); empty when there is none,
        or when nothing was heard (see `no_speech`)."""
        reasons = []
        if self.confidences and float(np.mean(self.confidences)) < CONFIDENCE_THRESHOLD:
            reasons.append(f"Only {float(np.mean(self.confidences)):.0%} confident on average (below "
                           f"{CONFIDENCE_THRESHOLD:.0%}): this may be noise or unclear speech rather than spoken "
                           "digits.")
        n = len(self.digits.split())
        if n > MAX_TRAINING_DIGITS:
            reasons.append(f"{n} digits: longer than any string it was trained on ({MAX_TRAINING_DIGITS} digits at "
                           "most), so it may have missed or invented some.")
        return reasons

    @property
    def sure(self) -> bool:
        """Digits were heard and nothing gives a reason to doubt them: the page shows them as the answer."""
        return bool(self.digits) and not self.doubts


@torch.inference_mode()
def transcribe(waveform, sample_rate: int, model: SpeechNet | None = None) -> Transcript:
    """Transcribe spoken digits in a waveform (numpy, any rate, mono or stereo)."""
    if model is None:
        model = default_model()
    prepared = preprocess(waveform, sample_rate)
    if not prepared.speech:
        empty = np.zeros((0, len(LABELS)), np.float32)
        return Transcript("", "", [], [], empty, FRAME_SECONDS, prepared)
    device = next(model.parameters()).device
    log_probs = model(prepared.features[None].to(device))[0].float().cpu().numpy()
    decoded = greedy_decode(log_probs)
    frame = FRAME_SECONDS
    return Transcript(
        digits=" ".join(str(d) for d, *_ in decoded),
        words=" ".join(WORDS[d] for d, *_ in decoded),
        confidences=[c for *_, c in decoded],
        spans=[(a * frame, (b + 1) * frame) for _, a, b, _ in decoded],
        posteriors=np.exp(log_probs),
        frame_seconds=frame,
        prepared=prepared,
    )


def digit_errors(reference: str, hypothesis: str) -> int:
    """Edit distance between two digit strings ("4 1 5"), counted in digits."""
    r, h = reference.split(), hypothesis.split()
    row = list(range(len(h) + 1))
    for i, a in enumerate(r, 1):
        prev, row[0] = row[0], i
        for j, b in enumerate(h, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (a != b))
    return row[-1]


def as_many_digits(prompt: str, heard: str) -> bool:
    """Does what the shared model heard in a recording of `prompt` have as many digits? A voice it has not heard is
    mostly misread digit for digit (substitutions), so a count that differs is the sign of another text said, or a
    cut recording. Not proof: on jason, never heard, 46 % of the prompts said right differ too (the page says so)."""
    return len(heard.split()) == len(prompt.split())


# ---- adaptation ("teach it your voice") ------------------------------------------------------
def ctc_batch(items: list[tuple[torch.Tensor, str]]):
    """[(features (N_MELS, T), "4 1 5")] -> padded features (B, N_MELS, T), lengths, targets, target lengths."""
    lengths = torch.tensor([f.shape[1] for f, _ in items])
    x = torch.zeros(len(items), N_MELS, int(lengths.max()))
    for i, (f, _) in enumerate(items):
        x[i, :, : f.shape[1]] = f
    # an empty transcript (noise alone) is a valid CTC target: all blanks
    targets = [torch.tensor([int(d) + 1 for d in text.split()], dtype=torch.long) for _, text in items]
    return x, lengths, torch.cat(targets), torch.tensor([len(t) for t in targets])


def ctc_loss(model: SpeechNet, x, lengths, targets, target_lengths) -> torch.Tensor:
    log_probs = model(x, lengths).float()  # (B, T', C)
    return F.ctc_loss(log_probs.transpose(0, 1), targets, output_lengths(lengths), target_lengths,
                      blank=BLANK, zero_infinity=True)


def held_back_loss(model: SpeechNet, clip: tuple[np.ndarray, int, str]) -> float:
    """CTC loss of a recording [waveform, rate, "3 9 0"] under `model` (no gradient)."""
    w, r, text = clip
    with torch.no_grad():
        return float(ctc_loss(model, *ctc_batch([(preprocess(w, r).features, text)])))


def align(log_probs: np.ndarray, digits: list[int]) -> list[int] | None:
    """CTC Viterbi alignment of a known transcript: log-probabilities (T', classes), digits [4, 1, 5] -> the
    network frame where each digit is said (the middle of its run of frames on the best path); None when the
    recording is too short to hold them (a frame per digit, and one between two equal digits)."""
    labels = [BLANK]
    for d in digits:
        labels += [d + 1, BLANK]  # blank, d1, blank, d2, ..., blank: states 0 .. 2L
    T, S = len(log_probs), len(labels)
    if not digits or T < len(digits) + sum(a == b for a, b in zip(digits, digits[1:])):
        return None
    # a state is reached from itself, the one before, or (a digit after a blank, unless the digit repeats) two before
    skips = np.array([s >= 2 and labels[s] != BLANK and labels[s] != labels[s - 2] for s in range(S)])
    score = np.full((T, S), -np.inf)
    back = np.zeros((T, S), np.int64)
    score[0, :2] = log_probs[0, labels[:2]]
    for t in range(1, T):
        prev = score[t - 1]
        moves = np.stack([prev, np.r_[-np.inf, prev[:-1]], np.where(skips, np.r_[-np.inf, -np.inf, prev[:-2]], -np.inf)])
        best = moves.argmax(0)  # 0: stay, 1: one state on, 2: two
        score[t], back[t] = moves.max(0) + log_probs[t, labels], np.arange(S) - best
    s = S - 1 if score[-1, S - 1] >= score[-1, S - 2] else S - 2
    path = [s]
    for t in range(T - 1, 0, -1):
        s = back[t, s]
        path.append(s)
    path = np.array(path[::-1])
    return [int(np.flatnonzero(path == 2 * i + 1).mean()) for i in range(len(digits))]


def cut_words(model: SpeechNet, clip: tuple[np.ndarray, int, str]) -> list[tuple[np.ndarray, int]]:
    """An enrolment recording [waveform, rate, "4 1 5"] -> its words [(8 kHz levelled waveform, digit)], cut at
    the quietest moment between two digits as the network, told what was said, places them (CTC alignment; the
    frame it places a digit on may be anywhere in the word, so the cut is looked for in the middle half between).
    Lets enrolment make new strings and single words out of a few prompts (see fine_tune)."""
    w, r, text = clip
    prepared = preprocess(w, r)
    digits = [int(d) for d in text.split()]
    if not prepared.speech or not digits:
        return []
    with torch.no_grad():  # on the model's own device: .cpu() would move the shared model itself
        log_probs = model(prepared.features[None].to(next(model.parameters()).device))[0].float().cpu().numpy()
    placed = align(log_probs, digits)
    if placed is None:
        return []
    x = prepared.waveform
    frame = int(SPEECH_FRAME * SAMPLE_RATE)  # energy frames (20 ms)
    level = frame_levels(x)
    centres = [int((f + 0.5) * FRAME_SECONDS * SAMPLE_RATE) for f in placed]
    cuts = [0]
    for a, b in zip(centres, centres[1:]):
        # the quietest frame in the middle half between two digits' frames: not a dip inside a word ("se|ven")
        lo, hi = (3 * a + b) // (4 * frame), max((3 * a + b) // (4 * frame) + 1, (a + 3 * b) // (4 * frame))
        cuts.append(int((lo + np.argmin(level[lo:hi])) * frame + frame // 2) if hi <= len(level) else (a + b) // 2)
    cuts.append(len(x))
    return [(x[a:b], d) for a, b, d in zip(cuts, cuts[1:], digits) if b - a > frame]


def recombined(words: list[tuple[np.ndarray, int]], rng, singles: int, strings: int) -> list[tuple[np.ndarray, str]]:
    """New utterances made of a speaker's cut words: `singles` isolated words and `strings` strings of 2-6 words
    in a new order, with 0.05-0.6 s gaps and 0.1-0.3 s of quiet around: what he did not say, in his voice."""
    def quiet(seconds: float) -> np.ndarray:
        return (rng.standard_normal(int(seconds * SAMPLE_RATE)) * TARGET_RMS * 1e-2).astype(np.float32)

    made = []
    for k in range(singles + strings):
        picks = rng.choice(len(words), 1 if k < singles else int(rng.integers(2, 7)), replace=True)
        parts = [quiet(rng.uniform(0.1, 0.3))]
        for i in picks:
            parts += [words[i][0], quiet(rng.uniform(0.05, 0.6))]
        parts[-1] = quiet(rng.uniform(0.1, 0.3))
        made.append((np.concatenate(parts), " ".join(str(words[i][1]) for i in picks)))
    return made


def adapted(name: str, parts: tuple[str, ...]) -> bool:
    """Whether fine-tuning changes the parameter `name`: a layer named in `parts` ("rnn", "out", "conv1"), or one
    layer of the GRU ("rnn.l1": the top layer, both directions; the gradient then stops there, which halves the
    backward pass)."""
    layer = name.split(".")[0]
    gru_layer = name.removesuffix("_reverse").rsplit("_", 1)[-1] if layer == "rnn" else ""
    return layer in parts or f"{layer}.{gru_layer}" in parts


def fine_tune(model: SpeechNet, clips: list[tuple[np.ndarray, int, str]], steps: int = FINE_TUNE_STEPS,
              lr: float = FINE_TUNE_LR, progress=None, held_back: tuple[np.ndarray, int, str] | None = None,
              seed: int = 0, parts: tuple[str, ...] = ADAPTED_PARTS, early_stop: bool = EARLY_STOP,
              recombine: tuple[int, int] = RECOMBINE, cosine: bool = COSINE) -> tuple[SpeechNet, list[float]]:
    """A copy of `model` adapted to a few recordings [(waveform, rate, "4 1 5")] -> (copy, loss per step).

    Only the copy changes (the shared model is never touched). Each step sees every clip and `recombine` = (singles,
    strings) new utterances made of their words (cut_words, recombined), each with a random gain and speed (+/-8 %),
    so that a few clips are not simply memorised and single words are learned too; batch norm keeps
    its statistics (eval mode) because a handful of clips would give poor ones. Only the layers named in `parts`
    change. With `early_stop` and `held_back` (a recording never learned from), every EVAL_EVERY steps its loss is
    measured; the copy at its lowest loss is returned, and fine-tuning stops after PATIENCE looks without
    improvement."""
    held_back = held_back if early_stop else None
    tuned = copy.deepcopy(model).cpu()
    tuned.eval()
    trained = [p for name, p in tuned.named_parameters() if adapted(name, parts)]
    for p in trained:
        p.requires_grad_(True)
    opt = torch.optim.Adam(trained, lr=lr)
    base = [(preprocess(w, r).waveform, text) for w, r, text in clips]
    words = [word for clip in clips for word in cut_words(model, clip)] if any(recombine) else []
    rng = np.random.default_rng(seed)
    losses = []
    best, best_state, looks = held_back_loss(tuned, held_back) if held_back else None, None, 0
    for step in range(steps):
        if cosine:  # the rate falls from lr to 0 over the steps
            opt.param_groups[0]["lr"] = lr * 0.5 * (1 + np.cos(np.pi * step / steps))
        items = []
        for x, text in base + (recombined(words, rng, *recombine) if words else []):
            factor = rng.uniform(0.92, 1.08)
            stretched = np.interp(np.arange(0, len(x) - 1, factor), np.arange(len(x)), x).astype(np.float32)
            items.append((features(stretched * rng.uniform(0.5, 1.5)), text))
        with torch.enable_grad():
            loss = ctc_loss(tuned, *ctc_batch(items))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            opt.step()
        losses.append(loss.item())
        if progress is not None:
            progress(step + 1, steps, losses[-1])
        if held_back is not None and (step + 1) % EVAL_EVERY == 0:
            now = held_back_loss(tuned, held_back)
            if now < best:
                best, best_state, looks = now, copy.deepcopy(tuned.state_dict()), 0
            else:
                looks += 1
                if looks >= PATIENCE:
                    break
    if held_back is not None:
        if best_state is None:  # it never beat the shared model on the held-back prompt: keep the shared weights
            best_state = model.state_dict()
        tuned.load_state_dict(best_state)
    for p in tuned.parameters():
        p.requires_grad_(False)
    return tuned, losses


@dataclass
class Adaptation:
    """The result of "teach it your voice": the adapted copy, its loss per step, and the digit errors before and
    after, on the enrolment recordings (learned from) and on the held-back one (not learned from)."""

    model: SpeechNet
    losses: list[float]
    errors_before: int  # on the enrolment recordings
    errors_after: int
    digits: int  # digits in the enrolment recordings
    held_back_before: int | None = None  # on the held-back recording
    held_back_after: int | None = None
    held_back_digits: int = 0
    seconds: float = 0.0  # fine-tuning time


def adapt(model: SpeechNet, clips: list[tuple[np.ndarray, int, str]], steps: int = FINE_TUNE_STEPS,
          progress=None, held_back: tuple[np.ndarray, int, str] | None = None) -> Adaptation:
    """Fine-tune a copy of `model` on a speaker's recordings [(waveform, rate, "0 1 2 3 4")], scoring both."""
    def errors(net: SpeechNet, recordings) -> int:
        return sum(digit_errors(text, transcribe(w, r, net).digits) for w, r, text in recordings)

    before = errors(model, clips)
    start = time.perf_counter()
    tuned, losses = fine_tune(model, clips, steps=steps, progress=progress, held_back=held_back)
    seconds = time.perf_counter() - start
    result = Adaptation(tuned, losses, before, errors(tuned, clips), sum(len(text.split()) for *_, text in clips),
                        seconds=seconds)
    if held_back is not None:
        result.held_back_before, result.held_back_after = errors(model, [held_back]), errors(tuned, [held_back])
        result.held_back_digits = len(held_back[2].split())
    return_freed_memory()  # fine-tuning's gradients and batches: freed, handed back to the system
    return result


# ---- loading ---------------------------------------------------------------------------------
def config_dict(cfg: Config) -> dict:
    return asdict(cfg)


def load(weights_dir=None, device: torch.device | None = None, name: str = NAME) -> Loaded:
    """Rebuild the network from the checkpoint's JSON and load its weights (safetensors): (model, meta);
    `name`: another checkpoint of this network (the held-out-speaker runs)."""
    state, meta = load_checkpoint(name, weights_dir)
    model = SpeechNet(Config(**meta["config"]))
    model.load_state_dict(state)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return Loaded(model.to(device or get_device()), meta)


def default_model() -> SpeechNet:
    """The shipped network, loaded once per process (models.common.shared)."""
    return shared(NAME).model


# ---- the model card's text -------------------------------------------------------------------------
CREDITS = ("Free Spoken Digit Dataset (Zohar Jackson et al.), CC BY-SA 4.0. Speech Commands data set by Google "
           "(Warden, 2018), CC BY 4.0. felixchen's voice (felixchenfy/ros_speech_commands_classification), MIT. "
           "Tested on, never trained on: Allison's digits (Asterisk, Digium; CC BY-SA 3.0) and FSDD's jason.")


def training_voices(meta: dict) -> str:
    """One sentence for the page: which voices the shipped network learned from, from its card."""
    fsdd = len(meta["training"]["training_speakers"])
    sc = meta["training"].get("speech_commands_train") or {}
    if not sc:
        return (f"Trained on {fsdd} adult male speakers (FSDD) and synthetic voices: other voices (women, children, "
                "strong accents) are harder.")
    return (f"Trained on {fsdd + sc['speakers']} real voices: FSDD's {fsdd} men (Jackson et al., CC BY-SA 4.0) and "
            f"{sc['speakers']} people of Speech Commands (Google, Warden 2018, CC BY 4.0: men and women, many accents, "
            "their own phones and laptops), and synthetic voices. Children and very noisy rooms are still harder.")


WORKS_FOR = 0.9  # a voice is "works for" at 90 % of single digits or more, "not yet" below 80 %, between: "mostly"
NOT_YET = 0.8


def who_it_works_for(meta: dict) -> str | None:
    """One sentence for the page and the card: for whom it works and for whom not yet, by the card's measured
    numbers (Speech Commands test speakers, the same raised +3/+5/+7 semitones as higher voices, Allison, jason);
    None when the card has none of them."""
    m = meta["metrics"]
    robust = m.get("robustness", {})
    sc = (m.get("speech_commands_test") or {}).get("single_digit_accuracy")
    shifted = {k: v["speech_commands_test"] for k, v in robust.get("shifted", {}).items() if isinstance(v, dict)}
    if sc is None and not shifted:
        return None
    voices = [("adult voices it never heard, on their own phones and laptops", sc)] if sc is not None else []
    voices += [(f"those voices raised {k} semitones", a) for k, a in shifted.items()]
    if "allison" in robust:
        a = robust["allison"]
        voices.append((f"a woman's studio voice (Allison, {a['right']} of {a['clips']} words)", a["right"] / a["clips"]))
    if "jason_joined" in robust:
        voices.append(("a man recorded in another room with another microphone (FSDD's jason)",
                       robust["jason_joined"]["exact"]))
    def said(group):
        return "; ".join(f"{who} {acc:.0%}" if "Allison" not in who else who for who, acc in group)
    works = [v for v in voices if v[1] >= WORKS_FOR]
    mostly = [v for v in voices if NOT_YET <= v[1] < WORKS_FOR]
    not_yet = [v for v in voices if v[1] < NOT_YET]
    parts = [f"**Works for** {said(works)}." if works else "",
             f"**Mostly**: {said(mostly)}." if mostly else "",
             f"**Not yet**: {said(not_yet)}; when it is not sure it says so." if not_yet else ""]
    why = " Raised: pitch and formants moved up, as in many women's and children's voices." if shifted else ""
    return " ".join(p for p in parts if p) + " (Single digits right, measured: model card.)" + why


def headline(meta: dict) -> str:
    """The speech model's headline metric, in a few words: the home page's card and the README say the same."""
    sc = meta["metrics"].get("speech_commands_test")
    if sc:
        return (f"{sc['single_digit_accuracy']:.1%} of single digits right from {sc['speakers']} speakers it never "
                "heard (Speech Commands test split)")
    held_out = meta.get("held_out_speakers", {})
    if not held_out:
        return f"{meta['metrics']['single_digit_accuracy']:.1%} of FSDD test digits"
    mean = sum(r["single_digit_accuracy"] for r in held_out.values()) / len(held_out)
    return f"{mean:.1%} of single digits right from voices it never heard (mean of {len(held_out)} held-out speakers)"

def card_text(meta: dict) -> list[str]:
    """The card's measured lines (markdown), from the checkpoint's JSON: test clips, a table of voices it never heard
    (before and after enrolment), a stranger's room and noise alone, training voices."""
    m, training = meta["metrics"], meta["training"]
    robust = m.get("robustness", {})
    lines = [f"**{m['test_set']}:** single digits **{m['single_digit_accuracy']:.1%}** correct ({m['single_digits']}); "
             f"digit error rate on strings of 2–{MAX_TRAINING_DIGITS} digits **{m['string_digit_error_rate']:.1%}**"]
    rows = voice_rows(meta)
    if rows:
        lines.append("**Voices it never heard** (single digits correct · digit errors in strings):\n\n"
                     "| voice | never heard | after *teach it your voice* |\n| --- | --- | --- |\n"
                     + "\n".join(f"| {who} | {before} | {after} |" for who, before, after in rows))
        if any(r.get("previous_network") for r in meta.get("held_out_speakers", {}).values()):
            lines.append("*Previous network*: measured on the network shipped before 2026-12-05 (FSDD's six men and "
                         "synthetic voices only); each held-out speaker takes one 53-minute training run to measure "
                         "again (`python -m train.speech --holdout NAME`).")
    alike = robust.get("self_consistency", {})
    if alike:
        lines.append("**How alike each voice's own words are** (no network: each word matched to the nearest of his "
                     "other words; a voice whose words are not alike is hard for any model): " + ", ".join(
                         f"{who} {share:.0%}" for who, share in sorted(alike.items(), key=lambda kv: -kv[1])))
    noise = robust.get("noise", {})
    if noise:
        lines.append("**Noise alone** (made by the benchmark): " + "; ".join(
            f"{kind}: “no speech” in {r['no_speech']:.0%} of {r['clips']} clips" for kind, r in noise.items()))
    sc = m.get("speech_commands_test")
    if sc:
        per = ", ".join(f"{WORDS[int(d)]} {r}/{n}" for d, (r, n) in sc["per_digit_right_of"].items())
        lines.insert(1, f"**Speech Commands test split** ({sc['speakers']} speakers never trained on, their own phones "
                        f"and rooms): single digits **{sc['single_digit_accuracy']:.1%}** of {sc['clips']}; per word "
                        f"right of clips (few test clips for two, three, four, six, seven and nine): {per}")
    if "allison" in robust:
        a = robust["allison"]
        wrong = [f"“{w}” heard as “{h or 'nothing'}”" for w, h in a["heard"].items() if h != ("0" if w == "oh" else w)]
        lines.append(f"**Allison** (a woman's studio voice, 0–9 and “oh”, never trained on): **{a['right']} of "
                     f"{a['clips']}** right" + (f" ({'; '.join(wrong)})" if wrong else ""))
    shifted = {k: v for k, v in robust.get("shifted", {}).items() if isinstance(v, dict)}
    if shifted:
        lines.append("**Higher voices** (the Speech Commands test split and Allison raised with sox's `pitch`, formants "
                     "too, as a shorter vocal tract; `" + robust["shifted"].get("command", "") + "`): " + "; ".join(
                         f"{k} semitones: single digits **{r['speech_commands_test']:.1%}** of {r['clips']}, Allison "
                         f"{r['allison_right']} of {r['allison_clips']}" for k, r in shifted.items())
                     + f" (mean {robust['shifted']['mean_speech_commands_test']:.1%})")
    if (who := who_it_works_for(meta)) is not None:
        lines.insert(0, who)
    sct = training.get("speech_commands_train") or {}
    lines.append(f"**Training voices:** FSDD speakers {', '.join(training['training_speakers'])} (all adult men)"
                 + (f", {sct['clips']:,} clips of {sct['speakers']} Speech Commands speakers (train split; "
                    f"{sct['fsdd_share']:.0%} of real words drawn from FSDD)" if sct else "")
                 + f" and {training['synthetic_utterances']:,} synthetic utterances "
                 f"({', '.join(training.get('synthesisers', ['espeak-ng']))}; some zeros said “oh”)")
    return lines


def voice_rows(meta: dict) -> list[tuple[str, str, str]]:
    """(voice, before, after) cells of the card's table: FSDD speakers held out of training, and jason."""
    def cell(r: dict | None) -> str:
        if not r:
            return "not measured"
        text = f"{r['single_digit_accuracy']:.1%}"
        return text + (f" · {r['string_digit_error_rate']:.1%}" if "string_digit_error_rate" in r else "")

    # A held-out run measures one training recipe (53 min each); rows still from the network shipped before
    # 2026-12-05 (FSDD and synthetic voices only) say so.
    rows = [(f"{who} (FSDD, trained without him{'; previous network' if r.get('previous_network') else ''})",
             cell(r), cell(r.get("after_enrolment"))) for who, r in meta.get("held_out_speakers", {}).items()]
    robust = meta["metrics"].get("robustness", {})
    if "jason" in robust:
        after = robust.get("jason_after_enrolment")
        alike = robust.get("self_consistency", {}).get("jason")
        why = f"; his own words alike only {alike:.0%}: see below" if alike is not None else ""
        rows.append((f"jason (another room and microphone, never trained on{why}): clips as given", cell(
            {"single_digit_accuracy": robust["jason"]["exact"]}), cell(after)))
        rows.append(("jason, each clip's word joined (his clips wrap around)", cell(
            {"single_digit_accuracy": robust["jason_joined"]["exact"]}), "(as above)"))
    return rows


def enrolment_summary(meta: dict) -> str | None:
    """One sentence for the page: what the enrolment did for the held-out FSDD speakers (mean over them), from the
    card; None when the card has no such measurement."""
    runs = [r for r in meta.get("held_out_speakers", {}).values() if "after_enrolment" in r]
    if not runs:
        return None
    before = float(np.mean([r["single_digit_accuracy"] for r in runs]))
    after = float(np.mean([r["after_enrolment"]["single_digit_accuracy"] for r in runs]))
    old = sum(bool(r.get("previous_network")) for r in runs)
    which = (f" ({old} of them measured on the previous network: FSDD and synthetic voices only)" if old else "")
    return (f"Measured on {len(runs)} FSDD speakers it was trained without{which}, acted out with their own "
            f"recordings: single digits **{before:.1%} → {after:.1%}** on average (model card).")
