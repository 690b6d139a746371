"""What the room's screen shows, computed from the room's events (ui/room_store.py): no Streamlit, no torch.

A phone sends an event when its page answers and again when the person taps right or wrong (same `slot`): the
latest event of each (phone, kind, slot) is the answer; the earlier ones are its drafts.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field

import numpy as np

WALL = 24  # drawings on the wall, the latest
HARDEST = 8
NOT_A_DIGIT = -1  # a digit event's answer when the page said "not a digit"


def answers(events: list[dict]) -> dict[str, list[dict]]:
    """kind -> the latest event of each (phone, slot), oldest first."""
    latest: dict[tuple, dict] = {}
    for event in sorted(events, key=lambda e: e["id"]):
        latest.pop((event["phone"], event["kind"], event["slot"]), None)
        latest[(event["phone"], event["kind"], event["slot"])] = event
    out: dict[str, list[dict]] = {}
    for event in latest.values():
        out.setdefault(event["kind"], []).append(event)
    return out


def drawing(event: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(event["drawing"]), np.uint8).reshape(28, 28)


def truth(event: dict) -> int | None:
    """The digit the person meant: the answer when they tapped right, the digit they named when wrong."""
    if event.get("right") is True:
        return event["answer"]
    if event.get("right") is False:
        return event.get("meant")
    return None


@dataclass
class Digits:
    count: int = 0
    tapped: int = 0
    right: int = 0
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((10, 11), int))  # meant x read (10 = not a digit)
    wall: list = field(default_factory=list)  # latest shown drawings
    hardest: list = field(default_factory=list)  # wrong first, then least sure

    @property
    def accuracy(self) -> float | None:
        return self.right / self.tapped if self.tapped else None


def digits(events: list[dict]) -> Digits:
    out = Digits(count=len(events))
    for e in events:
        if e.get("right") is not None:
            out.tapped += 1
            out.right += bool(e["right"])
        meant = truth(e)
        if meant is not None:
            out.confusion[meant, 10 if e["answer"] == NOT_A_DIGIT else e["answer"]] += 1
    shown = [e for e in events if not e.get("hidden")]
    out.wall = shown[-WALL:][::-1]
    out.hardest = sorted(shown, key=lambda e: (e.get("right") is not False, e["confidence"]))[:HARDEST]
    return out


def labelled(events: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The drawings whose digit the room told: (N, 28, 28) uint8, (N,) labels; for the fine-tuning."""
    pairs = [(drawing(e), truth(e)) for e in events if truth(e) is not None]
    if not pairs:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
    return np.stack([p[0] for p in pairs]), np.array([p[1] for p in pairs], np.int64)


@dataclass
class Photos:
    count: int
    classes: dict  # label -> photos the network gave it
    tapped: int
    right: int
    thumbs: list  # shown events with a thumbnail

    @property
    def accuracy(self) -> float | None:
        return self.right / self.tapped if self.tapped else None


def photos(events: list[dict]) -> Photos:
    classes: dict[str, int] = {}
    for e in events:
        classes[e["label"]] = classes.get(e["label"], 0) + 1
    tapped = [e for e in events if e.get("right") is not None]
    return Photos(len(events), dict(sorted(classes.items(), key=lambda kv: -kv[1])), len(tapped),
                  sum(bool(e["right"]) for e in tapped), [e for e in events if e.get("thumb") and not e.get("hidden")])


@dataclass
class Speech:
    rows: list  # (heard, meant or None), latest first
    errors: int
    digits: int

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.digits if self.digits else None


def speech(events: list[dict]) -> Speech:
    from models.speech import digit_errors  # the speech card's own digit error count (imported here: torch)

    rows, errors, total = [], 0, 0
    for e in events:
        heard, meant = e["heard"].replace(" ", ""), (e.get("meant") or "").replace(" ", "")
        rows.append((" ".join(heard), " ".join(meant) if meant else None))
        if meant:
            errors += digit_errors(" ".join(meant), " ".join(heard))
            total += len(meant)
    return Speech(rows[::-1], errors, total)


LEADERBOARD_S = 15.0  # the "best accuracy at 15 s per network"


def leaderboard(events: list[dict]) -> list[tuple[str, float, float, int]]:
    """(network, best accuracy, its seconds, runs) per network, best first: runs of at most LEADERBOARD_S seconds
    (longer ones only when a network has none that short)."""
    table = {}
    for network in {e["network"] for e in events}:
        runs = [e for e in events if e["network"] == network]
        short = [e for e in runs if e["seconds"] <= LEADERBOARD_S + 0.5] or runs
        best = max(short, key=lambda e: e["accuracy"])
        table[network] = (network, best["accuracy"], best["seconds"], len(runs))
    return sorted(table.values(), key=lambda row: -row[1])
