"""The room store in Redis (DLL_ROOM_REDIS=redis://host:6379/0): what several replicas share. Same interface and
limits as ui/room_store.MemoryStore (tests/test_room_store.py runs the same tests on both).

Keys, each expiring TTL_S after the room's last event (Redis' TTL does the sweeping):
    dll:room:CODE          hash: key (the presenter's), seq (events so far), base (seq at the last clear)
    dll:room:CODE:events   list of "ID JSON", the latest MAX_EVENTS
    dll:room:CODE:phones   set;  dll:room:CODE:hidden  set of event ids
    dll:room:CODE:rate:PHONE  a counter that lives RATE_WINDOW_S
An event is added by one Lua script, so the room's existence, the rate limit, the id and the trim are atomic.
Redis unreachable: every call raises room_store.Unreachable at once for RETRY_S (the pages are not held up by a
timeout on every run), then tries again: it recovers by itself. A Redis that restarted empty (no persistence) has
lost the room: the presenter's screen puts it back (`ensure`) under the same code and key.
"""
from __future__ import annotations

import functools
import json
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ui import room_store as rs

GONE = "No room with this code (it may have been closed, or ended 12 h after its last answer)."
RETRY_S = 2.0  # after a connection failure, seconds before Redis is tried again
PREFIX = "dll:room:"

ADD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = redis.call('INCR', KEYS[5])
if n == 1 then redis.call('PEXPIRE', KEYS[5], ARGV[6]) end
if n > tonumber(ARGV[5]) then return -2 end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('RPUSH', KEYS[2], seq .. ' ' .. ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('SADD', KEYS[3], ARGV[2])
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return seq
"""


def _reachable(method):
    """Connection and timeout errors -> Unreachable; and, for RETRY_S after one, Unreachable without trying."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if time.monotonic() < self.down_until:
            raise rs.Unreachable(self.DOWN)
        try:
            return method(self, *args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError):
            self.down_until = time.monotonic() + RETRY_S
            raise rs.Unreachable(self.DOWN) from None
    return call


class RedisStore:
    DOWN = "The room's store (Redis) can't be reached: answers wait here; it reconnects by itself."

    def __init__(self, url: str):
        self.r = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2, decode_responses=True,
                                      retry=Retry(NoBackoff(), 1), health_check_interval=5)
        self.add = self.r.register_script(ADD)
        self.down_until = 0.0

    @staticmethod
    def _keys(code: str) -> list[str]:
        base = PREFIX + code
        return [base, base + ":events", base + ":phones", base + ":hidden"]

    def _meta(self, code: str, key: str | None = None, check_key: bool = False) -> dict:
        if not isinstance(code, str) or rs.normal_code(code) != code:
            raise rs.NoSuchRoom("No room with this code.")
        meta = self.r.hgetall(PREFIX + code)
        if not meta:
            raise rs.NoSuchRoom(GONE)
        if check_key and not rs.key_matches(meta.get("key", ""), key):
            raise rs.WrongKey("Only the presenter can do this (the presenter's link carries its key).")
        return meta

    @_reachable
    def open(self) -> rs.Room:
        room = rs.new_room()
        self.ensure.__wrapped__(self, room)
        return room

    @_reachable
    def ensure(self, room: rs.Room) -> bool:
        meta = PREFIX + room.code
        created = self.r.hsetnx(meta, "key", room.key)
        if created:
            self.r.hset(meta, mapping={"seq": 0, "base": 0})
        self.r.expire(meta, rs.TTL_S)
        return bool(created)

    @_reachable
    def exists(self, code: str) -> bool:
        return rs.normal_code(code) == code and bool(self.r.exists(PREFIX + code))

    @_reachable
    def check(self, code: str, key: str | None) -> bool:
        if rs.normal_code(code) != code:
            return False
        return rs.key_matches(self.r.hget(PREFIX + code, "key") or "", key)

    @_reachable
    def join(self, code: str, phone: str) -> None:
        rs._check_phone(phone)
        self._meta(code)
        keys = self._keys(code)
        self.r.sadd(keys[2], phone)
        self.r.expire(keys[2], rs.TTL_S)

    @_reachable
    def add_event(self, code: str, phone: str, event: dict) -> int:
        rs._check_phone(phone)
        clean = rs.validate(event)
        if rs.normal_code(code) != code:
            raise rs.NoSuchRoom("No room with this code.")
        payload = json.dumps({**clean, "phone": phone, "t": time.time()}, separators=(",", ":"))
        seq = self.add(keys=[*self._keys(code), f"{PREFIX}{code}:rate:{phone}"],
                       args=[payload, phone, rs.MAX_EVENTS, rs.TTL_S, rs.RATE_EVENTS, int(rs.RATE_WINDOW_S * 1000)])
        if seq == -1:
            raise rs.NoSuchRoom(GONE)
        if seq == -2:
            raise rs.TooFast("Too fast: at most 2 answers a second.")
        return int(seq)

    @_reachable
    def events(self, code: str) -> list[dict]:
        self._meta(code)
        keys = self._keys(code)
        with self.r.pipeline() as pipe:
            entries, hidden = pipe.lrange(keys[1], 0, -1).smembers(keys[3]).execute()
        out = []
        for entry in entries:
            seq, _, body = entry.partition(" ")
            out.append({**json.loads(body), "id": int(seq), "hidden": seq in hidden})
        return out

    @_reachable
    def stats(self, code: str) -> rs.Stats:
        meta = self._meta(code)
        keys = self._keys(code)
        with self.r.pipeline() as pipe:
            kept, phones = pipe.llen(keys[1]).scard(keys[2]).execute()
        return rs.Stats(phones, kept, int(meta.get("seq", 0)) - int(meta.get("base", 0)) - kept)

    @_reachable
    def clear(self, code: str, key: str) -> None:
        meta = self._meta(code, key, check_key=True)
        keys = self._keys(code)
        with self.r.pipeline() as pipe:
            pipe.delete(*keys[1:]).hset(keys[0], "base", meta.get("seq", 0)).execute()

    @_reachable
    def close(self, code: str, key: str) -> None:
        self._meta(code, key, check_key=True)
        self.r.delete(*self._keys(code))

    @_reachable
    def hide(self, code: str, key: str, event_id: int) -> None:
        self._meta(code, key, check_key=True)
        keys = self._keys(code)
        self.r.sadd(keys[3], int(event_id))
        self.r.expire(keys[3], rs.TTL_S)
