"""What the two load harnesses share (benchmarks/load.py: real browsers; load_ws.py: Streamlit's protocol): the
command line, the server, sessions going through the flows of benchmarks/flows.py, the soak, the statistics.

A harness only says how one viewer loads a page and gives one input (a Viewer), and which inputs it can give.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncContextManager, Callable

from benchmarks.flows import FLOWS, SOAK, SOAK_VISIT, Flow, Step
from harness.run_async import run as run_async
from harness.server import Sampler, free_port, log_tracebacks, server_rss, start_server, stop_server


class WrongAnswer(AssertionError):
    """The interaction ran, in `seconds`, but did not bring the expected answer: timed, and an error."""

    def __init__(self, seconds: float, message: str):
        super().__init__(message)
        self.seconds = seconds


@dataclass
class Stats:
    loads: dict = field(default_factory=dict)  # page -> [seconds]
    interactions: dict = field(default_factory=dict)
    spans: dict = field(default_factory=dict)  # page -> [(start, end)] of interactions: to count overlaps
    errors: list = field(default_factory=list)

    def error(self, where: str, e: BaseException | str) -> None:
        text = e if isinstance(e, str) else f"{type(e).__name__}: {str(e).strip()}"
        self.errors.append(f"{where}: {text.splitlines()[0][:200] if text else ''}")


class Viewer:
    """One viewer (a browser tab, a WebSocket): errors it sees besides its answers go to `stats`."""

    def __init__(self, stats: Stats, timeout: float):
        self.stats, self.timeout = stats, timeout

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def load(self, flow: Flow) -> float:
        """Open the page; seconds until it reads flow.ready (an exception if it does not)."""
        raise NotImplementedError

    async def act(self, flow: Flow, step: Step) -> float:
        """Give the step's input on the loaded page; seconds from the input to the answer (WrongAnswer if wrong)."""
        raise NotImplementedError

    async def inspect(self, where: str) -> None:
        """Count what the viewer would see as broken on the page (besides the answers)."""


@dataclass
class Harness:
    viewer: Callable[[Stats, float], Viewer]  # (stats, timeout) -> a new viewer
    kinds: frozenset[str]  # the inputs it can give (Step.kind)
    soak_kinds: frozenset[str]  # those it can give again and again on one page visit

    def pages(self) -> list[Flow]:
        """The pages a session goes through: those with an input it can give, and those with none (only loaded:
        the live and face pages, whose first result is the work)."""
        return [flow for flow in FLOWS.values() if flow.steps_for(self.kinds) or not flow.steps]

    def soak_pages(self) -> list[Flow]:
        return [FLOWS[name] for name in SOAK if FLOWS[name].steps_for(self.soak_kinds)]


def step(flow: Flow, i: int, kinds) -> Step:
    steps = flow.steps_for(kinds)
    return steps[i % len(steps)]


# ---- sessions -----------------------------------------------------------------------------------------------

async def load(viewer: Viewer, stats: Stats, flow: Flow) -> bool:
    try:
        stats.loads.setdefault(flow.name, []).append(await viewer.load(flow))
        return True
    except Exception as e:  # noqa: BLE001 - a timeout, a lost connection, a wrong page: count it, go on
        stats.error(f"{flow.name} load", e)
        return False


async def interact(viewer: Viewer, stats: Stats, flow: Flow, step: Step) -> None:
    try:
        seconds = await viewer.act(flow, step)
    except WrongAnswer as e:
        seconds = e.seconds
        stats.error(f"{flow.name} act", e)
    except Exception as e:  # noqa: BLE001
        stats.error(f"{flow.name} act", e)
        return
    end = time.perf_counter()
    stats.interactions.setdefault(flow.name, []).append(seconds)
    stats.spans.setdefault(flow.name, []).append((end - seconds, end))


async def session(harness: Harness, timeout: float, k: int, rounds: int, stats: Stats) -> None:
    """Session k: every page, `rounds` times, starting at page k (so that sessions spread over the pages)."""
    flows = harness.pages()
    flows = flows[k % len(flows):] + flows[:k % len(flows)]
    viewer = harness.viewer(stats, timeout)
    try:
        await viewer.open()
        for r in range(rounds):
            for flow in flows:
                if await load(viewer, stats, flow) and flow.steps_for(harness.kinds):
                    await interact(viewer, stats, flow, step(flow, k + r, harness.kinds))
                await viewer.inspect(flow.name)
    except Exception as e:  # noqa: BLE001 - e.g. the connection could not be opened
        stats.error(f"session {k}", e)
    finally:
        await viewer.close()


async def warm_up(harness: Harness, timeout: float, stats: Stats) -> None:
    """One viewer through every page and every input each page has (each of home's links, each photo...): models
    loaded, traces made and caches filled before anything is measured."""
    viewer = harness.viewer(stats, timeout)
    try:
        await viewer.open()
        for flow in harness.pages():
            for s in flow.steps_for(harness.kinds) or [None]:
                if await load(viewer, stats, flow) and s is not None:
                    await interact(viewer, stats, flow, s)
            await viewer.inspect(flow.name)
    except Exception as e:  # noqa: BLE001 - e.g. the connection could not be opened
        stats.error("warm-up", e)
    finally:
        await viewer.close()


# ---- measurements --------------------------------------------------------------------------------------------

def p95(values: list[float]) -> float:
    return sorted(values)[math.ceil(0.95 * len(values)) - 1] if values else float("nan")


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def max_overlap(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, change in events:
        now += change
        most = max(most, now)
    return most


def by_page(table: dict, fn=p95, fmt: str = ".2f") -> str:
    return ", ".join(f"{k} {fn(v):{fmt}}" for k, v in table.items())


def print_errors(errors: list[str], limit: int = 10) -> None:
    for line in errors[:limit]:
        print(f"    error: {line}", flush=True)
    if len(errors) > limit:
        print(f"    ... and {len(errors) - limit} more errors", flush=True)


def header(client: str) -> str:
    return (f"{'N':>3} {'loads':>5} {'acts':>5} {'errors':>6} {'load med':>8} {'load p95':>8} {'act med':>8} "
            f"{'act p95':>8} {'RSS MB':>7} {'srv CPU% mean/max':>17} {client + ' CPU%':>12} {'wall s':>7}")


async def measure(harness: Harness, timeout: float, n: int, rounds: int, server_pid: int, log: Path) -> Stats:
    stats, tracebacks = Stats(), log_tracebacks(log)
    sampler = Sampler(server_pid)
    sampler.start()
    t = time.perf_counter()
    try:
        await asyncio.gather(*(session(harness, timeout, k, rounds, stats) for k in range(n)))
    finally:
        sampler.stop()
    wall = time.perf_counter() - t
    if (new := log_tracebacks(log) - tracebacks) > 0:
        stats.error("server", f"{new} traceback(s) in {log}")
    loads = [s for v in stats.loads.values() for s in v]
    acts = [s for v in stats.interactions.values() for s in v]
    cpu = f"{statistics.fmean(sampler.server_cpu or [0]):.0f}/{max(sampler.server_cpu or [0]):.0f}"
    print(f"{n:>3} {len(loads):>5} {len(acts):>5} {len(stats.errors):>6} {med(loads):>8.2f} {p95(loads):>8.2f} "
          f"{med(acts):>8.2f} {p95(acts):>8.2f} {max(sampler.rss or [0]) / 2**20:>7.0f} {cpu:>17} "
          f"{statistics.fmean(sampler.client_cpu or [0]):>12.0f} {wall:>7.1f}", flush=True)
    print(f"    act p95 by page: {by_page(stats.interactions)} | load p95 by page: {by_page(stats.loads)}", flush=True)
    print("    max same-page overlap (interactions in flight on one model at once): " +
          by_page(stats.spans, max_overlap, "d"), flush=True)
    print_errors(stats.errors)
    return stats


async def soak(harness: Harness, timeout: float, total: int, warmup: int, server_pid: int, log: Path) -> Stats:
    """One viewer, `total` interactions over the soak's pages, a fresh visit every SOAK_VISIT; the server's RSS
    after `warmup` interactions against its RSS at the end."""
    stats, tracebacks, pages = Stats(), log_tracebacks(log), harness.soak_pages()
    viewer = harness.viewer(stats, timeout)
    rss_warm, loaded, t = None, False, time.perf_counter()
    try:
        await viewer.open()
        for i in range(total):
            flow = pages[i // SOAK_VISIT % len(pages)]
            if i % SOAK_VISIT == 0 or not loaded:
                loaded = await load(viewer, stats, flow)
            if loaded:
                await interact(viewer, stats, flow, step(flow, i, harness.soak_kinds))
            if i + 1 == warmup:
                rss_warm = server_rss(server_pid)
            if (i + 1) % 100 == 0:
                print(f"    soak {i + 1}/{total}: server RSS {server_rss(server_pid) / 2**20:.0f} MB, "
                      f"{len(stats.errors)} errors, {time.perf_counter() - t:.0f} s", flush=True)
        await viewer.inspect("soak")
    finally:
        await viewer.close()
    if (new := log_tracebacks(log) - tracebacks) > 0:
        stats.error("server", f"{new} traceback(s) in {log}")
    rss_end = server_rss(server_pid)
    acts = [s for v in stats.interactions.values() for s in v]
    growth = 100 * (rss_end - rss_warm) / rss_warm if rss_warm else float("nan")
    print(f"soak: {total} interactions ({len(acts)} completed) in {time.perf_counter() - t:.0f} s, "
          f"{len(stats.errors)} errors, interaction median {med(acts):.2f} s, p95 {p95(acts):.2f} s; server RSS "
          f"{(rss_warm or 0) / 2**20:.0f} MB after {warmup} -> {rss_end / 2**20:.0f} MB at the end: "
          f"{growth:+.1f} % (target <= 5 %)", flush=True)
    print(f"    act p95 by page: {by_page(stats.interactions)}", flush=True)
    print_errors(stats.errors)
    return stats


# ---- main -------------------------------------------------------------------------------------------------------

async def run(args, make_harness, client: str, server_pid: int, log: Path) -> int:
    """The warm-up, each N, the soak; the number of errors seen in all of them."""
    async with make_harness(args) as harness:
        warm, t = Stats(), time.perf_counter()
        await warm_up(harness, max(args.timeout, 120), warm)  # the first loads load the models
        print(f"warm-up session (every page and input once, not measured): {time.perf_counter() - t:.1f} s, "
              f"{len(warm.errors)} errors", flush=True)
        print_errors(warm.errors)
        errors = len(warm.errors)
        print(header(client), flush=True)
        for n in args.sessions:
            errors += len((await measure(harness, args.timeout, n, args.rounds, server_pid, log)).errors)
        if args.soak:
            errors += len((await soak(harness, args.timeout, args.soak, min(args.soak_warmup, args.soak // 2),
                                      server_pid, log)).errors)
        return errors


def main(doc: str, make_harness: Callable[[argparse.Namespace], AsyncContextManager[Harness]], *, log: Path,
         client: str, rounds: int, soak_warmup: int) -> None:
    """The command line of a load harness: `make_harness(args)` opens what its viewers need (a browser...);
    `client` names the CPU column of everything but the server; `rounds` and `soak_warmup` are its defaults."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 10, 20], help="concurrent sessions, per run")
    parser.add_argument("--rounds", type=int, default=rounds, help="times each session goes through every page")
    parser.add_argument("--soak", type=int, default=1000, help="interactions in the soak (0: no soak)")
    parser.add_argument("--soak-warmup", type=int, default=soak_warmup,
                        help="soak interactions before the first RSS sample (at most half the soak)")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for any one page load or answer")
    args = parser.parse_args()
    args.port = args.port or free_port()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill`/`timeout`: clean up as for Ctrl-C
    try:
        server = start_server(args.port, log)
    except RuntimeError as e:
        raise SystemExit(str(e)) from None
    print(f"server on port {args.port}, pid {server.pid}, log {log}", flush=True)
    try:
        errors = run_async(run(args, make_harness, client, server.pid, log))  # viewers close in `finally`
    except KeyboardInterrupt:
        print("interrupted: viewers closed, server stopped", flush=True)
        sys.exit(130)
    finally:
        stop_server(server)
    exit_on_errors(errors, " in all (warm-up included)")


def exit_on_errors(errors: int, where: str = "") -> None:
    """Exit status 1 on any error: CI (tests/test_load_ws.py) and scripts see that the run was not clean."""
    if errors:
        print(f"FAILED: {errors} error(s){where}", flush=True)
        sys.exit(1)
    print("no errors", flush=True)

