"""Cold start: seconds from `streamlit run app.py` to the first rendered page, in Chromium; then warm loads.

    python -m benchmarks.startup [--runs 3] [--page digits] [--warm 10] [--navigate 10]

Each run starts a fresh server and a fresh browser, loads the page (home, or an example of
app_pages/registry.py) and waits until it reads what it reads when it is done (benchmarks/flows.py's
"ready": home: the device line; digits: the empty-canvas prompt; embeddings: the map's caption; speech:
the first example's transcript; translate: the first example's translation). With --warm N, the same
server then serves the page N more times to new browser tabs (models already loaded): the time a
viewer waits once the app is up. With --navigate N, it clicks the page's link on the home page N
times (what a viewer does inside the app: no new tab, no reload of Streamlit's frontend).
"""
from __future__ import annotations

import argparse
import re
import statistics
import time

from benchmarks.flows import FLOWS, HOME
from harness.browser import CHROMIUM, CHROMIUM_ARGS
from harness.server import free_port, start_server, stop_server


def ready(tab, name: str) -> None:
    tab.get_by_text(re.compile(FLOWS[name].ready)).first.wait_for(timeout=120_000)


def navigations(browser, base: str, name: str, count: int) -> list[float]:
    """Seconds from clicking the page's link on the home page (in the same tab) to the page being ready."""
    tab = browser.new_page()
    times = []
    for _ in range(count):
        tab.goto(base)
        ready(tab, HOME.name)
        t = time.perf_counter()
        tab.get_by_role("link", name=FLOWS[name].title).first.click()
        ready(tab, name)
        times.append(time.perf_counter() - t)
    tab.close()
    return times


def one_run(name: str, warm: int = 0, navigate: int = 0) -> tuple[float, list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    port, path = free_port(), FLOWS[name].path
    start = time.perf_counter()
    server = start_server(port, poll=0.05)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/{path}")
            ready(page, name)
            elapsed = time.perf_counter() - start
            warm_times = []
            for _ in range(warm):
                tab = browser.new_page()
                t = time.perf_counter()
                tab.goto(f"http://127.0.0.1:{port}/{path}")
                ready(tab, name)
                warm_times.append(time.perf_counter() - t)
                tab.close()
            nav_times = navigations(browser, f"http://127.0.0.1:{port}/", name, navigate) if navigate else []
            browser.close()
        return elapsed, warm_times, nav_times
    finally:
        stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page", default=HOME.name, choices=list(FLOWS), type=lambda name: name or HOME.name,
                        help="home (or \"\"), or an example's name")
    parser.add_argument("--warm", type=int, default=0, help="page loads on the warm server after the cold one")
    parser.add_argument("--navigate", type=int, default=0, help="clicks on the page's link from the home page")
    args = parser.parse_args()
    if args.navigate and args.page == HOME.name:
        parser.error("--navigate needs an example's page: home has no link to itself")
    runs = [one_run(args.page, args.warm, args.navigate) for _ in range(args.runs)]
    times = [cold for cold, *_ in runs]
    print(f"cold start to first rendered page ({args.page}), {args.runs} runs: median {statistics.median(times):.2f} s, "
          f"all: {', '.join(f'{t:.2f}' for t in times)}")
    for label, k in (("warm page loads in a new tab", 1), ("clicks from the home page", 2)):
        values = [t for run in runs for t in run[k]]
        if values:
            print(f"{label} ({args.page}), {len(values)}: median {statistics.median(values):.2f} s, "
                  f"p95 {sorted(values)[int(0.95 * (len(values) - 1))]:.2f} s")


if __name__ == "__main__":
    main()
