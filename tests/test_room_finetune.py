"""The room teaches the network (models/room_finetune.py) and what the room's screen computes (ui/room_summary.py)."""
from __future__ import annotations

import base64

import numpy as np
import pytest

from benchmarks.room_finetune import room_drawings
from ui import room_summary


def test_fine_tuning_learns_the_rooms_hand_and_keeps_mnist():
    """100 drawings the network reads badly (turned a quarter): after fine-tuning on 50, the other 50 are read far
    better, MNIST's 2,000 barely change, and the shipped network is untouched."""
    import torch

    from models import digits, room_finetune

    images, labels = room_drawings(100)
    shipped = digits.default_model()
    weights = {k: v.clone() for k, v in shipped.state_dict().items()}
    result = room_finetune.fine_tune(images, labels)
    assert (result.trained_on, result.scored_on) == (50, 50)
    assert result.room_before < 0.7 and result.room_after >= result.room_before + 0.25, result
    assert result.mnist_before > 0.99 and result.mnist_after > 0.98, result
    assert result.seconds < 30, result  # ~7 s on one thread of the 2-core machine (docs/benchmarks.md)
    assert all(torch.equal(v, weights[k]) for k, v in shipped.state_dict().items())


def test_too_few_labelled_drawings_says_how_many_more():
    from models import room_finetune

    assert room_finetune.needed(7) == 13 and room_finetune.needed(25) == 0
    with pytest.raises(ValueError, match="13 more labelled drawings"):
        room_finetune.fine_tune(np.zeros((7, 28, 28), np.uint8), np.zeros(7, np.int64))


def event(i, kind="digit", phone="phone-aaaa", slot=0, **fields):
    base = {"digit": {"drawing": base64.b64encode(bytes(784)).decode(), "answer": 3, "confidence": 0.9, "right": None},
            "photo": {"label": "cat", "confidence": 0.8, "right": None, "thumb": None},
            "speech": {"heard": "4 1 5", "meant": None},
            "live": {"network": "Small CNN", "seconds": 15.0, "accuracy": 0.98}}[kind]
    return {"id": i, "kind": kind, "phone": phone, "slot": slot, "hidden": False, **base, **fields}


def test_the_latest_event_of_each_slot_is_the_answer_and_taps_score_it():
    events = [event(1), event(2, right=True), event(3, phone="phone-bbbb", answer=5, confidence=0.4),
              event(4, phone="phone-bbbb", answer=5, confidence=0.4, right=False, meant=6),
              event(5, phone="phone-cccc", answer=-1, confidence=0.3, right=False, meant=1)]
    summary = room_summary.digits(room_summary.answers(events)["digit"])
    assert (summary.count, summary.tapped, summary.right) == (3, 3, 1) and summary.accuracy == pytest.approx(1 / 3)
    assert summary.confusion[3, 3] == 1 and summary.confusion[6, 5] == 1 and summary.confusion[1, 10] == 1
    assert [e["id"] for e in summary.hardest][:2] == [5, 4]  # wrong ones first, least sure first
    images, labels = room_summary.labelled(room_summary.answers(events)["digit"])
    assert images.shape == (3, 28, 28) and sorted(labels) == [1, 3, 6]


def test_hidden_drawings_leave_the_wall_but_count():
    events = [event(1, slot=0), event(2, slot=1, hidden=True)]
    summary = room_summary.digits(room_summary.answers(events)["digit"])
    assert summary.count == 2 and [e["id"] for e in summary.wall] == [1]


def test_speech_digit_error_rate_and_the_leaderboard():
    speech = room_summary.speech([event(1, "speech", heard="4 1 5 9", meant="4 1 5 8"),
                                  event(2, "speech", phone="phone-bbbb", heard="1 2", meant="1 2 3"),
                                  event(3, "speech", phone="phone-cccc", heard="7", meant=None)])
    assert (speech.errors, speech.digits) == (2, 7)
    board = room_summary.leaderboard([event(1, "live", accuracy=0.95), event(2, "live", phone="phone-b", accuracy=0.97),
                                      event(3, "live", seconds=60.0, accuracy=0.99),
                                      event(4, "live", network="Multilayer perceptron", accuracy=0.93)])
    assert board[0][:3] == ("Small CNN", 0.97, 15.0) and board[0][3] == 3 and board[1][0] == "Multilayer perceptron"
    photos = room_summary.photos([event(1, "photo", right=True), event(2, "photo", label="not sure", right=False),
                                  event(3, "photo", label="cat", thumb="AAAA"),
                                  event(4, "photo", label="dog", thumb="AAAA", hidden=True)])
    assert photos.classes == {"cat": 2, "not sure": 1, "dog": 1} and photos.accuracy == 0.5
    assert [e["id"] for e in photos.thumbs] == [3]  # a hidden thumbnail leaves the screen
