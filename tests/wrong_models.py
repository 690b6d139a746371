"""Wrong models on purpose, to prove that the answer tests notice a wrong answer (tests/test_wrong_models.py).

`python -m pytest --wrong-model=NAME` (tests/conftest.py) patches the model module's public function(s) that the
page calls, for the whole test process, and runs only the tests marked `@pytest.mark.answers(NAME)`: each must
FAIL, on an answer check (tests/answers.py). Only the answer changes (a photo that is none of the ten classes gets
a class, its second): the page runs as usual (same confidence,
same figures), so the answer check is all that can notice. The patches wrap the modules' public functions, not
their internals, so they hold when a model is retrained.
"""
from __future__ import annotations

import dataclasses

import pytest


def shifted(digits: str) -> str:
    """ "4 1 5" -> "5 2 6": each digit heard as the next one."""
    return " ".join(str((int(d) + 1) % 10) for d in digits.split())


def runner_up_first(ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The first two names swapped, the scores left in place: the runner-up named with the best score."""
    if len(ranking) < 2:
        return ranking
    (a, sa), (b, sb), *rest = ranking
    return [(b, sa), (a, sb), *rest]


def reversed_words(text: str) -> str:
    """The translation's words in the reverse order (a shuffle that breaks every ordered pair of words)."""
    return " ".join(reversed(text.split()))


def speech(monkeypatch: pytest.MonkeyPatch) -> None:
    from models import speech as module

    transcribe = module.transcribe

    def wrong(*args, **kwargs):
        t = transcribe(*args, **kwargs)
        digits = shifted(t.digits)
        return dataclasses.replace(t, digits=digits, words=" ".join(module.WORDS[int(d)] for d in digits.split()))

    monkeypatch.setattr(module, "transcribe", wrong)


def faces(monkeypatch: pytest.MonkeyPatch) -> None:
    from models import faces as module

    similarities = module.similarities
    monkeypatch.setattr(module, "similarities", lambda *a, **k: runner_up_first(similarities(*a, **k)))


def photos(monkeypatch: pytest.MonkeyPatch) -> None:
    from models import photos as module

    analyze, classify = module.analyze, module.classify

    def wrong_analysis(*args, **kwargs):
        a = analyze(*args, **kwargs)
        changes = {"ranking": runner_up_first(a.ranking)}
        if getattr(a, "outlier", False) and "score" in {f.name for f in dataclasses.fields(a)}:
            changes["score"] = float("inf")  # none of the ten: answered with a class all the same
        return dataclasses.replace(a, **changes)

    monkeypatch.setattr(module, "analyze", wrong_analysis)
    monkeypatch.setattr(module, "classify", lambda *a, **k: runner_up_first(classify(*a, **k)))


def digits(monkeypatch: pytest.MonkeyPatch) -> None:
    from models import digits as module

    predict = module.predict

    def wrong(*args, **kwargs):
        p = predict(*args, **kwargs)
        return dataclasses.replace(p, digit=(p.digit + 1) % 10)

    monkeypatch.setattr(module, "predict", wrong)


def translate(monkeypatch: pytest.MonkeyPatch) -> None:
    from models import translate as module

    method = module.TranslateModel.translate

    def wrong(self, *args, **kwargs):
        t = method(self, *args, **kwargs)
        best = dataclasses.replace(t.candidates[0], text=reversed_words(t.candidates[0].text))
        return dataclasses.replace(t, text=reversed_words(t.text), candidates=[best, *t.candidates[1:]])

    monkeypatch.setattr(module.TranslateModel, "translate", wrong)


WRONG = {"speech": speech, "faces": faces, "photos": photos, "digits": digits, "translate": translate}
