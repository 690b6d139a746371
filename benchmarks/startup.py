"""Cold start: seconds from `streamlit run app.py` to the first rendered page, in Chromium.

    python -m benchmarks.startup [--runs 3] [--page digits]

Each run starts a fresh server and a fresh browser, loads the page and waits until the text the
page shows when it is done appears (home: the device line; digits: the empty-canvas prompt).
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402

READY_TEXT = {"": "Models run on", "digits": "on the black square"}


def one_run(page_path: str) -> float:
    from playwright.sync_api import sync_playwright

    port = free_port()
    start = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port",
         str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/{page_path}")
            page.get_by_text(READY_TEXT[page_path]).wait_for(timeout=120_000)
            elapsed = time.perf_counter() - start
            browser.close()
        return elapsed
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page", default="", choices=sorted(READY_TEXT))
    args = parser.parse_args()
    times = [one_run(args.page) for _ in range(args.runs)]
    name = args.page or "home"
    print(f"cold start to first rendered page ({name}), {args.runs} runs: median {statistics.median(times):.2f} s, "
          f"all: {', '.join(f'{t:.2f}' for t in times)}")


if __name__ == "__main__":
    main()
