"""Load test: N concurrent real browser sessions on one server, then a long single-session soak.

    python -m benchmarks.load [--sessions 1 5 10 20] [--rounds 1] [--soak 1000] [--port P] [--timeout 60]

Starts `streamlit run app.py` (headless, on --port or a free one) and one Chromium (Playwright, Debian's
/usr/bin/chromium, a fake microphone playing "three seven one"). A warm-up session first goes through every
page once (models loaded, caches filled; not measured). Then, for each N, N browser contexts run at once, each
through every page's main flow (--rounds times), starting at different pages:

    home        load until "Models run on";   click "Draw a digit" until its canvas prompt shows
    digits      load until the canvas prompt; draw a digit with the mouse until "It's a <that digit>"
    photos      load until the example's "It's a"; upload a photo of a cat until "It's a cat (..%)"
    embeddings  load until the map's caption; search a word until its nearest neighbours are listed
    translate   load until the example's French; type a sentence, Enter, until the French shows
    speech      load until "The clip says"; record 3.5 s with the microphone, stop, until "3 7 1"
                (skipped, and said so, when espeak-ng is missing)

Page load = goto until the page's first result is visible; interaction = from the input (mouse up, file set,
Enter, stop recording, click) until the result is visible. Errors: exceptions and timeouts, wrong answers,
"Traceback", "...Error" or a lost connection on the page, JavaScript errors, and tracebacks in the server log.
The server's RSS and CPU (its process and children; 100 % = one core) are sampled every 0.5 s; "browser CPU"
is everything else this command started (Chromium and Playwright), which shares the machine's cores.

Soak (--soak K, 0 to skip): one session does K cheap interactions (translate, search a word, draw), ten per
page visit, then a fresh visit to the next page; the server's RSS after --soak-warmup interactions is
compared with its RSS at the end.

Targets, on the 2-core CPU machine: 10 concurrent sessions with zero errors and p95 interaction latency
<= 1 s; soak RSS growth <= 5 %. The browser runs on the same cores, so the numbers are pessimistic.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM, CHROMIUM_ARGS, espeak_wav, free_port  # noqa: E402
from drawing import strokes_at  # noqa: E402

SERVER_LOG = Path(tempfile.gettempdir()) / "deep-learning-live-load.log"
# Case-sensitive on purpose: the speech page's "digit error rate" is fine, "ValueError" is not.
ERROR_TEXT = re.compile(r"Traceback|\w*Error\b|Connection error|Is Streamlit still running")
DIGITS = [7, 3, 1, 4, 2]  # one stroke each: one mouse-up, so one rerun
SENTENCES = {"I like apples.": "pommes", "The cat is sleeping.": "chat", "I love my dog.": "chien",
             "Where is the station?": "gare", "The house is big.": "maison", "I drink water.": "eau",
             "We are going to the beach.": "plage", "The book is on the table.": "livre"}
WORDS = {"germany": "austria", "france": "spain", "king": "queen", "music": "jazz", "river": "rivers",
         "computer": "software", "london": "manchester", "red": "blue", "city": "town", "war": "wars"}


@dataclass
class Assets:
    photo: Path
    microphone: Path | None  # None: no espeak-ng, no speech flow
    timeout_ms: int


# ---- interactions: each returns the seconds from the input to the result --------------------------------

async def click_link(page, i, assets):
    t = time.perf_counter()
    await page.get_by_role("link", name=re.compile("Draw a digit")).first.click()
    await page.get_by_text("on the black square").first.wait_for()
    return time.perf_counter() - t


async def draw(page, i, assets):
    answer = page.get_by_text(re.compile(r"It's a \d|Not sure"))
    if await answer.count():  # a drawing from the last interaction: clear it
        await page.get_by_role("button", name=re.compile("Clear")).click()
        await page.get_by_text("on the black square").first.wait_for()
    digit = DIGITS[i % len(DIGITS)]
    canvas = page.locator("canvas").last
    await canvas.wait_for()
    box = await canvas.bounding_box()
    (stroke,) = strokes_at(digit, left=box["x"] + 60, top=box["y"] + 40, size=180)
    await page.mouse.move(*stroke[0])
    await page.mouse.down()
    for x, y in stroke[1:]:
        await page.mouse.move(x, y, steps=4)
    t = time.perf_counter()
    await page.mouse.up()
    await answer.first.wait_for()
    elapsed = time.perf_counter() - t
    text = await answer.first.inner_text()
    assert text.startswith(f"It's a {digit}"), f"drew a {digit}, read {text[:40]!r}"
    return elapsed


async def upload(page, i, assets):
    answer = page.get_by_text(re.compile(r"It's a [a-z]+ \(\d+%\)"))
    await page.get_by_text("Upload", exact=True).click()  # the segmented control
    await page.get_by_text("Choose a photo").first.wait_for()
    await answer.first.wait_for(state="hidden")  # the example's answer is gone
    t = time.perf_counter()
    await page.locator("input[type=file]").set_input_files(str(assets.photo))
    await answer.first.wait_for()
    elapsed = time.perf_counter() - t
    text = await answer.first.inner_text()
    assert text.startswith("It's a cat"), f"uploaded a cat, read {text[:40]!r}"
    return elapsed


async def search(page, i, assets):
    word, neighbour = list(WORDS.items())[i % len(WORDS)]
    box = page.get_by_label("Find a word")
    await box.fill(word.capitalize())
    t = time.perf_counter()
    await box.press("Enter")
    await page.get_by_text(re.compile(rf"^Nearest: .*\b{neighbour} \(")).wait_for()
    return time.perf_counter() - t


async def translate(page, i, assets):
    sentence, french = list(SENTENCES.items())[i % len(SENTENCES)]
    box = page.get_by_label("English sentence")
    await box.fill(sentence)
    t = time.perf_counter()
    await box.press("Enter")
    await page.locator(".translation").filter(has_text=french).wait_for()
    return time.perf_counter() - t


async def record(page, i, assets):
    await page.get_by_text("Record", exact=True).first.click()  # the segmented control
    await page.get_by_text("Say a few digits").first.wait_for()
    await page.get_by_role("button", name="Record").first.click()  # the main recorder
    await page.wait_for_timeout(3500)
    answer = page.locator("h2 span").or_(page.get_by_text("No speech detected"))
    t = time.perf_counter()
    await page.get_by_role("button", name="Stop recording").first.click()
    await answer.first.wait_for()
    elapsed = time.perf_counter() - t
    text = (await answer.first.inner_text()).strip()
    assert text == "3 7 1", f"said 3 7 1, read {text[:40]!r}"
    return elapsed


# name -> (path, text shown when the page's first result is there, main interaction)
PAGES = {
    "home": ("", "Models run on", click_link),
    "digits": ("digits", "on the black square", draw),
    "photos": ("photos", "It's a", upload),
    "embeddings": ("embeddings", "t-SNE of the 1,000 most frequent words", search),
    "translate": ("translate", "Je ne sais pas", translate),
    "speech": ("speech", "The clip says", record),
}


# ---- sessions ---------------------------------------------------------------------------------------------

@dataclass
class Stats:
    loads: dict = field(default_factory=dict)  # page -> [seconds]
    interactions: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    def error(self, where: str, e: BaseException | str) -> None:
        text = e if isinstance(e, str) else f"{type(e).__name__}: {str(e).strip()}"
        self.errors.append(f"{where}: {text.splitlines()[0][:160] if text else ''}")


async def page_errors(page, name: str, stats: Stats) -> None:
    """What the viewer would see as broken: an exception box, a traceback, an '...Error', a lost connection."""
    try:
        if await page.locator("[data-testid='stException']").count():
            stats.error(name, "an exception is shown on the page")
        found = ERROR_TEXT.search(await page.locator("body").inner_text())
        if found:
            stats.error(name, f"{found.group()!r} on the page")
    except Exception as e:  # noqa: BLE001 - the page itself may be gone
        stats.error(name, e)


async def load(page, base: str, name: str, stats: Stats) -> None:
    path, ready, _ = PAGES[name]
    t = time.perf_counter()
    await page.goto(f"{base}/{path}")
    await page.get_by_text(ready).first.wait_for()
    stats.loads.setdefault(name, []).append(time.perf_counter() - t)


async def visit(page, base: str, name: str, i: int, stats: Stats, assets: Assets) -> None:
    """Load the page, do its main interaction once, check the page for errors."""
    try:
        await load(page, base, name, stats)
        seconds = await PAGES[name][2](page, i, assets)
        stats.interactions.setdefault(name, []).append(seconds)
    except Exception as e:  # noqa: BLE001 - a timeout or a wrong answer: count it, go on
        stats.error(name, e)
    await page_errors(page, name, stats)


async def new_page(browser, stats: Stats, assets: Assets):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000},
                                        permissions=["microphone"] if assets.microphone else [])
    page = await context.new_page()
    page.set_default_timeout(assets.timeout_ms)
    page.on("pageerror", lambda e: stats.error("javascript", str(e)))
    return context, page


async def session(browser, base: str, k: int, rounds: int, stats: Stats, assets: Assets) -> None:
    """Session k: every page, `rounds` times, starting at page k (so that sessions spread over the pages)."""
    names = [n for n in PAGES if n != "speech" or assets.microphone]
    names = names[k % len(names):] + names[:k % len(names)]
    context, page = await new_page(browser, stats, assets)
    try:
        for r in range(rounds):
            for name in names:
                await visit(page, base, name, k + r, stats, assets)
    finally:
        await context.close()


# ---- the server and its resource use -------------------------------------------------------------------

def start_server(port: int, log: Path = SERVER_LOG) -> subprocess.Popen:
    """`streamlit run app.py` on `port`, its output in `log`; returns once /_stcore/health answers."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is already in use (another benchmark?): choose another with --port")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port",
           str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            pass
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}: see {log}")
        time.sleep(0.3)
    stop_server(server)
    raise RuntimeError(f"streamlit did not answer /_stcore/health within 120 s: see {log}")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def processes(root: int) -> dict[int, tuple[int, float]]:
    """pid -> (RSS bytes, CPU seconds) for `root` and all its descendants (psutil, else /proc)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        out = {}
        try:
            top = psutil.Process(root)
            for p in [top, *top.children(recursive=True)]:
                with p.oneshot():
                    cpu = p.cpu_times()
                    out[p.pid] = (p.memory_info().rss, cpu.user + cpu.system)
        except psutil.Error:
            pass
        return out
    tick, stats = os.sysconf("SC_CLK_TCK"), {}
    for entry in os.listdir("/proc"):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24 of stat: resident pages
            stats[int(entry)] = (int(fields[1]), rss, (int(fields[11]) + int(fields[12])) / tick)
        except (ValueError, OSError, IndexError):
            continue
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in out:
            out[pid] = stats[pid][1:]
            todo += [child for child, (ppid, *_) in stats.items() if ppid == pid]
    return out


class Sampler(threading.Thread):
    """Every `interval` s: the server's RSS and CPU %, and the CPU % of the rest of this command's processes."""

    def __init__(self, server_pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.server_pid, self.interval, self.done = server_pid, interval, threading.Event()
        self.rss, self.server_cpu, self.client_cpu = [], [], []

    def run(self) -> None:
        before, t0 = processes(os.getpid()), time.perf_counter()
        while not self.done.wait(self.interval):
            now, t1 = processes(os.getpid()), time.perf_counter()
            server = processes(self.server_pid)
            cpu = {pid: now[pid][1] - before.get(pid, (0, 0.0))[1] for pid in now}  # new processes: all of theirs
            self.rss.append(sum(rss for rss, _ in server.values()))
            self.server_cpu.append(100 * sum(cpu.get(pid, 0.0) for pid in server) / (t1 - t0))
            self.client_cpu.append(100 * sum(c for pid, c in cpu.items() if pid not in server) / (t1 - t0))
            before, t0 = now, t1

    def stop(self) -> None:
        self.done.set()
        self.join()


def server_rss(pid: int) -> int:
    return sum(rss for rss, _ in processes(pid).values())


def log_tracebacks(log: Path = SERVER_LOG) -> int:
    return log.read_text(errors="replace").count("Traceback")


# ---- measurements --------------------------------------------------------------------------------------------

def p95(values: list[float]) -> float:
    return sorted(values)[math.ceil(0.95 * len(values)) - 1] if values else float("nan")


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


HEADER = (f"{'N':>3} {'visits':>6} {'errors':>6} {'load med':>8} {'load p95':>8} {'act med':>8} {'act p95':>8} "
          f"{'RSS MB':>7} {'srv CPU% mean/max':>17} {'browser CPU%':>12} {'wall s':>7}")


async def measure(browser, base: str, n: int, rounds: int, server_pid: int, assets: Assets) -> Stats:
    stats, tracebacks = Stats(), log_tracebacks()
    sampler = Sampler(server_pid)
    sampler.start()
    t = time.perf_counter()
    try:
        await asyncio.gather(*(session(browser, base, k, rounds, stats, assets) for k in range(n)))
    finally:
        sampler.stop()
    wall = time.perf_counter() - t
    if (new := log_tracebacks() - tracebacks) > 0:
        stats.error("server", f"{new} traceback(s) in {SERVER_LOG}")
    loads = [s for v in stats.loads.values() for s in v]
    acts = [s for v in stats.interactions.values() for s in v]
    cpu = f"{statistics.fmean(sampler.server_cpu or [0]):.0f}/{max(sampler.server_cpu or [0]):.0f}"
    print(f"{n:>3} {len(loads):>6} {len(stats.errors):>6} {med(loads):>8.2f} {p95(loads):>8.2f} {med(acts):>8.2f} "
          f"{p95(acts):>8.2f} {max(sampler.rss or [0]) / 2**20:>7.0f} {cpu:>17} "
          f"{statistics.fmean(sampler.client_cpu or [0]):>12.0f} {wall:>7.1f}", flush=True)
    print("    act p95 by page: " + ", ".join(f"{k} {p95(v):.2f}" for k, v in stats.interactions.items()) +
          " | load p95 by page: " + ", ".join(f"{k} {p95(v):.2f}" for k, v in stats.loads.items()), flush=True)
    for line in stats.errors[:10]:
        print(f"    error: {line}", flush=True)
    if len(stats.errors) > 10:
        print(f"    ... and {len(stats.errors) - 10} more errors", flush=True)
    return stats


SOAK_PAGES = ["translate", "embeddings", "digits"]
SOAK_VISIT = 10  # interactions per page visit


async def soak(browser, base: str, total: int, warmup: int, server_pid: int, assets: Assets) -> None:
    stats = Stats()
    context, page = await new_page(browser, stats, assets)
    rss_warm = None
    try:
        for i in range(total):
            name = SOAK_PAGES[i // SOAK_VISIT % len(SOAK_PAGES)]
            try:
                if i % SOAK_VISIT == 0:
                    await load(page, base, name, stats)
                stats.interactions.setdefault(name, []).append(await PAGES[name][2](page, i, assets))
            except Exception as e:  # noqa: BLE001
                stats.error(f"soak {i} {name}", e)
            if i + 1 == warmup:
                rss_warm = server_rss(server_pid)
            if (i + 1) % 100 == 0:
                print(f"    soak {i + 1}/{total}: server RSS {server_rss(server_pid) / 2**20:.0f} MB, "
                      f"{len(stats.errors)} errors", flush=True)
        await page_errors(page, "soak", stats)
    finally:
        await context.close()
    rss_end = server_rss(server_pid)
    acts = [s for v in stats.interactions.values() for s in v]
    growth = 100 * (rss_end - rss_warm) / rss_warm
    print(f"soak: {total} interactions, {len(stats.errors)} errors, interaction median {med(acts):.2f} s, "
          f"p95 {p95(acts):.2f} s; server RSS {rss_warm / 2**20:.0f} MB after {warmup} -> "
          f"{rss_end / 2**20:.0f} MB at the end: {growth:+.1f} % (target <= 5 %)", flush=True)
    for line in stats.errors[:10]:
        print(f"    error: {line}", flush=True)


# ---- main -------------------------------------------------------------------------------------------------------

def make_assets(folder: Path, timeout_s: float) -> Assets:
    from importlib import resources

    from PIL import Image, ImageOps

    chelsea = Image.open(resources.files("skimage") / "data" / "chelsea.png").convert("RGB")
    photo = folder / "my cat.jpg"
    ImageOps.mirror(chelsea).crop((20, 0, 451, 300)).save(photo, quality=90)
    microphone = None
    if shutil.which("espeak-ng"):  # 0.5 s of silence, "three seven one", 30 s of silence: Chromium loops
        # the file, and under load the stop click can come late; the loop must not come round again
        microphone = folder / "digits.wav"
        microphone.write_bytes(espeak_wav("three seven one", voice="en-gb-x-rp", speed=140, lead=0.5, tail=30.0))
    else:
        print("espeak-ng not installed (apt-get install -y espeak-ng): the speech flow is skipped")
    return Assets(photo, microphone, int(timeout_s * 1000))


async def run(args, assets: Assets, server: subprocess.Popen) -> None:
    from playwright.async_api import async_playwright

    base = f"http://127.0.0.1:{args.port}"
    fake_mic = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={assets.microphone}"] if assets.microphone else []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + fake_mic)
        try:
            warm = Stats()
            t = time.perf_counter()
            await session(browser, base, 0, 1, warm, assets)
            print(f"warm-up session (every page once, not measured): {time.perf_counter() - t:.1f} s, "
                  f"{len(warm.errors)} errors" + "".join(f"\n    error: {e}" for e in warm.errors), flush=True)
            print(HEADER, flush=True)
            for n in args.sessions:
                await measure(browser, base, n, args.rounds, server.pid, assets)
            if args.soak:
                await soak(browser, base, args.soak, min(args.soak_warmup, args.soak // 2), server.pid, assets)
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 10, 20], help="concurrent sessions, per run")
    parser.add_argument("--rounds", type=int, default=1, help="times each session goes through every page")
    parser.add_argument("--soak", type=int, default=1000, help="interactions in the soak (0: no soak)")
    parser.add_argument("--soak-warmup", type=int, default=50, help="soak interactions before the first RSS sample")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for any one thing on a page")
    args = parser.parse_args()
    args.port = args.port or free_port()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill`/`timeout`: clean up as for Ctrl-C
    server = start_server(args.port)
    print(f"server on port {args.port}, pid {server.pid}, log {SERVER_LOG}", flush=True)
    try:
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(run(args, make_assets(Path(folder), args.timeout), server))
    except KeyboardInterrupt:
        print("interrupted: browser closed, server stopped", flush=True)
        sys.exit(130)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
