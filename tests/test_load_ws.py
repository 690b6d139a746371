"""benchmarks.load_ws in CI: five viewers at once over Streamlit's protocol, every page, no error (issue 36: the
harness read no headings, so the live page's ready text was never found and every run reported errors that nobody
saw). And the harness itself: it reads what a viewer reads, and its exit status says when anything went wrong."""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys

import pytest

from benchmarks import load_ws, loadtest
from benchmarks.flows import FLOWS
from conftest import ROOT


def test_five_viewers_at_once_go_through_every_page_without_an_error():
    """The small load run: a warm-up through every page and input, then 5 sessions at once, one round, no soak.
    Exit status 0 only when no viewer saw an exception, an error box, a wrong or missing answer, a timeout, a lost
    connection, and the server logged no traceback."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    result = subprocess.run([sys.executable, "-m", "benchmarks.load_ws", "--sessions", "5", "--rounds", "1",
                             "--soak", "0", "--timeout", "90"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=400)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "warm-up session (every page and input once, not measured)" in out and ", 0 errors" in out, out
    (row,) = [line for line in out.splitlines() if re.match(r"\s+5\s+\d+\s+\d+\s+0\s", line)]  # N, loads, acts, errors
    loads, acts = map(int, row.split()[1:3])
    pages = [flow for flow in FLOWS.values()]
    assert loads == 5 * len(pages), row  # every page, the live and face pages included
    assert acts == 5 * len([flow for flow in pages if flow.steps_for(load_ws.KINDS)]), row


def heading(text: str):
    from streamlit.proto.Element_pb2 import Element

    element = Element()
    element.heading.body = text
    element.heading.tag = "h3"
    return element


def test_the_harness_reads_headings_as_a_viewer_does():
    from streamlit.proto.Element_pb2 import Element

    markdown = Element()
    markdown.markdown.body = "It's a **cat** (97%)"
    run = load_ws.Run(0.1, [heading("One hidden unit, larger"), markdown], [])
    assert load_ws.texts(run) == ["One hidden unit, larger", "It's a cat (97%)"]
    assert load_ws.first(run, FLOWS["live"].ready) == "One hidden unit, larger"


class WrongViewer(loadtest.Viewer):
    """A viewer whose every page reads the wrong thing."""

    async def load(self, flow):
        raise AssertionError("expected /ready/, read 'nothing'")


def test_any_error_makes_the_exit_status_1(monkeypatch, capsys):
    """No server needed: the harness's main loop with a viewer that never finds a page ready."""
    monkeypatch.setattr(loadtest, "start_server", lambda port, log: type("Server", (), {"pid": os.getpid()})())
    monkeypatch.setattr(loadtest, "stop_server", lambda server: None)
    monkeypatch.setattr(loadtest, "log_tracebacks", lambda log: 0)
    monkeypatch.setattr(sys, "argv", ["load_ws", "--sessions", "1", "--rounds", "1", "--soak", "0"])

    @contextlib.asynccontextmanager
    async def harness(args):
        yield loadtest.Harness(WrongViewer, load_ws.KINDS, load_ws.KINDS)

    with pytest.raises(SystemExit) as exit_:
        loadtest.main("doc", harness, log=ROOT / "unused.log", client="client", rounds=1, soak_warmup=1)
    assert exit_.value.code == 1
    assert "FAILED" in capsys.readouterr().out
