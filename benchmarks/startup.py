"""Cold start: seconds from `streamlit run app.py` to the first rendered page, in Chromium; then warm loads.

    python -m benchmarks.startup [--runs 3] [--page digits] [--warm 10] [--navigate 10]

Each run starts a fresh server and a fresh browser, loads the page and waits until the text the
page shows when it is done appears (home: the device line; digits: the empty-canvas prompt;
embeddings: the map's caption; speech: the first example's transcript; translate: the first
example's translation). With --warm N, the same
server then serves the page N more times to new browser tabs (models already loaded): the time a
viewer waits once the app is up. With --navigate N, it clicks the page's link on the home page N
times (what a viewer does inside the app: no new tab, no reload of Streamlit's frontend).
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

READY_TEXT = {"": "Models run on", "digits": "on the black square", "photos": "It's a",
              "embeddings": "t-SNE of the 1,000 most frequent words", "speech": "The clip says",
              "translate": "Je ne sais pas"}


LINK = {"digits": "Draw a digit", "photos": "Upload a photo", "embeddings": "Explore word embeddings",
        "speech": "Record speech", "translate": "Translate a sentence"}


def navigations(browser, base: str, page_path: str, count: int) -> list[float]:
    """Seconds from clicking the page's link on the home page (in the same tab) to the page being ready."""
    tab = browser.new_page()
    times = []
    for _ in range(count):
        tab.goto(base)
        tab.get_by_text(READY_TEXT[""]).wait_for(timeout=120_000)
        t = time.perf_counter()
        tab.get_by_role("link", name=LINK[page_path]).first.click()
        tab.get_by_text(READY_TEXT[page_path]).wait_for(timeout=120_000)
        times.append(time.perf_counter() - t)
    tab.close()
    return times


def one_run(page_path: str, warm: int = 0, navigate: int = 0) -> tuple[float, list[float], list[float]]:
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
            warm_times = []
            for _ in range(warm):
                tab = browser.new_page()
                t = time.perf_counter()
                tab.goto(f"http://127.0.0.1:{port}/{page_path}")
                tab.get_by_text(READY_TEXT[page_path]).wait_for(timeout=120_000)
                warm_times.append(time.perf_counter() - t)
                tab.close()
            nav_times = navigations(browser, f"http://127.0.0.1:{port}/", page_path, navigate) if navigate else []
            browser.close()
        return elapsed, warm_times, nav_times
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page", default="", choices=sorted(READY_TEXT))
    parser.add_argument("--warm", type=int, default=0, help="page loads on the warm server after the cold one")
    parser.add_argument("--navigate", type=int, default=0, help="clicks on the page's link from the home page")
    args = parser.parse_args()
    runs = [one_run(args.page, args.warm, args.navigate) for _ in range(args.runs)]
    times = [cold for cold, *_ in runs]
    name = args.page or "home"
    print(f"cold start to first rendered page ({name}), {args.runs} runs: median {statistics.median(times):.2f} s, "
          f"all: {', '.join(f'{t:.2f}' for t in times)}")
    for label, k in (("warm page loads in a new tab", 1), ("clicks from the home page", 2)):
        values = [t for run in runs for t in run[k]]
        if values:
            print(f"{label} ({name}), {len(values)}: median {statistics.median(values):.2f} s, "
                  f"p95 {sorted(values)[int(0.95 * (len(values) - 1))]:.2f} s")


if __name__ == "__main__":
    main()
