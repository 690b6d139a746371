"""Where a room lives: one interface (`RoomStore`), two backends. No Streamlit, no torch: the pages, the room's
screen, the tests and the benchmark all use it.

    store = room_store.from_env()            # DLL_ROOM_REDIS=redis://host:6379/0 -> Redis; unset -> this process
    room = store.open()                      # Room(code, key): the code for phones, the key for the presenter
    store.join(room.code, phone)             # a phone came in
    store.add_event(room.code, phone, {"kind": "digit", "slot": 0, ...})   # -> the event's id
    store.events(room.code); store.stats(room.code)
    store.clear/close/hide(room.code, room.key, ...)   # presenter only: the key, compared in constant time

A phone's event is validated (`validate`) before it is stored: a malformed or oversized one raises `Refused`, with a
message a person can read, and is never stored. Every failure is a `RoomError` whose `message` the page shows.
"""
from __future__ import annotations

import base64
import binascii
import collections
import hmac
import json
import math
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

ENV = "DLL_ROOM_REDIS"
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 letters, no 0/O, 1/I: read off a projector
CODE_CHARS = 8  # 8 x 5 bits = 40 bits
KEY_BYTES = 16  # 128 bits
TTL_S = 12 * 3600  # a room ends 12 h after its last event
MAX_EVENTS = 5000  # a room keeps the latest ones
RATE_EVENTS, RATE_WINDOW_S = 2, 1.0  # at most 2 events a second per phone
MAX_EVENT_BYTES = 16_384  # a digit's drawing is ~1.1 kB of JSON, a 64x64 thumbnail ~4 kB
MAX_THUMB_CHARS = 12_000  # base64 of a 64x64 JPEG
DRAWING_PIXELS = 28 * 28
PHOTO_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
                "none of the ten", "not sure")  # models.photos.CLASSES (tested equal) and the page's two other answers
NETWORKS = ("Small CNN", "LeNet-style CNN", "Multilayer perceptron", "Wider CNN")  # models.live.PRESETS' names
KINDS = ("digit", "photo", "speech", "live")
_CODE = re.compile(f"^[{ALPHABET}]{{{CODE_CHARS}}}$")
_PHONE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
_DIGITS = re.compile(r"^[0-9]( ?[0-9]){0,19}$")


@dataclass(frozen=True)
class Room:
    code: str
    key: str


@dataclass(frozen=True)
class Stats:
    phones: int  # joined
    events: int  # kept (at most MAX_EVENTS)
    dropped: int  # the oldest, dropped beyond MAX_EVENTS


class RoomError(Exception):
    """Anything a room refuses; `message` is for the screen."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NoSuchRoom(RoomError):
    pass


class WrongKey(RoomError):
    pass


class Refused(RoomError):
    """A malformed or oversized event: never stored."""


class TooFast(RoomError):
    pass


class Unreachable(RoomError):
    """The store (Redis) can't be reached: the page keeps working, the room waits."""


def new_room() -> Room:
    return Room("".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS)), secrets.token_urlsafe(KEY_BYTES))


def new_phone() -> str:
    return secrets.token_urlsafe(12)


def normal_code(raw: str | None) -> str | None:
    """A code as typed or linked (any case, spaces) -> the code, or None when it can't be one."""
    code = re.sub(r"[\s-]", "", raw or "").upper()
    return code if _CODE.match(code) else None


def key_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


# ---- validation ---------------------------------------------------------------------------------------------------
def _number(event: dict, name: str, low: float, high: float, integer: bool = False, optional: bool = False):
    value = event.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise Refused(f"“{name}” must be a {'whole ' if integer else ''}number")
    if not (low <= value <= high) or (isinstance(value, float) and not math.isfinite(value)):
        raise Refused(f"“{name}” must be between {low:g} and {high:g}")
    return value


def _choice(event: dict, name: str, options, optional: bool = False):
    value = event.get(name)
    if value is None and optional:
        return None
    if value not in options or isinstance(value, bool) != isinstance(next(iter(options)), bool):
        raise Refused(f"“{name}” is not one of the answers the page gives")
    return value


def _base64(value, max_chars: int, name: str) -> str:
    if not isinstance(value, str) or len(value) > max_chars:
        raise Refused(f"“{name}” is too large or not text")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"“{name}” is not base64") from None
    return value


def _digits(event: dict, name: str, optional: bool) -> str | None:
    value = event.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not _DIGITS.match(value):
        raise Refused(f"“{name}” must be up to 20 digits")
    return value


def validate(event) -> dict:
    """A phone's event -> the clean event that is stored (only the known fields); raises Refused."""
    if not isinstance(event, dict):
        raise Refused("an event is a JSON object")
    if len(json.dumps(event, default=str)) > MAX_EVENT_BYTES:
        raise Refused(f"the event is over {MAX_EVENT_BYTES // 1024} kB")
    kind = event.get("kind")
    if kind not in KINDS:
        raise Refused(f"unknown kind of event (expected one of {', '.join(KINDS)})")
    out = {"kind": kind, "slot": _number(event, "slot", 0, 2**31, integer=True)}
    if kind == "digit":
        drawing = _base64(event.get("drawing"), 2 * DRAWING_PIXELS, "drawing")
        if len(base64.b64decode(drawing)) != DRAWING_PIXELS:
            raise Refused("“drawing” must be 28×28 pixels")
        out.update(drawing=drawing, answer=_number(event, "answer", -1, 9, integer=True),
                   confidence=_number(event, "confidence", 0, 1), right=_choice(event, "right", (True, False), True),
                   meant=_number(event, "meant", 0, 9, integer=True, optional=True))
    elif kind == "photo":
        thumb = event.get("thumb")
        out.update(label=_choice(event, "label", PHOTO_LABELS), confidence=_number(event, "confidence", 0, 1),
                   right=_choice(event, "right", (True, False), True),
                   thumb=None if thumb is None else _base64(thumb, MAX_THUMB_CHARS, "thumb"))
    elif kind == "speech":
        out.update(heard=_digits(event, "heard", optional=False) if event.get("heard") != "" else "",
                   meant=_digits(event, "meant", optional=True))
    else:
        out.update(network=_choice(event, "network", NETWORKS), seconds=_number(event, "seconds", 0, 600),
                   accuracy=_number(event, "accuracy", 0, 1))
    return out


def _check_phone(phone: str) -> None:
    if not isinstance(phone, str) or not _PHONE.match(phone):
        raise Refused("unknown phone")


# ---- the interface ------------------------------------------------------------------------------------------------
class RoomStore(Protocol):
    def open(self) -> Room: ...
    def ensure(self, room: Room) -> bool: ...  # the presenter's room exists again (after a restarted Redis)
    def exists(self, code: str) -> bool: ...
    def check(self, code: str, key: str | None) -> bool: ...  # the presenter's key, in constant time
    def join(self, code: str, phone: str) -> None: ...
    def add_event(self, code: str, phone: str, event: dict) -> int: ...
    def events(self, code: str) -> list[dict]: ...  # each with "id", "phone", "t", "hidden"
    def stats(self, code: str) -> Stats: ...
    def clear(self, code: str, key: str) -> None: ...
    def close(self, code: str, key: str) -> None: ...
    def hide(self, code: str, key: str, event_id: int) -> None: ...


class MemoryStore:
    """The default: one server process, nothing installed, nothing written to disk. Thread-safe (one lock: each
    call is a few dict operations); rooms are swept TTL_S after their last event."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock, self.lock, self.rooms = clock, threading.Lock(), {}

    def _sweep(self, now: float) -> None:
        for code in [c for c, r in self.rooms.items() if now - r["last"] > TTL_S]:
            del self.rooms[code]

    def _room(self, code: str, key: str | None = None, check_key: bool = False) -> dict:
        self._sweep(self.clock())
        room = self.rooms.get(code) if isinstance(code, str) else None
        if room is None:
            raise NoSuchRoom("No room with this code (it may have been closed, or ended 12 h after its last answer).")
        if check_key and not key_matches(room["key"], key):
            raise WrongKey("Only the presenter can do this (the presenter's link carries its key).")
        return room

    def _new(self, room: Room) -> None:
        self.rooms[room.code] = {"key": room.key, "last": self.clock(), "events": collections.deque(maxlen=MAX_EVENTS),
                                 "seq": 0, "base": 0, "phones": set(), "hidden": set(), "rate": {}}

    def open(self) -> Room:
        room = new_room()
        with self.lock:
            self._new(room)
        return room

    def ensure(self, room: Room) -> bool:
        with self.lock:
            if room.code in self.rooms:
                return False
            self._new(room)
            return True

    def exists(self, code: str) -> bool:
        with self.lock:
            self._sweep(self.clock())
            return code in self.rooms

    def check(self, code: str, key: str | None) -> bool:
        with self.lock:
            room = self.rooms.get(code) if isinstance(code, str) else None
            return room is not None and key_matches(room["key"], key)

    def join(self, code: str, phone: str) -> None:
        _check_phone(phone)
        with self.lock:
            self._room(code)["phones"].add(phone)

    def add_event(self, code: str, phone: str, event: dict) -> int:
        _check_phone(phone)
        clean = validate(event)
        with self.lock:
            room, now = self._room(code), self.clock()
            times = room["rate"].setdefault(phone, collections.deque(maxlen=RATE_EVENTS))
            if len(times) == RATE_EVENTS and now - times[0] < RATE_WINDOW_S:
                raise TooFast("Too fast: at most 2 answers a second.")
            times.append(now)
            room["seq"] += 1
            room["events"].append({**clean, "id": room["seq"], "phone": phone, "t": now})
            room["phones"].add(phone)
            room["last"] = now
            return room["seq"]

    def events(self, code: str) -> list[dict]:
        with self.lock:
            room = self._room(code)
            return [{**e, "hidden": e["id"] in room["hidden"]} for e in room["events"]]

    def stats(self, code: str) -> Stats:
        with self.lock:
            room = self._room(code)
            kept = len(room["events"])
            return Stats(len(room["phones"]), kept, room["seq"] - room["base"] - kept)

    def clear(self, code: str, key: str) -> None:
        with self.lock:
            room = self._room(code, key, check_key=True)
            room["events"].clear(), room["phones"].clear(), room["hidden"].clear()
            room["base"] = room["seq"]

    def close(self, code: str, key: str) -> None:
        with self.lock:
            self._room(code, key, check_key=True)
            del self.rooms[code]

    def hide(self, code: str, key: str, event_id: int) -> None:
        with self.lock:
            self._room(code, key, check_key=True)["hidden"].add(int(event_id))


def from_env(environ=os.environ) -> RoomStore:
    """Redis when DLL_ROOM_REDIS is set (several replicas share the room), else this process's store."""
    url = environ.get(ENV, "").strip()
    if url:
        from ui.room_redis import RedisStore

        return RedisStore(url)
    return MemoryStore()
