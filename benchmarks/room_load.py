"""Room load over Streamlit's protocol: N phones in one room, each drawing D digits on the digit page (through nginx
in front of replicas, each phone kept on one replica by its cookie), and the room's screen open on a replica,
refreshed as the browser refreshes it (its st.fragment, every ui/room_screen.REFRESH_S).

    python -m benchmarks.room_load [--phones 50] [--digits 3] [--rounds 2] [--replicas 2] [--timeout 60]

Starts redis-server (a user process, nothing on disk), the replicas with DLL_ROOM_REDIS, and nginx
(deploy/nginx.conf, as tests/test_deploy.py runs it); opens a room in Redis, as the room page's button does. Then:
1. room off: the N phones draw their digits without a room (the baseline for a phone's own answer);
2. room on: the same with `?room=CODE` (a new room), while the screen reads the room;
3. mixed: half the phones in a room, half in none, at the same time (the same machine, the same moment);
--rounds times, in turn.
Measured: a phone's answer (sending the drawing -> the page's script_finished, its answer checked) p50/p95, room on
and off; event -> visible on the screen: from the event's write in Redis (its time stamp) to the end of the first
screen refresh that counts it; and, an upper bound, from the moment the phone sent its drawing (its own page's run
included); lost = events sent whose page finished but that the screen never counted; errors = wrong answers,
exceptions, timeouts.
Exit status 1 on any error or lost event. tests/test_room_replicas.py runs a small N in CI.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.load_ws import Session, canvas_value, first, state, widget
from harness import replicas
from harness.redis_server import RedisServer
from harness.run_async import run as run_async
from harness.server import free_port, log_tracebacks, start_server, stop_server

ROOM_ENV = "DLL_ROOM_REDIS"


@dataclass
class Phone:
    replica: str = ""
    answers: list = field(default_factory=list)  # seconds: drawing sent -> the page's answer
    sent: list = field(default_factory=list)  # (sent at, answered at), perf_counter
    errors: list = field(default_factory=list)


def metric(run, label: str) -> str | None:
    for e in run.elements:
        if e.WhichOneof("type") == "metric" and e.metric.label == label:
            return e.metric.body
    return None


def button(run, label: str):
    for e in run.elements:
        if e.WhichOneof("type") == "button" and e.button.label == label:
            return e.button
    raise AssertionError(f"no button {label!r} on the page")


async def open_tab(base: str, timeout: float) -> tuple[replicas.Browser, Session, str]:
    """A browser tab through the proxy: its cookie (so its replica), then its WebSocket."""
    result = replicas.Result()
    tab = replicas.Browser(base, result)
    _, headers, _ = await asyncio.to_thread(tab.request, "GET", "/_stcore/health")
    session = Session(base.replace("http://", "ws://") + "/_stcore/stream", timeout,
                      headers={"Cookie": tab.cookie_header()})
    await session.open()
    return tab, session, headers.get("X-Replica", "")


async def phone(base: str, code: str | None, digits: list[int], timeout: float = 60) -> Phone:
    """One phone: the digit page (in room `code`, or in none), then each digit drawn, read, and Clear."""
    out = Phone()
    _, session, out.replica = await open_tab(base, timeout)
    try:
        run = await session.rerun(page="digits", query=f"room={code}" if code else "")
        if code and not first(run, rf"^You're in room {code}"):
            out.errors.append(f"no room line: {run.problems}")
        for d in digits:
            canvas = widget(run, "bidi_component", "streamlit-drawable-canvas")
            sent = time.perf_counter()
            run = await session.rerun(widgets=[state(canvas.id, json_value=canvas_value(d))])
            out.sent.append((sent, time.perf_counter()))
            out.answers.append(run.seconds)
            if not first(run, rf"^It's an? {d} ") or run.problems:
                out.errors.append(f"digit {d}: {first(run, 'It|Not|Draw')!r} {run.problems}")
            if first(run, r"^Not sent to the room|can't be reached"):
                out.errors.append(f"digit {d}: {first(run, r'^Not sent|reached')}")
            run = await session.rerun(widgets=[state(button(run, "Clear").id, trigger_value=True)])
    except Exception as error:  # noqa: BLE001 - counted, the other phones go on
        out.errors.append(f"{type(error).__name__}: {error}")
    finally:
        await session.close()
    return out


class Screen:
    """The room's screen on one replica: loaded once, then its fragment rerun as the browser does, each refresh's
    'Answers in' kept with its time."""

    def __init__(self, base: str, code: str, timeout: float = 60):
        self.base, self.code, self.timeout = base, code, timeout
        self.counts: list[tuple[float, int]] = []  # (perf_counter, answers counted) at each refresh's end
        self.wall: list[tuple[float, int]] = []  # the same, by the clock the replicas stamp events with
        self.refreshes: list[float] = []  # seconds each refresh of the screen took (its fragment's run)
        self.replica, self.errors, self._stop = "", [], asyncio.Event()

    async def watch(self, refresh: float) -> None:
        _, session, self.replica = await open_tab(self.base, self.timeout)
        try:
            run = await session.rerun(page="room", query=f"code={self.code}&present=1")
            (fragment,) = session.fragments
            started = time.perf_counter()
            while True:
                count = metric(run, "Answers in")
                if count is None or run.problems:
                    self.errors.append(f"screen: no count ({run.problems})")
                else:
                    self.counts.append((time.perf_counter(), int(count)))
                    self.wall.append((time.time(), int(count)))
                # The browser's timer asks every `refresh` seconds, from the start of one request to the next (a
                # request while a run is in progress waits for it)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), max(0.0, refresh - (time.perf_counter() - started)))
                if self._stop.is_set():
                    break
                started = time.perf_counter()
                run = await session.rerun(widgets=[], fragment=fragment)
                self.refreshes.append(run.seconds)
        except Exception as error:  # noqa: BLE001
            self.errors.append(f"screen: {type(error).__name__}: {error}")
        finally:
            await session.close()

    def stop(self) -> None:
        self._stop.set()

    def latest(self) -> int:
        return self.counts[-1][1] if self.counts else 0


def visible_latencies(phones: list[Phone], counts: list[tuple[float, int]]) -> list[float]:
    """For the k-th answer to finish: the first refresh after it counting >= k, minus when its drawing was sent."""
    done = sorted(p for phone in phones for p in phone.sent if p)
    out = []
    for k, (sent, answered) in enumerate(sorted(done, key=lambda p: p[1]), 1):
        seen = next((t for t, n in counts if n >= k and t >= answered), None)
        if seen is not None:
            out.append(seen - sent)
    return out


def stored_latencies(events: list[dict], wall: list[tuple[float, int]]) -> list[float]:
    """For the k-th event stored (by id, the order the store wrote them), the first refresh counting >= k, minus its
    write time (`t`, stamped by the replica that stored it; one machine, one clock): event stored -> on the screen."""
    out = []
    for k, event in enumerate(sorted(events, key=lambda e: e["id"]), 1):
        seen = next((t for t, n in wall if n >= k and t >= event["t"]), None)
        if seen is not None:
            out.append(seen - event["t"])
    return out


def percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{statistics.median(ordered):.2f} / {ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]:.2f} s"


async def room_round(base: str, code: str | None, n: int, digits: int, refresh: float, screen_base: str | None = None,
                     mixed: bool = False):
    """n phones at once (in room `code`, or none), the screen watching when there is a room; mixed: only the
    even-numbered phones in the room, the others in none, at the same time (the same load on both)."""
    screen = Screen(screen_base or base, code) if code else None
    watcher = asyncio.create_task(screen.watch(refresh)) if screen else None
    phones = await asyncio.gather(*(phone(base, None if mixed and i % 2 else code,
                                          [(i + j) % 10 for j in range(digits)]) for i in range(n)))
    if screen:
        deadline = time.perf_counter() + 10  # the screen's last refreshes
        expected = sum(len(p.sent) for i, p in enumerate(phones) if not (mixed and i % 2))
        while screen.latest() < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
        screen.stop()
        await watcher
    return list(phones), screen


def main() -> None:
    from ui import room_screen
    from ui.room_redis import RedisStore

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", type=int, default=50)
    parser.add_argument("--digits", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of room off, then on")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    errors = 0
    with RedisServer() as redis_server:
        os.environ[ROOM_ENV] = redis_server.url
        ports = [free_port() for _ in range(args.replicas)]
        logs = [f"/tmp/dll-room-replica-{port}.log" for port in ports]
        with concurrent.futures.ThreadPoolExecutor(args.replicas) as pool:
            servers = list(pool.map(lambda i: start_server(ports[i], Path(logs[i]),
                                                           cpus={cores[i % len(cores)]}), range(args.replicas)))
        try:
            with replicas.nginx(ports) as url:
                run_async(room_round(url, None, 2, 1, room_screen.REFRESH_S))  # warm-up: models loaded, traced
                print(f"{args.phones} phones x {args.digits} digits, {args.replicas} replicas behind nginx, Redis; "
                      f"the screen refreshes every {room_screen.REFRESH_S:g} s", flush=True)
                for i in range(args.rounds):  # off and on in turn: the machine's speed drifts
                    off, _ = run_async(room_round(url, None, args.phones, args.digits, room_screen.REFRESH_S))
                    room = RedisStore(redis_server.url).open()
                    on, screen = run_async(room_round(url, room.code, args.phones, args.digits, room_screen.REFRESH_S))
                    events = RedisStore(redis_server.url).events(room.code)
                    print(f"-- round {i + 1} of {args.rounds}")
                    errors += report(off, on, screen, events, args.phones * args.digits)
                    room = RedisStore(redis_server.url).open()
                    both, screen = run_async(room_round(url, room.code, args.phones, args.digits,
                                                        room_screen.REFRESH_S, mixed=True))
                    inside, outside = both[::2], both[1::2]
                    lost = sum(len(p.sent) for p in inside) - screen.latest()
                    problems = [e for p in both for e in p.errors] + screen.errors
                    errors += len(problems) + abs(lost)
                    print(f"   at once, {len(inside)} phones in the room and {len(outside)} in none: a phone's answer, "
                          f"median / p95: in the room {percentiles([a for p in inside for a in p.answers])}, in none "
                          f"{percentiles([a for p in outside for a in p.answers])}; lost {lost}, "
                          f"errors {len(problems)}")
        finally:
            for server in servers:
                stop_server(server)
            for log in logs:
                errors += log_tracebacks(Path(log))
    raise SystemExit(1 if errors else 0)


def report(off: list[Phone], on: list[Phone], screen: Screen, events: list[dict], expected: int) -> int:
    answered, stored = sum(len(p.sent) for p in on), len(events)
    lost = answered - min(screen.latest(), answered)
    latencies = visible_latencies(on, screen.counts)
    problems = [e for p in off + on for e in p.errors] + screen.errors
    p95 = lambda phones: sorted(a for p in phones for a in p.answers)[int(0.95 * sum(len(p.answers) for p in phones))
                                                                      - 1] if phones else 0
    print(f"phones on replicas: {sorted({p.replica for p in on})}; screen on {screen.replica}")
    print(f"events sent {answered} of {expected}; stored in Redis {stored}; counted on the screen {screen.latest()}; "
          f"lost {lost}; errors {len(problems)}")
    print(f"event stored -> visible on the screen, median / p95: {percentiles(stored_latencies(events, screen.wall))}")
    print(f"drawing sent by the phone -> visible on the screen (its own page's run included), median / p95: "
          f"{percentiles(latencies)} ({len(latencies)} events)")
    print(f"a phone's answer, median / p95: room off {percentiles([a for p in off for a in p.answers])}, "
          f"room on {percentiles([a for p in on for a in p.answers])} (p95 on/off {p95(on) / max(p95(off), 1e-9):.2f})")
    for replica in sorted({p.replica for p in on}):
        print(f"  on {replica}{' (the screen too)' if replica == screen.replica else ''}: room off "
              f"{percentiles([a for p in off if p.replica == replica for a in p.answers])}, room on "
              f"{percentiles([a for p in on if p.replica == replica for a in p.answers])}")
    print(f"a refresh of the screen (its fragment's run), median / p95: {percentiles(screen.refreshes)}")
    for problem in problems[:10]:
        print("  error:", problem)
    return len(problems) + lost + (answered != expected)


if __name__ == "__main__":
    main()
