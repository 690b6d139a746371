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
and waits for /_stcore/health. A warm-up session first goes through every page and every input of each page once
(models loaded, networks traced, caches filled; not measured). Then, for each N, N sessions run at once (asyncio,
one WebSocket each), each through every page of benchmarks/flows.py (--rounds times), starting at different pages
so that they spread over the models; pages without an input (live, faces) are loaded only. On each page it gives
one of the flow's inputs this way:

    link    home: loads the example's page by its name (what clicking its link asks of the server)
    draw    the canvas component's state <- the digit drawn as a PNG data URL (harness/drawing.py)
    type    text_input <- the sentence or the word
    pick    selectbox <- another example (photo, clip)
    (uploads and recordings go through the HTTP upload endpoint: not done here; load.py does them.)

Page load = from sending the rerun into the page to its script_finished; interaction = from sending the rerun
with the widget value to script_finished. Each is checked on the run's Markdown, headings and alerts, read as a
viewer reads them: errors are exception elements, st.error alerts, compile errors, page-not-found, wrong or missing
answers, timeouts, lost connections, and tracebacks in the server log. At N >= 10 several sessions run the same
model at once (the "max same-page overlap" line says how many): any exception or wrong answer there is a
thread-safety bug. The server's RSS and CPU (its process and children; 100 % = one core) are sampled every
0.5 s; "client CPU" is this process.

Soak (--soak K, 0 to skip): one session does K interactions cycling through flows.SOAK (translate, embeddings,
digits, photos; ten per page visit, then the next page); the server's RSS after --soak-warmup interactions
(default 100, at most K/2) is compared with its RSS at the end.

Exit status 1 when any error was seen (warm-up included), 0 otherwise: tests/test_load_ws.py runs it at N = 5 in
CI, so that a page whose text changed cannot leave the harness stale again.

Targets, on the 2-core CPU machine: 10 concurrent sessions with zero errors and p95 interaction latency
<= 1 s; 50 with zero errors and p95 interaction latency <= 1.5 s; soak RSS growth <= 5 %.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import html
import io
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import loadtest
from benchmarks.flows import Flow, Step, check
from harness.drawing import render

SERVER_LOG = Path(tempfile.gettempdir()) / "deep-learning-live-load-ws.log"  # not load.py's: both may run at once
KINDS = frozenset({"link", "draw", "type", "pick"})


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

    def __init__(self, url: str, timeout: float, headers: dict | None = None, tls=None):
        self.url, self.timeout, self.headers = url, timeout, headers  # headers: e.g. the cookies, behind a proxy
        self.tls = tls  # an ssl.SSLContext for a wss:// url (None: the default one)
        self.ws, self.reader, self.page_hash, self.session_id = None, None, "", ""
        self.fragments: set[str] = set()  # the ids of the page's fragments (st.fragment), seen in its deltas
        self.inbox: asyncio.Queue = asyncio.Queue()

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        # No keepalive pings (the browser sends none either: a busy server must not look dead); no size limit
        # (the 3D map is a few MB); permessage-deflate offered, as browsers do.
        self.ws = await connect(self.url, subprotocols=["streamlit"], max_size=None, ping_interval=None,
                                open_timeout=self.timeout, close_timeout=2, additional_headers=self.headers,
                                **({"ssl": self.tls} if self.tls is not None else {}))
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

    async def rerun(self, page: str | None = None, widgets: list | None = None, query: str = "",
                    fragment: str = "") -> Run:
        """page: load it by URL path (as a browser opening /page?query); else rerun the current page with
        `widgets`; fragment: only that fragment (what the browser asks for an st.fragment's run_every), whose
        elements the Run then holds."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        state = msg.rerun_script
        if page is not None:
            state.page_name, state.query_string = page, query
        else:
            state.page_script_hash = self.page_hash
            state.widget_states.widgets.extend(widgets or [])
            state.fragment_id = fragment
            state.is_auto_rerun = bool(fragment)
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
                self.session_id = item.new_session.initialize.session_id or self.session_id
            elif not started:
                continue  # left over from before this request (heartbeat acks and the like)
            elif kind == "delta" and item.delta.WhichOneof("type") == "new_element":
                if item.delta.fragment_id:
                    self.fragments.add(item.delta.fragment_id)
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
                if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                    break
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise ProtocolError("script finished with a compile error")
                started = False  # FINISHED_EARLY_FOR_RERUN: the next run's new_session follows
        return Run(time.perf_counter() - t, [elements[k] for k in sorted(elements)], problems)

    async def file_urls(self, names: list[str]) -> list:
        """Where to upload files for a file_uploader (what the browser asks before its PUT): FileURLs, one a name."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        msg.file_urls_request.request_id = request = f"upload-{time.perf_counter_ns()}"
        msg.file_urls_request.file_names.extend(names)
        msg.file_urls_request.session_id = self.session_id
        await self.ws.send(msg.SerializeToString())
        deadline = time.perf_counter() + self.timeout
        while (left := deadline - time.perf_counter()) > 0:
            try:
                item = await asyncio.wait_for(self.inbox.get(), left)
            except asyncio.TimeoutError:
                break
            if isinstance(item, Exception):
                raise ProtocolError(f"connection lost: {type(item).__name__}: {item}")
            if item.WhichOneof("type") == "file_urls_response" and item.file_urls_response.response_id == request:
                return list(item.file_urls_response.file_urls)
        raise TimeoutError(f"no file_urls_response within {self.timeout:g} s")


# ---- what the runs show ------------------------------------------------------------------------------------------

def visible(body: str) -> str:
    """A Markdown body as a viewer reads it: no HTML tags, bold marks, heading marks or icons (:material/NAME:)."""
    text = re.sub(r":material/\w+:\s*", "", re.sub(r"<[^>]+>", "", body)).replace("**", "").strip()
    return html.unescape(re.sub(r"^#+\s+", "", text))


def texts(run: Run) -> list[str]:
    """What the run's Markdown (captions included), headings (st.title, st.subheader) and alerts read, in page
    order: what a viewer reads, as benchmarks/load.py reads it in the browser."""
    out = []
    for e in run.elements:
        which = e.WhichOneof("type")
        if which in ("markdown", "alert", "heading"):
            out.append(visible(getattr(e, which).body))
    return out


def first(run: Run, pattern: str) -> str | None:
    return next((text for text in texts(run) if re.search(pattern, text)), None)


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


@functools.cache
def canvas_value(digit: int) -> str:
    """The canvas component's state as the browser sends it (tests/test_app.py canvas_state): a PNG data URL."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(render(digit, 60, 40, 180, 18)).save(buf, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return json.dumps({"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": data},
                       "backgroundFit": None})


def inputs(loaded: Run, step: Step) -> list:
    """The widget states the step sets on the loaded page."""
    if step.kind == "draw":
        canvas = widget(loaded, "bidi_component", "streamlit-drawable-canvas")
        return [state(canvas.id, json_value=canvas_value(step.value))]
    box = widget(loaded, {"type": "text_input", "pick": "selectbox"}[step.kind], step.label)
    return [state(box.id, string_value=step.value)]


# ---- a viewer -----------------------------------------------------------------------------------------------------

class WsViewer(loadtest.Viewer):
    def __init__(self, url: str, stats: loadtest.Stats, timeout: float):
        super().__init__(stats, timeout)
        self.session, self.loaded = Session(url, timeout), None

    async def open(self) -> None:
        await self.session.open()

    async def close(self) -> None:
        await self.session.close()

    async def rerun(self, where: str, page: str | None = None, widgets: list | None = None) -> Run:
        """One rerun, its problems counted as errors; after a timeout or a lost connection, a fresh session (so
        that the next step starts clean) and the exception."""
        try:
            run = await self.session.rerun(page, widgets)
        except (TimeoutError, ProtocolError, OSError):
            try:
                await self.session.reconnect()
            except Exception as e:  # noqa: BLE001
                self.stats.error(where, f"reconnect failed: {e}")
            raise
        for problem in run.problems:
            self.stats.error(where, problem)
        return run

    async def load(self, flow: Flow) -> float:
        self.loaded = None
        run = await self.rerun(f"{flow.name} load", page=flow.path)
        check(flow.ready, first(run, flow.ready))
        self.loaded = run
        return run.seconds

    async def act(self, flow: Flow, step: Step) -> float:
        where = f"{flow.name} act"
        if step.kind == "link":
            run = await self.rerun(where, page=step.value)
        else:
            run = await self.rerun(where, widgets=inputs(self.loaded, step))
        try:
            check(step.expect, first(run, flow.answer or step.expect))
        except AssertionError as e:
            raise loadtest.WrongAnswer(run.seconds, str(e)) from None
        return run.seconds


@contextlib.asynccontextmanager
async def sockets(args):
    url = f"ws://127.0.0.1:{args.port}/_stcore/stream"
    yield loadtest.Harness(lambda stats, timeout: WsViewer(url, stats, timeout), KINDS, KINDS)


def main() -> None:
    loadtest.main(__doc__, sockets, log=SERVER_LOG, client="client", rounds=3, soak_warmup=100)


if __name__ == "__main__":
    main()
