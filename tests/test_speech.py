"""Speech: CTC decoding, preprocessing across rates, silence, bad files, enrolment, accuracy on held-out speakers."""
import io
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from models import speech as S
from harness import voices
from tests.conftest import ROOT, require

EXAMPLES = ROOT / "assets" / "speech"


def posteriors(frames: list[int], confidence: float = 0.9) -> np.ndarray:
    """Hand-made log-posteriors (T, 11): each frame puts `confidence` on the given class."""
    p = np.full((len(frames), len(S.LABELS)), (1 - confidence) / (len(S.LABELS) - 1))
    p[np.arange(len(frames)), frames] = confidence
    return np.log(p)


def test_greedy_decoding_merges_repeats_and_drops_blanks():
    b = S.BLANK
    # "4 1 1 5": the two 1s are separated by a blank, the repeated 4s and 5s are merged.
    decoded = S.greedy_decode(posteriors([b, 5, 5, b, 2, b, 2, 2, b, b, 6, 6, 6, b]))
    assert [d for d, *_ in decoded] == [4, 1, 1, 5]
    assert [(a, e) for _, a, e, _ in decoded] == [(1, 2), (4, 4), (6, 7), (10, 12)]
    assert all(c == pytest.approx(0.9) for *_, c in decoded)
    assert S.greedy_decode(posteriors([b, b, b])) == []


def test_digit_errors_is_an_edit_distance():
    assert S.digit_errors("4 1 5", "4 1 5") == 0
    assert S.digit_errors("4 1 5", "4 5") == 1  # deletion
    assert S.digit_errors("4 1 5", "4 1 1 5") == 1  # insertion
    assert S.digit_errors("4 1 5", "7 1 5") == 1  # substitution
    assert S.digit_errors("4 1 5", "") == 3


def tone_burst(rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    x = np.zeros_like(t)
    voiced = (t > 0.4) & (t < 0.7)
    x[voiced] = 0.3 * np.sin(2 * np.pi * 440 * t[voiced])
    return x.astype(np.float32)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_preprocess_gives_the_same_features_at_any_rate(rate):
    """Resampled to 8 kHz, speech found and levelled: the features hardly depend on the input rate."""
    reference = S.preprocess(tone_burst(8000), 8000)
    prepared = S.preprocess(tone_burst(rate), rate)
    assert prepared.features.shape[0] == S.N_MELS
    assert abs(prepared.features.shape[1] - reference.features.shape[1]) <= 1
    n = min(prepared.features.shape[1], reference.features.shape[1])
    assert torch.corrcoef(torch.stack([prepared.features[:, :n].flatten(), reference.features[:, :n].flatten()]))[0, 1] > 0.95
    # The speech (0.4-0.7 s) is kept with PAD_SECONDS around it.
    assert len(prepared.waveform) / S.SAMPLE_RATE == pytest.approx(0.3 + 2 * S.PAD_SECONDS, abs=0.03)


def test_stereo_quiet_and_clipped_input_are_normalised():
    x = tone_burst(16000)
    stereo = np.stack([x, x], axis=1)
    a = S.preprocess(stereo, 16000)
    b = S.preprocess(x * 0.01, 16000)  # 40 dB quieter
    c = S.preprocess(np.clip(x * 50, -1, 1), 16000)  # clipped
    for p in (a, b, c):
        assert p.speech
        rms = np.sqrt(np.mean(p.waveform[int(0.25 * S.SAMPLE_RATE) : int(0.5 * S.SAMPLE_RATE)] ** 2))
        assert rms == pytest.approx(S.TARGET_RMS, rel=0.3)


def test_too_long_audio_is_cut_and_flagged():
    p = S.preprocess(np.zeros(int(30 * 16000), np.float32) + tone_burst(16000, 30), 16000)
    assert p.truncated


def test_bad_files_give_clear_errors():
    for data, message in [(b"", "empty"), (b"RIFF....WAVEfmt garbage", "not an audio file"),
                          (b"\x00" * 1000, "not an audio file")]:
        with pytest.raises(S.AudioError, match=message):
            S.read_audio(data)


def wav_bytes(x: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def shipped():
    return S.load(device=torch.device("cpu"))


def test_silence_and_noise_give_no_digits(shipped):
    model, _ = shipped
    silence = S.transcribe(np.zeros(16000, np.float32), 16000, model)
    assert silence.no_speech and not silence.prepared.speech and silence.digits == ""
    hum = S.transcribe(0.001 * np.random.default_rng(0).standard_normal(16000).astype(np.float32), 16000, model)
    assert hum.no_speech


def test_the_example_clips_are_transcribed(shipped):
    """The page's examples (made with espeak-ng for the page, not in the training data)."""
    import json

    model, _ = shipped
    for name, example in json.loads((EXAMPLES / "examples.json").read_text()).items():
        audio, rate = S.read_audio((EXAMPLES / example["file"]).read_bytes())
        result = S.transcribe(audio, rate, model)
        assert result.digits == example["says"], name
        # Each as sure as a demo needs: at most MAX_TRAINING_DIGITS digits (a longer string would be a guess).
        n = len(example["says"].split())
        assert n <= S.MAX_TRAINING_DIGITS and result.sure == (n > 0), (name, result.doubts)


def room_tone(rng, seconds: float, rate: int = 16000) -> np.ndarray:
    """The test's own room: rumble (smoothed noise), 50 Hz hum and harmonics, a fan's tone, hiss; unit RMS."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    rumble = np.convolve(rng.standard_normal(n), np.ones(40) / 40, "same")
    x = (rumble / rumble.std() + 0.5 * sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3))
         + 0.2 * np.sin(2 * np.pi * 440 * t) + 0.2 * rng.standard_normal(n))
    return (x / np.sqrt(np.mean(x**2))).astype(np.float32)


@pytest.mark.parametrize("level", [0.001, 0.01, 0.1, 0.3])
def test_noise_alone_gives_no_digits(shipped, level):
    """A minute of white noise and 10 s of room tone, quiet or loud: "no speech". Before, any noise louder than the
    silence threshold was levelled up and read as digits (50-odd in a minute of white noise)."""
    model, _ = shipped
    rng = np.random.default_rng(int(level * 1000))
    white = (level * rng.standard_normal(60 * 16000)).clip(-1, 1).astype(np.float32)
    result = S.transcribe(white, 16000, model)
    assert result.prepared.truncated and result.no_speech and not result.sure
    assert S.transcribe((level * room_tone(rng, 10)).clip(-1, 1), 16000, model).no_speech


def test_speech_in_a_noisy_room_is_found_and_kept_alone(shipped):
    """A digit string in the middle of 8 s of room tone 15 dB below it: the speech finder keeps the speech (with its
    context), not the whole recording, and the digits are read."""
    import json

    model, _ = shipped
    example = json.loads((EXAMPLES / "examples.json").read_text())["A PIN, American voice"]
    audio, rate = S.read_audio((EXAMPLES / example["file"]).read_bytes())
    audio = S.resample(audio, rate)
    rms = np.sqrt(np.mean(audio[S.speech_span(audio)[0] : S.speech_span(audio)[1]] ** 2))
    room = room_tone(np.random.default_rng(1), 8, S.SAMPLE_RATE) * rms * 10 ** (-15 / 20)
    at = 3 * S.SAMPLE_RATE
    room[at : at + len(audio)] += audio
    result = S.transcribe(room, S.SAMPLE_RATE, model)
    kept = len(result.prepared.waveform) / S.SAMPLE_RATE
    assert kept < len(audio) / S.SAMPLE_RATE + 2 * S.PAD_SECONDS + 0.2
    assert result.prepared.offset_seconds == pytest.approx(3.0, abs=0.6)
    assert result.digits == example["says"]


def transcript(digits: str, confidence: float) -> S.Transcript:
    n = len(digits.split())
    return S.Transcript(digits, " ".join(S.WORDS[int(d)] for d in digits.split()), [confidence] * n,
                        [(0.5 * i, 0.5 * i + 0.3) for i in range(n)], np.zeros((0, len(S.LABELS))), S.FRAME_SECONDS,
                        None)


def test_a_string_longer_than_any_in_training_is_not_sure_even_when_confident():
    longest = " ".join("3" * S.MAX_TRAINING_DIGITS)
    assert transcript(longest, 0.99).sure and transcript(longest, 0.99).doubts == []
    longer = transcript(longest + " 4", 0.99)
    assert not longer.sure
    assert longer.doubts == [f"{S.MAX_TRAINING_DIGITS + 1} digits: longer than any string it was trained on "
                             f"({S.MAX_TRAINING_DIGITS} digits at most), so it may have missed or invented some."]
    unclear = transcript("4 1", S.CONFIDENCE_THRESHOLD - 0.01)
    assert not unclear.sure and len(unclear.doubts) == 1 and "confident on average" in unclear.doubts[0]
    nothing = transcript("", 0.0)
    assert nothing.no_speech and not nothing.sure and nothing.doubts == []


def test_the_longest_training_strings_are_max_training_digits(tmp_path, monkeypatch):
    """MAX_TRAINING_DIGITS is what train/speech.py draws: FSDD strings and synthetic ones (the synthesiser faked)."""
    from train import speech as T

    rng = np.random.default_rng(0)
    clips = [{"audio": tone_burst(8000, 0.1), "digit": d, "speaker": "x", "index": 0} for d in range(10)]
    lengths = {len(T.fsdd_string(clips, rng, 0.35)[1].split()) for _ in range(500)}
    assert lengths == set(range(1, S.MAX_TRAINING_DIGITS + 1))
    monkeypatch.setattr(T, "installed", lambda synthesisers: ["espeak-ng"])
    monkeypatch.setattr(T, "SYNTHESISERS", {"espeak-ng": lambda text, rng: (["true"], None)})
    monkeypatch.setattr(T, "speak", lambda command, stdin=None: np.zeros(800, np.float32))
    synthetic = T.synthesize(500, 0, tmp_path)
    assert {len(text.split()) for _, text in synthetic} == set(range(1, S.MAX_TRAINING_DIGITS + 1))
    _, strings = T.evaluation_sets(clips * 2, 300)
    assert max(len(text.split()) for _, text in strings) == S.MAX_TRAINING_DIGITS


def test_save_and_load_give_identical_outputs(tmp_path, shipped):
    from models.common import save_checkpoint

    model, meta = shipped
    save_checkpoint(model, meta, S.NAME, tmp_path)
    again, _ = S.load(tmp_path, device=torch.device("cpu"))
    x = torch.randn(2, S.N_MELS, 123)
    with torch.inference_mode():
        assert torch.equal(model(x), again(x))


def test_fine_tuning_lowers_the_loss_and_leaves_the_shared_model_alone(shipped):
    model, _ = shipped
    before = {k: v.clone() for k, v in model.state_dict().items()}
    audio, rate = sf.read(EXAMPLES / "pin_en-us.wav", dtype="float32")
    slow = np.interp(np.arange(0, len(audio) - 1, 0.8), np.arange(len(audio)), audio).astype(np.float32)
    clips = [(audio, rate, "4 1 5 9"), (slow, rate, "4 1 5 9")]
    tuned, losses = S.fine_tune(model, clips, steps=15)
    assert np.mean(losses[-3:]) < losses[0]
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # bit-identical
    assert not any(p.requires_grad for p in model.parameters())
    assert tuned is not model
    # only the layers named in ADAPTED_PARTS change (the recurrent and output layers; the conv front end stays)
    changed = {k.split(".")[0] for k, v in tuned.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == set(S.ADAPTED_PARTS)


def test_alignment_places_each_digit_where_the_network_says_it():
    """CTC Viterbi alignment of a known transcript: each digit's frame is in its run; a repeated digit needs a blank
    between (4 4), and a digit the network hardly hears is still placed, between its neighbours."""
    frames = [0, 0, 5, 5, 5, 0, 0, 2, 0, 0, 5, 5, 0, 8, 0, 0]  # blank=0, class d+1 = digit d: "4 1 4 7"
    log_probs = posteriors(frames)
    assert S.align(log_probs, [4, 1, 4, 7]) == [3, 7, 10, 13]
    weak = posteriors([0, 5, 5, 0, 0, 0, 0, 2, 2, 0])  # "4 _ 1": the middle digit (9) not heard at all
    placed = S.align(weak, [4, 9, 1])
    assert placed[0] in (1, 2) and placed[0] < placed[1] < placed[2] and placed[2] in (7, 8)
    assert S.align(posteriors([0, 5, 0]), [4, 4, 4]) is None  # too short: 4 _ 4 _ 4 needs five frames
    assert S.align(posteriors([5, 0, 5, 0, 5]), [4, 4, 4]) == [0, 2, 4]


def test_a_recording_too_short_for_its_prompt_gives_no_words(shipped):
    """A click recorded for a ten-digit prompt: nothing to cut (before: the alignment failed with a ValueError)."""
    model, _ = shipped
    click = np.zeros(8000, np.float32)
    click[4000:4040] = 0.5
    assert S.cut_words(model, (click, 8000, " ".join("0123456789" * 3))) == []


def test_enrolment_prompts_are_cut_into_words_and_recombined(shipped, monkeypatch):
    """A slow prompt (espeak-ng) -> one piece per digit, each read alone as its digit; new utterances made of the
    pieces carry the right transcripts (enrolment's single words and new strings, models.speech.recombined).
    The shared model stays where it is: an early version called model.cpu(), which on a GPU server moves it."""
    model, _ = shipped
    monkeypatch.setattr(model, "cpu", lambda: pytest.fail("cut_words moved the shared model to the CPU"), raising=False)
    try:
        wav = voices.espeak_wav("two. seven. zero. five. nine.", speed=130)
    except voices.EspeakMissing as missing:
        pytest.skip(str(missing))
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    words = S.cut_words(model, (audio, rate, "2 7 0 5 9"))
    assert [d for _, d in words] == [2, 7, 0, 5, 9]
    assert [S.transcribe(w, S.SAMPLE_RATE, model).digits for w, _ in words] == ["2", "7", "0", "5", "9"]
    made = S.recombined(words, np.random.default_rng(0), singles=3, strings=4)
    assert [len(text.split()) for _, text in made[:3]] == [1, 1, 1]
    assert all(2 <= len(text.split()) <= 6 for _, text in made[3:])
    lengths = {d: len(w) for w, d in words}
    for audio, text in made:  # each is its words and 0.05-0.6 s gaps, 0.1-0.3 s around
        said = sum(lengths[int(d)] for d in text.split())
        assert said + 0.2 * S.SAMPLE_RATE <= len(audio) <= said + (0.6 + 0.6 * len(text.split())) * S.SAMPLE_RATE


def test_preprocessing_is_shared_with_training():
    """Training builds each utterance and calls models.speech.preprocess on it, as the page does."""
    from train import speech as T

    rng = np.random.default_rng(0)
    clips = [{"audio": tone_burst(8000, 0.5), "digit": d, "speaker": "x", "index": 0} for d in range(10)]
    audio, text = T.fsdd_string(clips, rng, 0.5, k=3)
    x, lengths, targets, target_lengths = S.ctc_batch([(S.preprocess(audio, S.SAMPLE_RATE).features, text)])
    assert torch.equal(x[0, :, : lengths[0]], S.preprocess(audio, S.SAMPLE_RATE).features)
    assert targets.tolist() == [int(d) + 1 for d in text.split()]


@pytest.mark.parametrize("program", ["espeak-ng", "flite", "text2wave"])
def test_each_synthesiser_says_a_digit_string(program):
    """The training voices: each installed synthesiser, in random voices, gives 8 kHz speech of a plausible length."""
    import shutil

    from train import speech as T

    if shutil.which(program) is None:
        pytest.skip(f"{program} not installed (apt-get install -y espeak-ng flite festival festvox-kallpc16k "
                    "festvox-kdlpc16k festvox-us-slt-hts)")
    rng = np.random.default_rng(0)
    for _ in range(4):
        audio = T.speak(*T.SYNTHESISERS[program]("four one five", rng))
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert 0.4 < len(audio) / S.SAMPLE_RATE < 3.0  # three words, trimmed to the speech
        assert np.sqrt(np.mean(audio**2)) > 0.01


def test_enrolment_is_acted_out_with_the_speakers_own_clips_and_tested_on_the_others():
    """The held-out measurement of "teach it your voice": the page's eight prompts said with 40 of his clips (each digit
    four times, the slow prompts with long pauses), the held-back prompt with 6 more, and none of those 46 among the
    clips the adapted copy is tested on."""
    from train import speech as T

    clips = [{"audio": tone_burst(8000, 0.3 + 0.01 * k), "digit": d, "speaker": "x", "index": k}
             for d in range(10) for k in range(5)]
    enrolment, held_back, rest = T.enrolment_sets(clips, seed=0)
    assert [text for *_, text in enrolment] == [p.digits for p in S.ENROLMENT_PROMPTS]
    assert held_back[2] == S.HELD_BACK_PROMPT.digits
    assert all(rate == S.SAMPLE_RATE and audio.ndim == 1 for audio, rate, _ in enrolment)
    said = [d for p in S.ENROLMENT_PROMPTS for d in p.digits.split()]
    assert all(said.count(str(d)) >= 4 for d in range(10))
    assert len(rest) == len(clips) - len(said) - len(held_back[2].split())
    tested = {id(c) for c in rest}
    used = sorted(c["digit"] for c in clips if id(c) not in tested)
    assert used == sorted(int(d) for d in said + held_back[2].split())
    # a slow prompt is longer than a fast one of as many digits: the pauses
    fast, slow = enrolment[0][0], next(a for (a, _, _), p in zip(enrolment, S.ENROLMENT_PROMPTS) if p.slow)
    assert len(slow) > len(fast) + 4 * 0.4 * S.SAMPLE_RATE


@pytest.fixture(scope="module")
def fsdd_dir():
    return require("speech/fsdd/manifest.csv")


def test_shipped_model_on_the_fsdd_test_split(fsdd_dir, shipped):
    """The official test clips (indices 0-4, voices it has heard, clips it has not), alone and in strings."""
    from train import speech as T

    model, meta = shipped
    card = meta["metrics"]  # read now: the card's numbers are whatever the shipped model's training measured
    clips = [c for c in T.load_fsdd(str(fsdd_dir)) if c["index"] < 5]
    singles, strings = T.evaluation_sets(clips, card["strings"])  # the card's sets: the same seed and count
    result = T.score(model, singles, strings)
    assert (result["single_digits"], result["strings"], result["string_digits"]) == (
        card["single_digits"], card["strings"], card["string_digits"])
    # As the card says, within 2 clips of 300 and 3 digits of the strings' ~930 (the card was measured on another
    # machine and thread count: sums in another order); 2026-12-05's card: 97.33 % and 0.54 %.
    assert result["single_digit_accuracy"] == pytest.approx(card["single_digit_accuracy"], abs=2 / len(singles)), result
    assert result["string_digit_error_rate"] == pytest.approx(card["string_digit_error_rate"],
                                                              abs=3 / card["string_digits"]), result
    assert result["single_digit_accuracy"] >= 0.95 and result["string_digit_error_rate"] <= 0.02, result


def test_clips_trimmed_to_the_word_are_read_as_well_as_with_pauses(fsdd_dir, shipped):
    """A file cut close to the word (FSDD's own clips, as given, which a presenter may upload) gets the quiet
    context the network learned with: the official test clips as given read about as well as with 0.3 s of
    silence around (the card's FSDD test number; 94.3 % vs 95.3 % on 2026-12-05's network); without the added
    silence, 88.3 % (2026-12-01's network: 97.3 % with pauses). Preprocessing puts PAD_SECONDS of silence first."""
    from train import speech as T

    model, meta = shipped
    clips = [c for c in T.load_fsdd(str(fsdd_dir)) if c["index"] < 5]
    exact = np.mean([S.transcribe(c["audio"], S.SAMPLE_RATE, model).digits == str(c["digit"]) for c in clips])
    assert exact >= meta["metrics"]["single_digit_accuracy"] - 0.02 and exact >= 0.92
    word = clips[0]["audio"]
    prepared = S.preprocess(word, S.SAMPLE_RATE)
    pad = int(S.PAD_SECONDS * S.SAMPLE_RATE)
    assert len(prepared.waveform) >= len(word) + pad and not prepared.waveform[: pad // 2].any()


def test_held_out_speaker_dry_run_saves_its_checkpoint(fsdd_dir, tmp_path):
    """A --holdout run is saved under holdout_<speaker> (the card check once refused that name, after 23 minutes of
    training) and loads back."""
    from train.speech import TrainConfig, train

    train(TrainConfig(data_dir=str(fsdd_dir), out_dir=str(tmp_path), dry_run=True, synthetic=0, holdout="theo"))
    model, meta = S.load(tmp_path, device=torch.device("cpu"), name="holdout_theo")
    assert meta["training"]["training_speakers"] == ["george", "jackson", "lucas", "nicolas", "yweweler"]


def test_training_dry_run(fsdd_dir, tmp_path):
    from train.speech import TrainConfig, train

    meta = train(TrainConfig(data_dir=str(fsdd_dir), out_dir=str(tmp_path), dry_run=True, synthetic=0))
    model, _ = S.load(tmp_path, device=torch.device("cpu"))
    assert meta["parameters"] == sum(p.numel() for p in model.parameters())


def test_self_consistency_tells_alike_words_from_mixed_up_labels():
    """The benchmark's "how alike a voice's own words are": words of a digit that sound alike (here a chirp per
    digit, each said with its own noise and level) match their own digit; the same words with their digits
    shuffled match at about chance. The card shows it beside the table of voices."""
    from benchmarks.speech_robust import self_consistency

    rng = np.random.default_rng(0)
    t = np.arange(int(0.3 * S.SAMPLE_RATE)) / S.SAMPLE_RATE

    def word(digit: int) -> np.ndarray:
        f0, f1 = 300 + 300 * digit, 3500 - 250 * digit  # each digit its own sweep
        tone = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1])))
        return (rng.uniform(0.1, 0.5) * tone + 0.02 * rng.standard_normal(len(t))).astype(np.float32)

    clips = [{"audio": np.pad(word(d), 800), "digit": d} for d in range(10) for _ in range(4)]
    assert self_consistency(clips, per_digit=4) >= 0.9
    labels = rng.permutation([c["digit"] for c in clips])
    shuffled = [{**c, "digit": int(d)} for c, d in zip(clips, labels)]
    assert self_consistency(shuffled, per_digit=4) < 0.4


def test_the_card_says_how_alike_each_voices_words_are():
    meta = {"metrics": {"test_set": "t", "single_digit_accuracy": 0.9, "single_digits": 10,
                        "string_digit_error_rate": 0.1, "robustness": {"self_consistency": {"jason": 0.62, "lucas": 1.0}}},
            "training": {"training_speakers": ["lucas"], "synthetic_utterances": 0}}
    line = [l for l in S.card_text(meta) if "How alike" in l][0]
    assert line.index("lucas 100%") < line.index("jason 62%")
    meta["metrics"]["robustness"] |= {"jason": {"exact": 0.086}, "jason_joined": {"exact": 0.296}}
    assert "his own words alike only 62%" in S.voice_rows(meta)[0][0]
    del meta["metrics"]["robustness"]
    assert not [l for l in S.card_text(meta) if "How alike" in l]


def test_jason_as_the_card_says():
    """FSDD's seventh speaker (never trained on, another room): the shipped model's exact single digits on his clips
    as given and joined, and how alike his own words are, as the card says
    (benchmarks.speech_robust --write)."""
    from benchmarks.speech_robust import load_jason, self_consistency, single_digits

    data = require("speech/fsdd_jason/manifest.csv")
    model, meta = S.load(device=torch.device("cpu"))
    card = meta["metrics"]["robustness"]
    jason = load_jason(str(data))
    assert len(jason) == card["jason"]["clips"]
    for key, measured in (("jason", single_digits(model, jason)), ("jason_joined", single_digits(model, jason, "joined"))):
        # two clips either way: the benchmark ran on one thread, this on every core (sums in another order)
        assert measured["exact"] == pytest.approx(card[key]["exact"], abs=2 / len(jason)), key
        assert measured["digits_per_clip"] == pytest.approx(card[key]["digits_per_clip"], abs=0.01), key
    assert self_consistency(jason, "joined") == card["self_consistency"]["jason"]


@pytest.fixture(scope="module")
def speech_commands_dir():
    return require("speech/speech_commands/manifest.csv")


def test_training_reads_only_the_train_split_of_speech_commands(speech_commands_dir):
    """The training script's file list against the manifest: no clip of a test-split speaker, nothing of the
    test-only voices (Allison, jason), and every train clip used."""
    import csv

    from train import speech as T

    rows = list(csv.DictReader(open(speech_commands_dir / "speech" / "speech_commands" / "manifest.csv")))
    test_speakers = {r["speaker"] for r in rows if r["split"] == "test"}
    files = [r["file"] for r in T.speech_commands_rows(str(speech_commands_dir), "train")]
    speakers = {r["speaker"] for r in T.speech_commands_rows(str(speech_commands_dir), "train")}
    assert len(files) == sum(r["split"] == "train" for r in rows) == 2582
    assert not speakers & test_speakers and len(speakers) == 564
    assert all(f.startswith("clips/") and "allison" not in f and "jason" not in f for f in files)


def test_words_are_drawn_evenly_by_digit_and_by_speaker():
    """Words: each digit about equally often whatever its clip count, and within a digit each Speech Commands speaker
    about equally often (one speaker with 125 clips of "two" gets no more than a speaker with one)."""
    from train.speech import Words

    fsdd = [{"audio": np.zeros(10, np.float32), "digit": d, "speaker": "george"} for d in range(10)]
    sc = [{"audio": np.ones(10, np.float32), "digit": d, "speaker": f"s{d}", "file": ""} for d in range(10)]
    sc += [{"audio": np.ones(10, np.float32), "digit": 2, "speaker": "felixchen", "file": f"{i}"} for i in range(125)]
    sc += [{"audio": np.ones(10, np.float32), "digit": 0, "speaker": f"z{i}", "file": ""} for i in range(300)]
    words = Words(fsdd, sc, fsdd_share=0.35)
    rng = np.random.default_rng(0)
    picks = [words.pick(rng) for _ in range(20000)]
    digits = np.bincount([p["digit"] for p in picks], minlength=10) / len(picks)
    assert np.all(np.abs(digits - 0.1) < 0.01), digits
    from_fsdd = np.mean([p["speaker"] == "george" for p in picks])
    assert from_fsdd == pytest.approx(0.35, abs=0.02)
    twos = [p["speaker"] for p in picks if p["digit"] == 2 and p["speaker"] != "george"]
    assert np.mean([s == "felixchen" for s in twos]) == pytest.approx(0.5, abs=0.05)  # 2 speakers said two


def test_speech_commands_clips_are_resampled_as_the_page_does(speech_commands_dir):
    """A 16 kHz Speech Commands clip becomes 8 kHz exactly as the page resamples an upload, cut to its word."""
    import soundfile as sf

    from train import speech as T

    clips = T.load_speech_commands(str(speech_commands_dir), "test")[:3]
    row = T.speech_commands_rows(str(speech_commands_dir), "test")[0]
    audio, rate = sf.read(speech_commands_dir / "speech" / "speech_commands" / row["file"], dtype="float32")
    assert rate == 16000
    page = S.resample(audio, rate)
    assert len(clips[0]["audio"]) <= len(page) and len(clips[0]["audio"]) > 0.2 * S.SAMPLE_RATE


def test_the_speech_commands_test_speakers_as_the_card_says(speech_commands_dir, shipped):
    """The 102 speakers of the test split (never trained on): the shipped model's exact single digits as its card
    says (train.speech measured it; within 2 clips of 361 for another thread count)."""
    from train import speech as T

    model, meta = shipped
    card = meta["metrics"].get("speech_commands_test")
    if card is None:
        pytest.fail("the shipped card has no Speech Commands test result: retrain with python -m train.speech")
    result = T.speech_commands_score(model, T.load_speech_commands(str(speech_commands_dir), "test"))
    assert (result["clips"], result["speakers"]) == (card["clips"], card["speakers"]) == (361, 102)
    assert result["single_digit_accuracy"] == pytest.approx(card["single_digit_accuracy"], abs=2 / 361), result


def test_allison_as_the_card_says(shipped):
    """Allison's 11 words (a woman's studio voice, never trained on; "oh" is zero): what the card says was heard."""
    from benchmarks.speech_robust import allison

    data = require("speech/asterisk_allison/oh.wav")
    model, meta = shipped
    card = meta["metrics"]["robustness"]["allison"]
    measured = allison(model, str(data))
    assert measured["right"] == card["right"] and measured["clips"] == 11
    assert sum(measured["heard"][w] == card["heard"][w] for w in card["heard"]) >= 10


def test_the_card_and_the_readme_state_the_same_speech_headline():
    """The home page's card and the README's speech row give the same measured number."""
    from pathlib import Path

    meta = json.loads((Path(__file__).parent.parent / "models" / "weights" / "speech.json").read_text())
    sc = meta["metrics"].get("speech_commands_test")
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| Record speech"))
    assert sc is not None and f"**{sc['single_digit_accuracy']:.1%}**".replace("%", " %") in row, row
    assert f"{sc['single_digit_accuracy']:.1%}" in S.headline(meta)


def test_held_out_rows_of_the_previous_network_say_so():
    """The six held-out FSDD runs were measured on the network shipped before 2026-12-05: the card's rows and the
    page's enrolment sentence say which were, and a re-measured speaker's row does not."""
    run = {"single_digit_accuracy": 0.7, "string_digit_error_rate": 0.2,
           "after_enrolment": {"single_digit_accuracy": 0.95, "string_digit_error_rate": 0.02}}
    meta = {"metrics": {"test_set": "t", "single_digit_accuracy": 0.9, "single_digits": 10,
                        "string_digit_error_rate": 0.1},
            "training": {"training_speakers": ["lucas"], "synthetic_utterances": 0},
            "held_out_speakers": {"george": run, "nicolas": {**run, "previous_network": True}}}
    rows = dict((who.split(" ")[0], who) for who, _, _ in S.voice_rows(meta))
    assert "previous network" in rows["nicolas"] and "previous network" not in rows["george"]
    assert "(1 of them measured on the previous network" in S.enrolment_summary(meta)
    assert any(line.startswith("*Previous network*") for line in S.card_text(meta))
    del meta["held_out_speakers"]["nicolas"]
    assert "previous" not in S.enrolment_summary(meta) and not any("Previous" in l for l in S.card_text(meta))


# ---- issue 43: every voice in the room ----------------------------------------------------------------
def example_versions():
    """Each spoken example of the page (not the silence) as a user's microphone might give it: clipped (the level
    20 dB past full scale: the hard-clipped PIN of tests/test_hostile.py), quiet (-30 dB) and shouted (6 dB past
    full scale), 16-bit as a recording is."""
    def pcm16(x: np.ndarray, rate: int) -> np.ndarray:
        buf = io.BytesIO()
        sf.write(buf, x, rate, format="WAV", subtype="PCM_16")
        return sf.read(io.BytesIO(buf.getvalue()), dtype="float32")[0]

    versions = {"clipped": lambda x: np.clip(x / np.abs(x).max() * 10, -1, 1),
                "quiet": lambda x: x / np.abs(x).max() * 0.03,
                "shouted": lambda x: np.clip(x / np.abs(x).max() * 2, -1, 1)}
    out = []
    for name, example in json.loads((EXAMPLES / "examples.json").read_text()).items():
        if example["says"]:
            for how, make in versions.items():
                # The shipped network reads the clipped PIN "4 9 5 9" (tests/test_hostile.py); the network trained
                # with clipping (runs/speech_voices, 2026-12-06, docs/experiments.md) reads it right but was not
                # shipped (1-2 clips worse on the Speech Commands and FSDD tests).
                marks = [pytest.mark.xfail(strict=True, reason="shipped network: clipped PIN read as 4 9 5 9")] if (
                    example["file"] == "pin_en-us.wav" and how == "clipped") else []
                out.append(pytest.param(example["file"], how, lambda f=example["file"], m=make: (
                    lambda a, r: (pcm16(m(a), r), r))(*S.read_audio((EXAMPLES / f).read_bytes())), example["says"],
                    id=f"{example['file']}-{how}", marks=marks))
    return out


@pytest.mark.parametrize("file, how, audio, says", example_versions())
def test_each_example_reads_right_clipped_quiet_and_shouted(shipped, file, how, audio, says):
    """The page's spoken examples, clipped, quiet and shouted: the same digits, and sure of them."""
    model, _ = shipped
    result = S.transcribe(*audio(), model)
    assert result.digits == says and result.sure, (file, how, result.digits, result.confidences)


def dominant_hz(x: np.ndarray, rate: int = S.SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


def test_pitch_shift_raises_the_pitch_and_keeps_the_tempo():
    """train.speech.pitch_shift: +12 semitones doubles a tone's frequency, the length stays (times the tempo)."""
    from train import speech as T

    tone = np.sin(2 * np.pi * 300 * np.arange(8000) / S.SAMPLE_RATE).astype(np.float32)
    up = T.pitch_shift(tone, 12.0)
    assert len(up) == len(tone) and dominant_hz(up) == pytest.approx(600, abs=15)
    assert dominant_hz(T.pitch_shift(tone, 5.0)) == pytest.approx(300 * 2 ** (5 / 12), abs=15)
    assert len(T.pitch_shift(tone, 3.0, tempo=1.1)) == int(len(tone) / 1.1)
    rng = np.random.default_rng(0)
    shifts = [T.semitones(rng) for _ in range(2000)]
    assert min(shifts) >= -3 and max(shifts) <= 8 and np.mean([s > 0 for s in shifts]) == pytest.approx(0.75, abs=0.03)


def test_the_microphone_and_room_augmentations_do_what_they_say():
    """Clipping clips, the phone line keeps 300-3400 Hz, a synthetic room starts with its direct sound, and the real
    noise is made of the clips' quiet parts only (never the words)."""
    from train import speech as T

    rng = np.random.default_rng(0)
    t = np.arange(8000) / S.SAMPLE_RATE
    clipped = T.hard_clip(np.sin(2 * np.pi * 200 * t).astype(np.float32), rng)
    assert np.abs(clipped).max() == 1.0 and np.mean(np.abs(clipped) == 1.0) > 0.2
    line = T.phone_band((0.3 * np.sin(2 * np.pi * 100 * t) + 0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), rng)
    spectrum = np.abs(np.fft.rfft(line[2000:]))  # 1 Hz per bin over 6,000 samples at 8 kHz: bin k = 4k/3 Hz
    assert spectrum[75] < 0.2 * spectrum[750]  # 100 Hz (below the line's band) vs 1,000 Hz (inside it)
    ir = T.room_impulse(rng)
    assert ir[0] == 1.0 and 0.15 * S.SAMPLE_RATE <= len(ir) <= 0.9 * S.SAMPLE_RATE
    word = 0.3 * np.sin(2 * np.pi * 250 * t[:2400]).astype(np.float32)
    room = 0.001 * rng.standard_normal(4000).astype(np.float32)
    parts = T.quiet_parts(np.concatenate([room, word, room]))
    assert len(parts) == 2 and all(np.abs(p).max() < 0.01 for p in parts)  # the word is in neither
    assert T.quiet_parts(np.concatenate([np.zeros(4000, np.float32), word])) == []  # digital silence is no room
    assert T.real_noise(rng, 20000, parts).shape == (20000,)


def test_the_augmentation_flags_are_off_by_default_and_voices_turns_them_on(monkeypatch):
    """The shipped recipe's command makes the same data as before (no flag on, no random number drawn for one);
    --voices turns every issue-43 augmentation on."""
    from train import speech as T

    cfg = T.TrainConfig()
    assert not (cfg.pitch_fraction or cfg.tempo or cfg.rir or cfg.real_noise or cfg.clipping or cfg.phone_band
                or cfg.extra_voices or cfg.init)
    on = T.voice_options(T.TrainConfig(voices=True))
    assert on.pitch_fraction > 0 and on.tempo and on.rir and on.real_noise and on.clipping and on.phone_band
    assert on.extra_voices > 0
    x, quiet = tone_burst(8000, 0.5), [0.01 * np.ones(2000, np.float32)]
    helpers = ["pitch_shift", "semitones", "room_impulse", "real_noise", "phone_band", "hard_clip"]
    calls = dict.fromkeys(helpers, 0)
    for name in helpers:  # count the calls, then do what the helper does
        def counted(*args, _name=name, _f=getattr(T, name), **kwargs):
            calls[_name] += 1
            return _f(*args, **kwargs)
        monkeypatch.setattr(T, name, counted)
    rng = np.random.default_rng(3)
    for _ in range(100):
        T.augment(x, rng, cfg, None, quiet)
    assert not any(calls.values()), calls  # off: never called (so no random number drawn for them either)
    for _ in range(100):
        T.augment(x, rng, on, None, quiet)
    assert all(calls.values()), calls


def test_the_high_voices_say_their_digits():
    """--extra-voices: espeak-ng's women's variants at a high pitch, flite's and Festival's slt, each a digit string."""
    import shutil

    from train import speech as T

    rng = np.random.default_rng(0)
    for program, job in T.HIGH_VOICES.items():
        if shutil.which(program) is None:
            pytest.skip(f"{program} not installed")
        audio = T.speak(*job("six zero eight", rng))
        assert 0.4 < len(audio) / S.SAMPLE_RATE < 3.0 and np.sqrt(np.mean(audio**2)) > 0.01, program


def test_the_higher_voices_dev_set_is_made_by_sox_and_kept_out_of_git(tmp_path, monkeypatch):
    """benchmarks.speech_robust's dev set: sox's pitch effect raises a recording k semitones, its length kept, into
    runs/ (git-ignored), never into the repository's tracked files."""
    import shutil
    import subprocess

    from benchmarks import speech_robust as B

    if shutil.which("sox") is None:
        pytest.skip("sox not installed (apt-get install -y sox)")
    src = tmp_path / "speech" / "clips" / "tone.wav"
    src.parent.mkdir(parents=True)
    sf.write(src, 0.3 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000), 16000)
    monkeypatch.setattr(B, "SHIFT_CACHE", tmp_path / "cache")
    audio, rate = B.sox_shifted(src, 7)
    assert rate == 16000 and abs(len(audio) - 16000) < 200
    assert dominant_hz(audio[2000:-2000], rate) == pytest.approx(300 * 2 ** (7 / 12), abs=15)
    assert str(B.SHIFT_CACHE).startswith(str(tmp_path))
    ignored = subprocess.run(["git", "check-ignore", "runs/speech_shifted/+3/clips/x.wav"], cwd=ROOT,
                             capture_output=True, text=True)
    assert ignored.returncode == 0


def test_the_card_has_the_higher_voices_per_shift(shipped):
    """The shipped card carries the dev set's result per shift (+3/+5/+7) and its command, and the page's card text
    shows them."""
    _, meta = shipped
    shifted = meta["metrics"]["robustness"]["shifted"]
    assert {"+3", "+5", "+7"} <= set(shifted) and all(shifted[k]["clips"] == 361 for k in ("+3", "+5", "+7"))
    assert shifted["command"].startswith("python -m benchmarks.speech_robust")
    text = "\n".join(S.card_text(meta))
    assert all(f"{shifted[k]['speech_commands_test']:.1%}" in text for k in ("+3", "+5", "+7"))


def test_who_it_works_for_follows_the_measured_numbers():
    """The page's and the card's sentence on who it works for: each voice under "works for" (>= 90 %), "mostly" or
    "not yet" (< 80 %) by the card's numbers, so a better network moves a voice by itself."""
    meta = {"metrics": {"speech_commands_test": {"single_digit_accuracy": 0.95},
                        "robustness": {"shifted": {"+3": {"speech_commands_test": 0.93}, "+7": {"speech_commands_test": 0.6},
                                                   "mean_speech_commands_test": 0.765, "command": "x"},
                                       "jason_joined": {"exact": 0.85}}}}
    text = S.who_it_works_for(meta)
    works, rest = text.split("**Mostly**")
    mostly, not_yet = rest.split("**Not yet**")
    assert "never heard" in works and "+3" in works and "jason" in mostly and "+7" in not_yet and "not sure" in not_yet
    meta["metrics"]["robustness"]["shifted"]["+7"]["speech_commands_test"] = 0.91
    assert "Not yet" not in S.who_it_works_for(meta)
    assert S.who_it_works_for({"metrics": {}}) is None


def test_fine_tuning_can_adapt_only_the_grus_top_layer():
    """fine_tune's parts: "rnn.l1" is the GRU's top layer in both directions (and nothing of layer 0), "rnn" all of it."""
    names = [n for n, _ in S.SpeechNet().named_parameters()]
    top = [n for n in names if S.adapted(n, ("rnn.l1",))]
    assert len(top) == 8 and all(n.startswith("rnn.") and "_l1" in n for n in top)
    assert {n for n in names if S.adapted(n, ("rnn", "out"))} == {n for n in names if n.split(".")[0] in ("rnn", "out")}
