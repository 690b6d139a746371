"""A room across replicas: two `streamlit run` servers sharing Redis (DLL_ROOM_REDIS) behind deploy/nginx.conf,
over Streamlit's protocol (benchmarks/room_load.py). Phone A on replica 1, phone B on replica 2: the room's screen
on either replica counts both. Then the benchmark's small N: phones drawing at once, no event lost, no error."""
from __future__ import annotations

import concurrent.futures
import os
import shutil

import pytest

from benchmarks import room_load
from harness import redis_server, replicas
from harness.run_async import run as run_async
from harness.server import free_port, start_server, stop_server

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
pytestmark = [pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)"),
              pytest.mark.skipif(redis_server.BINARY is None, reason=redis_server.MISSING)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Redis, two replicas with DLL_ROOM_REDIS, nginx in front: (proxy URL, replica ports, Redis URL)."""
    with redis_server.RedisServer() as redis:
        before = os.environ.get(room_load.ROOM_ENV)
        os.environ[room_load.ROOM_ENV] = redis.url  # the replicas inherit it
        ports = [free_port(), free_port()]
        logs = [tmp_path_factory.mktemp("room") / f"replica-{p}.log" for p in ports]
        try:
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                servers = list(pool.map(lambda i: start_server(ports[i], logs[i]), range(2)))
        finally:
            os.environ.pop(room_load.ROOM_ENV) if before is None else os.environ.update({room_load.ROOM_ENV: before})
        try:
            with replicas.nginx(ports) as url:
                yield url, ports, redis.url
        finally:
            for server in servers:
                stop_server(server)


async def phones_on_both_replicas(url: str, code: str, ports: list[int]) -> dict[str, room_load.Phone]:
    """New phones until one has landed on each replica (the cookie's hash decides): {replica: phone}."""
    found: dict[str, room_load.Phone] = {}
    for i in range(16):
        result = await room_load.phone(url, code, [i % 10])
        assert not result.errors, result
        found.setdefault(result.replica, result)
        if len(found) == 2:
            break
    assert set(found) == {f"127.0.0.1:{p}" for p in ports}, found
    return found


async def screen_count(url: str, code: str) -> tuple[str, dict]:
    _, session, replica = await room_load.open_tab(url, 60)
    try:
        run = await session.rerun(page="room", query=f"code={code}")
        return replica, {label: room_load.metric(run, label) for label in ("Phones joined", "Answers in")}
    finally:
        await session.close()


def test_phones_on_two_replicas_are_both_on_the_screen_of_either(stack):
    from ui.room_redis import RedisStore

    url, ports, redis_url = stack
    room = RedisStore(redis_url).open()
    phones = run_async(phones_on_both_replicas(url, room.code, ports))
    total = RedisStore(redis_url).stats(room.code)
    assert total.events >= 2 and total.phones >= 2
    seen = {}
    for _ in range(16):  # a screen on each replica
        replica, counts = run_async(screen_count(url, room.code))
        seen[replica] = counts
        if len(seen) == 2:
            break
    assert set(seen) == set(phones), seen
    for counts in seen.values():  # every phone that tried (some landed on a replica already covered) is counted
        assert counts == {"Phones joined": str(total.phones), "Answers in": str(total.events)}, (seen, total)


def test_a_small_room_loses_no_event(stack):
    """benchmarks/room_load.py's round at N = 6 phones x 2 digits: every event counted on the screen."""
    from ui import room_screen
    from ui.room_redis import RedisStore

    url, _, redis_url = stack
    room = RedisStore(redis_url).open()
    phones, screen = run_async(room_load.room_round(url, room.code, 6, 2, room_screen.REFRESH_S))
    assert not [e for p in phones for e in p.errors] and not screen.errors
    assert sum(len(p.sent) for p in phones) == 12 and screen.latest() == 12
    assert RedisStore(redis_url).stats(room.code).events == 12
    latencies = room_load.visible_latencies(phones, screen.counts)
    assert len(latencies) == 12 and max(latencies) < 10, latencies
