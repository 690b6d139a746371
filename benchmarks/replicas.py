"""Viewers per core: N viewers at once through nginx (deploy/nginx.conf, as tests/test_deploy.py runs it) in front
of R replicas of the app on this machine, each replica pinned to its own core.

    python -m benchmarks.replicas [--replicas 2] [--sessions 25 50] [--rounds 3] [--no-pin] [--timeout 60]

The viewers are benchmarks/load_ws.py's (Streamlit's protocol, every page of benchmarks/flows.py, every answer
checked); each opens its WebSocket through the proxy without a cookie, so the proxy's hash of a fresh random value
spreads them over the replicas as it does new browsers. Each replica is warmed up first through its own port (models
loaded, networks traced). Prints, for each N: loads, interactions, errors, medians and 95th percentiles, and each
replica's RSS at the end. Exit status 1 on any error. With --replicas 1 it measures one replica on one core: the
viewers one core carries. The viewers' client shares the machine's cores (a few % of one). Tracebacks in a replica's log count as errors.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import tempfile
import time
from pathlib import Path

from benchmarks import load_ws, loadtest
from harness.run_async import run as run_async
from harness.replicas import nginx
from harness.server import free_port, log_tracebacks, server_rss, start_server, stop_server

LOGS = Path(tempfile.gettempdir())


def harness(url: str) -> loadtest.Harness:
    ws = url.replace("http://", "ws://") + "/_stcore/stream"
    return loadtest.Harness(lambda stats, timeout: load_ws.WsViewer(ws, stats, timeout), load_ws.KINDS, load_ws.KINDS)


async def measure(url: str, n: int, rounds: int, timeout: float, servers) -> int:
    stats, t = loadtest.Stats(), time.perf_counter()
    await asyncio.gather(*(loadtest.session(harness(url), timeout, k, rounds, stats) for k in range(n)))
    wall = time.perf_counter() - t
    loads = [s for v in stats.loads.values() for s in v]
    acts = [s for v in stats.interactions.values() for s in v]
    rss = ", ".join(f"{server_rss(s.pid) / 2**20:,.0f}" for s in servers)
    print(f"{n:>4} {len(loads):>5} {len(acts):>5} {len(stats.errors):>6} {loadtest.med(loads):>8.2f} "
          f"{loadtest.p95(loads):>8.2f} {loadtest.med(acts):>8.2f} {loadtest.p95(acts):>8.2f} {wall:>7.1f}   {rss}",
          flush=True)
    print(f"     act p95 by page: {loadtest.by_page(stats.interactions)}", flush=True)
    loadtest.print_errors(stats.errors)
    return len(stats.errors)


async def run(args, ports: list[int], servers) -> int:
    errors = 0
    for port in ports:  # each replica warmed up directly
        warm = loadtest.Stats()
        await loadtest.warm_up(harness(f"http://127.0.0.1:{port}"), max(args.timeout, 120), warm)
        loadtest.print_errors(warm.errors)
        errors += len(warm.errors)
    print(f"{'N':>4} {'loads':>5} {'acts':>5} {'errors':>6} {'load med':>8} {'load p95':>8} {'act med':>8} "
          f"{'act p95':>8} {'wall s':>7}   replicas' RSS MB", flush=True)
    with nginx(ports) as url:
        for n in args.sessions:
            errors += await measure(url, n, args.rounds, args.timeout, servers)
    for port in ports:
        if tracebacks := log_tracebacks(log(port)):
            print(f"    error: {tracebacks} traceback(s) in {log(port)}", flush=True)
            errors += tracebacks
    return errors


def log(port: int) -> Path:
    return LOGS / f"deep-learning-live-replica-{port}.log"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--sessions", type=int, nargs="+", default=[25, 50])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--no-pin", action="store_true", help="let every replica run on any core")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    ports = [free_port() for _ in range(args.replicas)]
    pins = [None if args.no_pin else {cores[i % len(cores)]} for i in range(args.replicas)]
    print(f"{args.replicas} replica(s) on port(s) {ports}, cores {pins if not args.no_pin else 'any'} of {cores}; "
          f"logs {LOGS}/deep-learning-live-replica-PORT.log", flush=True)
    with concurrent.futures.ThreadPoolExecutor(args.replicas) as pool:
        started = [pool.submit(start_server, port, log(port), cpus=pin)
                   for port, pin in zip(ports, pins)]
        servers = [future.result() for future in started]
    try:
        errors = run_async(run(args, ports, servers))
    finally:
        for server in servers:
            stop_server(server)
    loadtest.exit_on_errors(errors)


if __name__ == "__main__":
    main()
