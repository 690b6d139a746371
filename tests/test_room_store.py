"""The room store (ui/room_store.py, ui/room_redis.py): the same tests on both backends, the in-process one and Redis
(redis-server started here as a user process on a free port, nothing on disk; skipped, saying how to get it, when
it is not installed). Codes and keys, the presenter's key, the limits (events kept, rate, size, shape), expiry, and
Redis stopped and restarted mid-room."""
from __future__ import annotations

import base64
import math
import time

import pytest

from harness import redis_server
from ui import room_store as rs

DRAWING = base64.b64encode(bytes(range(256)) * 3 + bytes(16)).decode()  # 784 bytes


def digit(slot: int = 0, **fields) -> dict:
    return {"kind": "digit", "slot": slot, "drawing": DRAWING, "answer": 7, "confidence": 0.93, **fields}


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_url():
    if redis_server.BINARY is None:
        pytest.skip(redis_server.MISSING)
    with redis_server.RedisServer() as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return rs.MemoryStore()
    server = request.getfixturevalue("redis_url")
    from ui.room_redis import RedisStore

    s = RedisStore(server.url)
    s.r.flushdb()
    return s


def test_codes_and_keys_are_unguessable_and_distinct():
    rooms = [rs.new_room() for _ in range(2000)]
    assert len({r.code for r in rooms}) == 2000 and len({r.key for r in rooms}) == 2000
    assert len(set(rs.ALPHABET)) == 32 and rs.CODE_CHARS * math.log2(32) >= 40
    assert all(rs.normal_code(r.code) == r.code for r in rooms)
    assert len(base64.urlsafe_b64decode(rooms[0].key + "==")) * 8 >= 128
    assert rs.normal_code(" abcd efgh ") == "ABCDEFGH" and rs.normal_code("ABCDEFG0") is None  # no 0 in the alphabet


def test_a_phone_sends_and_the_room_reads_it(store):
    room = store.open()
    store.join(room.code, "phone-aaaa")
    first = store.add_event(room.code, "phone-aaaa", digit())
    second = store.add_event(room.code, "phone-bbbb", {"kind": "speech", "slot": 3, "heard": "4 1 5", "meant": "4 1 9"})
    assert second > first
    events = store.events(room.code)
    assert [e["kind"] for e in events] == ["digit", "speech"]
    assert events[0]["drawing"] == DRAWING and events[0]["answer"] == 7 and events[0]["right"] is None
    assert events[1]["phone"] == "phone-bbbb" and not events[1]["hidden"]
    assert store.stats(room.code) == rs.Stats(phones=2, events=2, dropped=0)


def test_wrong_code_reads_nothing_and_stores_nothing(store):
    room = store.open()
    store.add_event(room.code, "phone-aaaa", digit())
    other = rs.new_room().code
    for call in (lambda: store.events(other), lambda: store.stats(other), lambda: store.join(other, "phone-aaaa"),
                 lambda: store.add_event(other, "phone-aaaa", digit()), lambda: store.events("<script>"),
                 lambda: store.events(None)):
        with pytest.raises(rs.NoSuchRoom):
            call()
    assert not store.exists(other) and store.stats(room.code).events == 1


def test_only_the_presenter_key_clears_hides_and_closes(store):
    room = store.open()
    event = store.add_event(room.code, "phone-aaaa", digit())
    for key in (None, "", room.key[:-1], room.key + "x", rs.new_room().key):
        for call in (lambda: store.clear(room.code, key), lambda: store.close(room.code, key),
                     lambda: store.hide(room.code, key, event)):
            with pytest.raises(rs.WrongKey):
                call()
    assert store.stats(room.code).events == 1
    assert store.check(room.code, room.key) and not store.check(room.code, room.key[:-1] + "x")
    assert not store.check(room.code, None) and not store.check(rs.new_room().code, room.key)
    store.hide(room.code, room.key, event)
    assert store.events(room.code)[0]["hidden"]
    store.clear(room.code, room.key)
    assert store.stats(room.code) == rs.Stats(0, 0, 0) and store.events(room.code) == []
    store.close(room.code, room.key)
    with pytest.raises(rs.NoSuchRoom):
        store.events(room.code)


@pytest.mark.parametrize("bad, why", [
    ("not a dict", "JSON object"),
    ({"kind": "audio", "slot": 0}, "unknown kind"),
    ({**digit(), "drawing": "!!!"}, "base64"),
    ({**digit(), "drawing": base64.b64encode(bytes(100)).decode()}, "28×28"),
    ({**digit(), "answer": 12}, "between"),
    ({**digit(), "answer": "7"}, "number"),
    ({**digit(), "confidence": float("nan")}, "number|between"),
    ({**digit(), "right": "yes"}, "not one of"),
    ({**digit(), "slot": -1}, "between"),
    ({"kind": "photo", "slot": 0, "label": "<img src=x onerror=alert(1)>", "confidence": 0.5}, "not one of"),
    ({"kind": "photo", "slot": 0, "label": "cat", "confidence": 0.5, "thumb": "A" * 20_000}, "too large|over"),
    ({"kind": "speech", "slot": 0, "heard": "four"}, "digits"),
    ({"kind": "live", "slot": 0, "network": "Small CNN", "seconds": 15, "accuracy": 2}, "between"),
    ({**digit(), "padding": "x" * 20_000}, "over 16 kB"),
])
def test_malformed_or_oversized_events_are_refused_with_a_message_and_never_stored(store, bad, why):
    import re

    room = store.open()
    with pytest.raises(rs.Refused) as refused:
        store.add_event(room.code, "phone-aaaa", bad)
    assert re.search(why, refused.value.message), refused.value.message
    assert store.stats(room.code).events == 0
    with pytest.raises(rs.Refused):
        store.add_event(room.code, "<b>phone</b>", digit())


def test_unknown_fields_are_not_stored(store):
    room = store.open()
    store.add_event(room.code, "phone-aaaa", {**digit(), "html": "<script>", "audio": "AAAA"})
    (event,) = store.events(room.code)
    assert "html" not in event and "audio" not in event


def test_a_flood_from_one_phone_is_refused_beyond_two_a_second(store):
    room = store.open()
    sent = refused = 0
    for i in range(10):
        try:
            store.add_event(room.code, "phone-flood", digit(i))
            sent += 1
        except rs.TooFast as error:
            refused += 1
            assert "2 answers a second" in error.message
    assert sent == 2 and refused == 8
    store.add_event(room.code, "phone-other", digit())  # another phone is not held back
    time.sleep(rs.RATE_WINDOW_S + 0.05)
    store.add_event(room.code, "phone-flood", digit(11))
    assert store.stats(room.code).events == 4


def test_a_room_keeps_the_latest_events_and_counts_the_dropped(store, monkeypatch):
    monkeypatch.setattr(rs, "MAX_EVENTS", 5)
    if isinstance(store, rs.MemoryStore):
        store = rs.MemoryStore()  # its deques take the limit when a room opens
    room = store.open()
    for i in range(8):
        store.add_event(room.code, f"phone-{i:04d}", digit(i))
    assert [e["slot"] for e in store.events(room.code)] == [3, 4, 5, 6, 7]
    assert store.stats(room.code) == rs.Stats(phones=8, events=5, dropped=3)


def test_the_in_process_store_sweeps_a_room_12_hours_after_its_last_event():
    clock = Clock()
    store = rs.MemoryStore(clock)
    room, other = store.open(), store.open()
    clock.now += rs.TTL_S - 60
    store.add_event(room.code, "phone-aaaa", digit())
    clock.now += 120  # `other` is now 12 h old without an event; `room` had one 2 min ago
    assert store.exists(room.code) and not store.exists(other.code)
    clock.now += rs.TTL_S + 1
    assert not store.exists(room.code) and store.rooms == {}


def test_redis_keys_expire_12_hours_after_the_last_event(redis_url):
    from ui.room_redis import RedisStore

    store = RedisStore(redis_url.url)
    room = store.open()
    store.add_event(room.code, "phone-aaaa", digit())
    for key in store._keys(room.code)[:3]:
        assert rs.TTL_S - 5 <= store.r.ttl(key) <= rs.TTL_S, key


def test_redis_stopped_and_restarted_mid_room(redis_url):
    """Stopped: every call says the store is unreachable, at once (no hang); restarted (empty: no persistence): the
    presenter's screen puts the room back under the same code and key, and phones' events go in again."""
    from ui.room_redis import RETRY_S, RedisStore

    store = RedisStore(redis_url.url)
    room = store.open()
    store.add_event(room.code, "phone-aaaa", digit())
    redis_url.stop()
    try:
        for call in (lambda: store.add_event(room.code, "phone-aaaa", digit(1)), lambda: store.stats(room.code)):
            started = time.monotonic()
            with pytest.raises(rs.Unreachable) as down:
                call()
            assert time.monotonic() - started < 3 and "can't be reached" in down.value.message
    finally:
        redis_url.start()
    time.sleep(RETRY_S + 0.1)
    assert store.ensure(room) is True  # the restarted Redis had lost it
    assert store.ensure(room) is False
    store.add_event(room.code, "phone-bbbb", digit(2))
    assert store.stats(room.code).events == 1
    with pytest.raises(rs.WrongKey):
        store.clear(room.code, "not the key")


def test_from_env_picks_the_backend(redis_url):
    from ui.room_redis import RedisStore

    assert isinstance(rs.from_env({}), rs.MemoryStore)
    assert isinstance(rs.from_env({rs.ENV: redis_url.url}), RedisStore)


def test_photo_labels_are_the_photo_pages_answers():
    from models import live, photos

    assert rs.PHOTO_LABELS[:10] == tuple(photos.CLASSES)
    assert set(rs.NETWORKS) == {preset.title for preset in live.PRESETS.values()}
