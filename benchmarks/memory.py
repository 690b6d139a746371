"""Server memory with every page used, round after round: what one replica needs (README, "Deploy for a big room").

    python -m benchmarks.memory [--rounds 5] [--trainings 2] [--seconds 15]

Starts `streamlit run app.py` (as benchmarks/load_ws.py does) and, each round: one viewer through every page and
every input benchmarks/load_ws.py gives (links, drawings, example photos and clips, sentences, words); a photo
uploaded (harness/replicas.py's viewer: the HTTP upload, the answer, the media); and --trainings digit networks
trained at once on the live page (Part 2, Start pressed over Streamlit's protocol, the page refreshed every 0.5 s so
that the runs stay seen, until each shows its final test accuracy). Prints the server's RSS (its process and
children) after each round and the highest seen while it ran (sampled every 0.5 s). Exit status 1 on any error.
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks import load_ws, loadtest
from harness.run_async import run as run_async
from harness.replicas import upload_a_photo
from harness.server import Sampler, free_port, log_tracebacks, server_rss, start_server, stop_server

LOG = Path(tempfile.gettempdir()) / "deep-learning-live-memory.log"
DONE = "Test accuracy (all 10,000)"  # the live page's metric once a run has ended
WATCHED = "Test accuracy (1,000 digits)"  # while it trains


def metrics(run: load_ws.Run) -> dict[str, str]:
    return {e.metric.label: e.metric.body for e in run.elements if e.WhichOneof("type") == "metric"}


async def train(url: str, seconds: int, timeout: float) -> str | None:
    """One viewer trains a digit network for `seconds` on /live (Part 2); its final test accuracy (None: failed)."""
    session = load_ws.Session(url, timeout)
    await session.open()
    try:
        run = await session.rerun(page="live", query=f"part=digits&seconds={seconds}")
        (start,) = [e.button for e in run.elements if e.WhichOneof("type") == "button" and e.button.label == "Start"]
        run = await session.rerun(widgets=[load_ws.state(start.id, trigger_value=True)])
        deadline, accuracy = time.perf_counter() + seconds + timeout, None
        while time.perf_counter() < deadline:
            shown = metrics(run)
            if DONE in shown or shown.get("Training time", "").startswith(f"{seconds:.1f} / "):
                return shown.get(DONE) or shown.get(WATCHED)  # the end: its budget all trained
            if "Training time" not in shown and accuracy is not None:
                return accuracy  # the page ran whole at the end (this client sends no widget values: Part 1)
            accuracy = shown.get(WATCHED, accuracy)
            await asyncio.sleep(0.5)
            run = await session.rerun(widgets=[])  # the page again: the run is seen, its progress read
        return None
    finally:
        await session.close()


async def one_round(port: int, args, stats: loadtest.Stats) -> None:
    url = f"ws://127.0.0.1:{port}/_stcore/stream"
    harness = loadtest.Harness(lambda s, t: load_ws.WsViewer(url, s, t), load_ws.KINDS, load_ws.KINDS)
    await loadtest.warm_up(harness, args.timeout, stats)
    photo = await upload_a_photo(f"http://127.0.0.1:{port}", args.timeout)
    for failure in photo.failures:
        stats.error("upload", failure)
    accuracies = await asyncio.gather(*(train(url, args.seconds, args.timeout) for _ in range(args.trainings)),
                                      return_exceptions=True)
    for accuracy in accuracies:
        if not isinstance(accuracy, str):
            stats.error("live training", accuracy if isinstance(accuracy, BaseException) else "no final accuracy")


async def run(args, server) -> int:
    errors = 0
    for r in range(1, args.rounds + 1):
        stats, sampler, t = loadtest.Stats(), Sampler(server.pid), time.perf_counter()
        sampler.start()
        try:
            await one_round(args.port, args, stats)
        finally:
            sampler.stop()
        print(f"round {r}: {time.perf_counter() - t:5.1f} s, server RSS {server_rss(server.pid) / 2**20:,.0f} MB after, "
              f"{max(sampler.rss or [0]) / 2**20:,.0f} MB at most; {len(stats.errors)} errors", flush=True)
        loadtest.print_errors(stats.errors)
        errors += len(stats.errors)
    if tracebacks := log_tracebacks(LOG):
        print(f"    error: {tracebacks} traceback(s) in {LOG}", flush=True)
    return errors + tracebacks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trainings", type=int, default=2, help="live trainings at once in each round")
    parser.add_argument("--seconds", type=int, default=15, choices=[5, 10, 15, 30, 60], help="each training's budget")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    args.port = free_port()
    server = start_server(args.port, LOG)
    print(f"server on port {args.port}, pid {server.pid}, log {LOG}; RSS at start {server_rss(server.pid) / 2**20:,.0f} MB",
          flush=True)
    try:
        errors = run_async(run(args, server))
    finally:
        stop_server(server)
    loadtest.exit_on_errors(errors)


if __name__ == "__main__":
    main()
