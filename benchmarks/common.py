"""What the latency benchmarks share: their flags, timing a call many times, and the summary."""
from __future__ import annotations

import argparse
import contextlib
import threading
import time

import numpy as np


@contextlib.contextmanager
def busy_python_thread(on: bool = True):
    """A thread that keeps Python's global lock busy, as the other viewers' script runs do on a shared server.

    Each torch op lets go of the lock and must win it back; a busy thread keeps it up to
    sys.getswitchinterval() (5 ms) each time, so a call's time here grows with the number of torch
    ops it makes from Python, not with their cost: what many small ops cost under load."""
    stop = threading.Event()

    def spin() -> None:
        x = 0
        while not stop.is_set():
            for i in range(10_000):  # pure Python bytecode: holds the lock
                x += i

    thread = threading.Thread(target=spin, daemon=True)
    if on:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if on:
            thread.join()


def add_busy_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--busy-thread", action="store_true",
                        help="time the calls next to a busy pure-Python thread (see busy_python_thread)")


def latency_parser(doc: str, calls: int, warmup: int = 5) -> argparse.ArgumentParser:
    """The flags of a model's latency benchmark: --calls, --warmup, --busy-thread (add its own to it)."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--calls", type=int, default=calls)
    parser.add_argument("--warmup", type=int, default=warmup)
    add_busy_flag(parser)
    return parser


def timed(fn, calls: int, warmup: int = 5, busy: bool = False) -> np.ndarray:
    """Milliseconds of fn(i) for i in range(warmup + calls), the warm-up calls left out; `busy`: next to a
    busy Python thread."""
    times = []
    for i in range(warmup):
        fn(i)
    with busy_python_thread(busy):
        for i in range(warmup, warmup + calls):
            start = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - start)
    return np.array(times) * 1000


def summary(ms: np.ndarray, decimals: int = 1) -> str:
    return (f"median {np.median(ms):.{decimals}f} ms, p95 {np.percentile(ms, 95):.{decimals}f} ms, "
            f"min {ms.min():.{decimals}f} ms")


def report(what: str, ms: np.ndarray, busy: bool, decimals: int = 1) -> None:
    """A latency benchmark's result: what was timed, then the summary (saying so when next to a busy thread)."""
    print(what)
    print(("next to a busy Python thread: " if busy else "") + summary(ms, decimals))
