"""Load test without browsers: N concurrent sessions speaking Streamlit's WebSocket protocol, then a soak.

    python -m benchmarks.load_ws [--sessions 1 5 10 20] [--rounds 3] [--soak 1000] [--port P] [--timeout 60]

Why next to benchmarks/load.py: load.py drives real Chromium sessions, which is the only way to test what a
viewer sees, but on the 2-core CPU machine Chromium's software rendering (WebGL through SwiftShader for the 3D
plotly charts) takes ~165 % CPU while the Streamlit server takes ~13 %: its latencies (10-30 s at N=10)
measure the load generator, not the server. In a deployment each viewer renders on their own machine and only
the server is shared, so this client does what the browser's Streamlit frontend does on the wire and nothing
else: it opens ws://HOST:P/_stcore/stream (subprotocol "streamlit"), sends BackMsg.rerun_script with a
ClientState (page_name for a page load, then the page's script hash and the widget values the user set), reads
the ForwardMsgs (new_session, delta, script_finished) and keeps each run's elements by delta path, as the
frontend does. Parsing protobufs costs the client a few % of a core, even at N=20.

Starts `streamlit run app.py` (headless, on --port or a free one; log in $TMPDIR/deep-learning-live-load-ws.log)
and waits for /_stcore/health. A warm-up session first goes through every page once (models loaded, caches
filled; not measured). Then, for each N, N sessions run at once (asyncio, one WebSocket each), each through
every page (--rounds times), starting at different pages so that they spread over the models:

    translate   load until the example's French; text_input "English sentence" <- a sentence, until its French
    embeddings  load until the map's caption; text_input "Find a word" <- a word, until "Nearest: " lists a
                neighbour
    photos      load until "It's a cat"; selectbox "example" <- the horse, until "It's a horse"
    speech      load until "4 1 5 9"; selectbox "example" <- another clip, until its digits
    digits      load until the canvas prompt; the canvas component's state <- a digit drawn as a PNG data URL
                (tests/drawing.py), until "It's a <that digit>"
    (uploads and recordings go through the HTTP upload endpoint: not done here; load.py does them.)

Page load = from sending the rerun into the page to its script_finished; interaction = from sending the rerun
with the widget value to script_finished. Each is checked: errors are exception elements, st.error alerts,
compile errors, page-not-found, wrong or missing answers, timeouts, lost connections, and tracebacks in the
server log. At N >= 10 several sessions run the same model at once (the "max same-page overlap" line says how
many): any exception or wrong answer there is a thread-safety bug. The server's RSS and CPU (its process and
children; 100 % = one core) are sampled every 0.5 s; "client CPU" is this process.

Soak (--soak K, 0 to skip): one session does K interactions cycling translate, embeddings, digits, photos (ten
per page visit, then the next page); the server's RSS after --soak-warmup interactions (default 100, at most
K/2) is compared with its RSS at the end.

Targets, on the 2-core CPU machine: 10 concurrent sessions with zero errors and p95 interaction latency
<= 1 s; soak RSS growth <= 5 %.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.load import Sampler, log_tracebacks, med, p95, server_rss, start_server, stop_server  # also puts tests/ on sys.path
from conftest import free_port  # noqa: E402
from drawing import render  # noqa: E402

SERVER_LOG = Path(tempfile.gettempdir()) / "deep-learning-live-load-ws.log"  # not load.py's: both may run at once

# What each interaction sets, and the answer it must bring (each checked against the shipped models).
SENTENCES = [("I like apples.", "pommes"), ("The cat is sleeping on the sofa.", "chat"),
             ("I love my dog.", "chien"), ("Where is the station?", "gare"), ("The house is big.", "maison"),
             ("I drink water.", "eau")]
WORDS = [("germany", "france"), ("music", "jazz"), ("king", "queen"), ("river", "rivers")]
# The photos page loads with Chelsea the cat, the speech page with "4 1 5 9": every interaction changes the example.
# None: not a CIFAR-10 class, any answer will do (a class or "Not sure"); "": the silent clip, "No speech detected".
PHOTOS = [("A horse (silhouette)", "horse"), ("Falcon 9 rocket", None), ("Astronaut Eileen Collins", None)]
SPEECH = [("Three digits, female voice", "2 8 6"), ("A phone number, Scottish voice, fast", "0 7 7 0 9 0 0 4 6 1"),
          ("Silence (no speech)", "")]
DIGITS = [7, 3, 1, 4, 2]


# ---- the protocol ---------------------------------------------------------------------------------------------

class ProtocolError(Exception):
    """The run did not end as a browser's would: compile error, page not found, lost connection."""


@dataclass
class Run:
    seconds: float
    elements: list  # the run's final elements, in delta-path order (a later delta at a path replaces it)
    problems: list[str]  # exceptions and st.error alerts seen during the run


class Session:
    """One viewer: one WebSocket, one Streamlit session; a reader task parses every ForwardMsg as it comes."""

    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = url, timeout
        self.ws, self.reader, self.page_hash = None, None, ""
        self.inbox: asyncio.Queue = asyncio.Queue()

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        # No keepalive pings (the browser sends none either: a busy server must not look dead); no size limit
        # (the 3D map is a few MB); permessage-deflate offered, as browsers do.
        self.ws = await connect(self.url, subprotocols=["streamlit"], max_size=None, ping_interval=None,
                                open_timeout=self.timeout, close_timeout=2)
        self.inbox = asyncio.Queue()
        self.reader = asyncio.create_task(self._read(self.ws, self.inbox))

    @staticmethod
    async def _read(ws, inbox: asyncio.Queue) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            async for data in ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                inbox.put_nowait(msg)
        except Exception as e:  # noqa: BLE001 - the connection is gone: tell whoever waits
            inbox.put_nowait(e)
        else:
            inbox.put_nowait(ProtocolError("the server closed the connection"))

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception:  # noqa: BLE001
                pass
        self.ws = self.reader = None

    async def reconnect(self) -> None:
        """After a timeout the old run's messages may still come: start a fresh session instead."""
        await self.close()
        self.page_hash = ""
        await self.open()

    async def rerun(self, page: str | None = None, widgets: list | None = None) -> Run:
        """page: load it by URL path (as a browser opening /page); else rerun the current page with `widgets`."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        state = msg.rerun_script
        if page is not None:
            state.page_name = page
        else:
            state.page_script_hash = self.page_hash
            state.widget_states.widgets.extend(widgets or [])
        t = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        elements, problems, started = {}, [], False
        deadline = t + self.timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no script_finished within {self.timeout:g} s")
            try:
                item = await asyncio.wait_for(self.inbox.get(), left)
            except asyncio.TimeoutError:
                raise TimeoutError(f"no script_finished within {self.timeout:g} s") from None
            if isinstance(item, Exception):
                raise ProtocolError(f"connection lost: {type(item).__name__}: {item}")
            kind = item.WhichOneof("type")
            if kind == "new_session":  # every run starts with one (again after st.rerun)
                started, elements = True, {}
            elif not started:
                continue  # left over from before this request (heartbeat acks and the like)
            elif kind == "delta" and item.delta.WhichOneof("type") == "new_element":
                element = item.delta.new_element
                elements[tuple(item.metadata.delta_path)] = element
                which = element.WhichOneof("type")
                if which == "exception":
                    problems.append(f"exception {element.exception.type}: {element.exception.message[:120]}")
                elif which == "alert" and element.alert.format == 1:  # Alert.Format.ERROR
                    problems.append(f"st.error: {element.alert.body[:120]}")
            elif kind == "navigation":  # st.navigation says which page ran: the frontend reruns with its hash
                self.page_hash = item.navigation.page_script_hash
            elif kind == "page_not_found":
                raise ProtocolError(f"page not found: {page!r}")
            elif kind == "session_event" and item.session_event.WhichOneof("type") == "script_compilation_exception":
                raise ProtocolError("script compilation exception")
            elif kind == "script_finished":
                status = item.script_finished
                if status == ForwardMsg.FINISHED_SUCCESSFULLY:
                    break
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise ProtocolError("script finished with a compile error")
                started = False  # FINISHED_EARLY_FOR_RERUN: the next run's new_session follows
        return Run(time.perf_counter() - t, [elements[k] for k in sorted(elements)], problems)


# ---- what the runs show ------------------------------------------------------------------------------------------

def markdowns(run: Run) -> list[str]:
    return [e.markdown.body for e in run.elements if e.WhichOneof("type") == "markdown"]


def alerts(run: Run) -> list[str]:
    return [e.alert.body for e in run.elements if e.WhichOneof("type") == "alert"]


def widget(run: Run, kind: str, label: str):
    """The first `kind` element (text_input, selectbox, bidi_component) whose label (component name) starts so."""
    for e in run.elements:
        if e.WhichOneof("type") == kind:
            w = getattr(e, kind)
            if (w.component_name if kind == "bidi_component" else w.label).startswith(label):
                return w
    raise AssertionError(f"no {kind} {label!r} on the page")


def state(widget_id: str, **value):
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    ws = WidgetState(id=widget_id)
    for name, v in value.items():
        setattr(ws, name, v)
    return ws


def found(run: Run, pattern: str, texts: list[str] | None = None) -> str:
    """The first text matching `pattern`, else AssertionError quoting what was there instead."""
    texts = markdowns(run) if texts is None else texts
    for text in texts:
        if re.search(pattern, text):
            return text
    answers = [t for t in texts + alerts(run) if re.search(r"It's a|Not sure|Nearest|translation|span", t)]
    raise AssertionError(f"expected /{pattern}/, got {(answers or ['nothing'])[0][:100]!r}")


def canvas_value(digit: int) -> str:
    """The canvas component's state as the browser sends it (tests/test_app.py canvas_state): a PNG data URL."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(render(digit, 60, 40, 180, 18)).save(buf, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return json.dumps({"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": data},
                       "backgroundFit": None})


CANVAS = {d: canvas_value(d) for d in DIGITS}


# Each page: (check of the loaded page, interaction i -> (widget states, check of the answer)).
def translate_load(run):
    found(run, r"class='translation'.*Je ne sais pas")


def translate_act(run, i):
    sentence, french = SENTENCES[i % len(SENTENCES)]
    box = widget(run, "text_input", "English sentence")
    return [state(box.id, string_value=sentence)], lambda r: found(r, rf"class='translation'.*\b{french}\b")


def embeddings_load(run):
    found(run, r"t-SNE of the 1,000 most frequent words")


def embeddings_act(run, i):
    word, neighbour = WORDS[i % len(WORDS)]
    box = widget(run, "text_input", "Find a word")
    return [state(box.id, string_value=word)], lambda r: found(r, rf"^Nearest: .*\b{neighbour} \(")


def photos_load(run):
    found(run, r"It's a \*\*cat\*\*")


def photos_act(run, i):
    name, answer = PHOTOS[i % len(PHOTOS)]
    box = widget(run, "selectbox", "Example photo")
    pattern = rf"It's a \*\*{answer}\*\*" if answer else r"It's a \*\*\w+\*\*|Not sure"
    return [state(box.id, string_value=name)], lambda r: found(r, pattern, markdowns(r) + alerts(r))


def speech_load(run):
    found(run, r">4 1 5 9</span>")


def speech_act(run, i):
    name, digits = SPEECH[i % len(SPEECH)]
    box = widget(run, "selectbox", "Example clip")
    pattern = rf">{digits}</span>" if digits else r"No speech detected"
    return [state(box.id, string_value=name)], lambda r: found(r, pattern, markdowns(r) + alerts(r))


def digits_load(run):
    found(run, r"on the black square", alerts(run))


def digits_act(run, i):
    digit = DIGITS[i % len(DIGITS)]
    canvas = widget(run, "bidi_component", "streamlit-drawable-canvas")
    return [state(canvas.id, json_value=CANVAS[digit])], lambda r: found(r, rf"It's a \*\*{digit}\*\*")


PAGES = {"translate": (translate_load, translate_act), "embeddings": (embeddings_load, embeddings_act),
         "photos": (photos_load, photos_act), "speech": (speech_load, speech_act),
         "digits": (digits_load, digits_act)}


# ---- sessions -----------------------------------------------------------------------------------------------------

@dataclass
class Stats:
    loads: dict = field(default_factory=dict)  # page -> [seconds]
    interactions: dict = field(default_factory=dict)
    spans: dict = field(default_factory=dict)  # page -> [(start, end)] of interactions: to count overlaps
    errors: list = field(default_factory=list)

    def error(self, where: str, e: BaseException | str) -> None:
        text = e if isinstance(e, str) else f"{type(e).__name__}: {str(e).strip()}"
        self.errors.append(f"{where}: {text.splitlines()[0][:200] if text else ''}")

    def count(self, table: dict, page: str, run: Run) -> None:
        table.setdefault(page, []).append(run.seconds)


async def checked(session: Session, stats: Stats, where: str, page: str | None = None, widgets=None):
    """One rerun; its problems counted as errors. Returns the Run, or None after an exception (and reconnects
    on a timeout or a lost connection, so that the next step starts clean)."""
    try:
        run = await session.rerun(page, widgets)
    except (TimeoutError, ProtocolError, OSError) as e:
        stats.error(where, e)
        try:
            await session.reconnect()
        except Exception as e2:  # noqa: BLE001
            stats.error(where, f"reconnect failed: {e2}")
        return None
    for problem in run.problems:
        stats.error(where, problem)
    return run


async def load(session: Session, stats: Stats, page: str):
    run = await checked(session, stats, f"{page} load", page=page)
    if run is None:
        return None
    stats.count(stats.loads, page, run)
    try:
        PAGES[page][0](run)
    except AssertionError as e:
        stats.error(f"{page} load", e)
    return run


async def interact(session: Session, stats: Stats, page: str, loaded: Run, i: int) -> None:
    try:
        widgets, check = PAGES[page][1](loaded, i)
    except AssertionError as e:
        stats.error(f"{page} act", e)
        return
    t = time.perf_counter()
    run = await checked(session, stats, f"{page} act", widgets=widgets)
    if run is None:
        return
    stats.count(stats.interactions, page, run)
    stats.spans.setdefault(page, []).append((t, t + run.seconds))
    try:
        check(run)
    except AssertionError as e:
        stats.error(f"{page} act", e)


async def visit(session: Session, stats: Stats, page: str, i: int, interactions: int = 1) -> None:
    loaded = await load(session, stats, page)
    if loaded is not None:
        for j in range(interactions):
            await interact(session, stats, page, loaded, i + j)


async def session_flow(url: str, timeout: float, k: int, rounds: int, stats: Stats) -> None:
    """Session k: every page, `rounds` times, starting at page k (so that sessions spread over the pages)."""
    names = list(PAGES)
    names = names[k % len(names):] + names[:k % len(names)]
    session = Session(url, timeout)
    try:
        await session.open()
        for r in range(rounds):
            for name in names:
                await visit(session, stats, name, k + r)
    except Exception as e:  # noqa: BLE001 - e.g. the connection could not be opened
        stats.error(f"session {k}", e)
    finally:
        await session.close()


# ---- measurements --------------------------------------------------------------------------------------------

def max_overlap(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


HEADER = (f"{'N':>3} {'loads':>5} {'acts':>5} {'errors':>6} {'load med':>8} {'load p95':>8} {'act med':>8} "
          f"{'act p95':>8} {'RSS MB':>7} {'srv CPU% mean/max':>17} {'client CPU%':>11} {'wall s':>7}")


def print_errors(errors: list[str], limit: int = 10) -> None:
    for line in errors[:limit]:
        print(f"    error: {line}", flush=True)
    if len(errors) > limit:
        print(f"    ... and {len(errors) - limit} more errors", flush=True)


async def measure(url: str, timeout: float, n: int, rounds: int, server_pid: int) -> Stats:
    stats, tracebacks = Stats(), log_tracebacks(SERVER_LOG)
    sampler = Sampler(server_pid)
    sampler.start()
    t = time.perf_counter()
    try:
        await asyncio.gather(*(session_flow(url, timeout, k, rounds, stats) for k in range(n)))
    finally:
        sampler.stop()
    wall = time.perf_counter() - t
    if (new := log_tracebacks(SERVER_LOG) - tracebacks) > 0:
        stats.error("server", f"{new} traceback(s) in {SERVER_LOG}")
    loads = [s for v in stats.loads.values() for s in v]
    acts = [s for v in stats.interactions.values() for s in v]
    cpu = f"{statistics.fmean(sampler.server_cpu or [0]):.0f}/{max(sampler.server_cpu or [0]):.0f}"
    print(f"{n:>3} {len(loads):>5} {len(acts):>5} {len(stats.errors):>6} {med(loads):>8.2f} {p95(loads):>8.2f} "
          f"{med(acts):>8.2f} {p95(acts):>8.2f} {max(sampler.rss or [0]) / 2**20:>7.0f} {cpu:>17} "
          f"{statistics.fmean(sampler.client_cpu or [0]):>11.0f} {wall:>7.1f}", flush=True)
    print("    act p95 by page: " + ", ".join(f"{k} {p95(v):.2f}" for k, v in stats.interactions.items()) +
          " | load p95 by page: " + ", ".join(f"{k} {p95(v):.2f}" for k, v in stats.loads.items()), flush=True)
    print("    max same-page overlap (interactions in flight on one model at once): " +
          ", ".join(f"{k} {max_overlap(v)}" for k, v in stats.spans.items()), flush=True)
    print_errors(stats.errors)
    return stats


SOAK_PAGES = ["translate", "embeddings", "digits", "photos"]
SOAK_VISIT = 10  # interactions per page visit


async def soak(url: str, timeout: float, total: int, warmup: int, server_pid: int) -> None:
    stats, tracebacks = Stats(), log_tracebacks(SERVER_LOG)
    session = Session(url, timeout)
    rss_warm, loaded, t = None, None, time.perf_counter()
    try:
        await session.open()
        for i in range(total):
            page = SOAK_PAGES[i // SOAK_VISIT % len(SOAK_PAGES)]
            if i % SOAK_VISIT == 0 or loaded is None:
                loaded = await load(session, stats, page)
            if loaded is not None:
                await interact(session, stats, page, loaded, i)
            if i + 1 == warmup:
                rss_warm = server_rss(server_pid)
            if (i + 1) % 100 == 0:
                print(f"    soak {i + 1}/{total}: server RSS {server_rss(server_pid) / 2**20:.0f} MB, "
                      f"{len(stats.errors)} errors, {time.perf_counter() - t:.0f} s", flush=True)
    finally:
        await session.close()
    if (new := log_tracebacks(SERVER_LOG) - tracebacks) > 0:
        stats.error("server", f"{new} traceback(s) in {SERVER_LOG}")
    rss_end = server_rss(server_pid)
    acts = [s for v in stats.interactions.values() for s in v]
    growth = 100 * (rss_end - rss_warm) / rss_warm if rss_warm else float("nan")
    print(f"soak: {total} interactions ({len(acts)} completed) in {time.perf_counter() - t:.0f} s, "
          f"{len(stats.errors)} errors, interaction median {med(acts):.2f} s, p95 {p95(acts):.2f} s; server RSS "
          f"{(rss_warm or 0) / 2**20:.0f} MB after {warmup} -> {rss_end / 2**20:.0f} MB at the end: "
          f"{growth:+.1f} % (target <= 5 %)", flush=True)
    print("    act p95 by page: " + ", ".join(f"{k} {p95(v):.2f}" for k, v in stats.interactions.items()), flush=True)
    print_errors(stats.errors)


# ---- main -------------------------------------------------------------------------------------------------------

async def run(args, server: subprocess.Popen) -> None:
    url = f"ws://127.0.0.1:{args.port}/_stcore/stream"
    warm, t = Stats(), time.perf_counter()
    await session_flow(url, max(args.timeout, 120), 0, 1, warm)
    print(f"warm-up session (every page once, not measured): {time.perf_counter() - t:.1f} s, "
          f"{len(warm.errors)} errors", flush=True)
    print_errors(warm.errors)
    print(HEADER, flush=True)
    for n in args.sessions:
        await measure(url, args.timeout, n, args.rounds, server.pid)
    if args.soak:
        await soak(url, args.timeout, args.soak, min(args.soak_warmup, args.soak // 2), server.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 10, 20], help="concurrent sessions, per run")
    parser.add_argument("--rounds", type=int, default=3, help="times each session goes through every page")
    parser.add_argument("--soak", type=int, default=1000, help="interactions in the soak (0: no soak)")
    parser.add_argument("--soak-warmup", type=int, default=100, help="soak interactions before the first RSS sample")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for any one script run")
    args = parser.parse_args()
    args.port = args.port or free_port()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill`/`timeout`: clean up as for Ctrl-C
    server = start_server(args.port, SERVER_LOG)
    print(f"server on port {args.port}, pid {server.pid}, log {SERVER_LOG}", flush=True)
    try:
        asyncio.run(run(args, server))  # the sessions close their sockets in `finally`, also when cancelled
    except KeyboardInterrupt:
        print("interrupted: sessions closed, server stopped", flush=True)
        sys.exit(130)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
