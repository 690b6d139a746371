"""Shared fixtures: the data directory (tests that need it skip, with the reason, when it is absent)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def data_dir() -> Path:
    """$DATA_DIR, else data/ in the project: the layout of ../shared/data."""
    return Path(os.environ.get("DATA_DIR", ROOT / "data"))


def require(relative: str) -> Path:
    """The data directory, or skip the test saying which file is missing and how to point at it."""
    if not (data_dir() / relative).exists():
        pytest.skip(f"{relative} not found in {data_dir()}: set DATA_DIR (e.g. DATA_DIR=../shared/data)")
    return data_dir()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return require("vision/MNIST/raw/t10k-images-idx3-ubyte.gz")


@pytest.fixture(scope="session")
def cifar_dir() -> Path:
    return require("vision/cifar10/cifar10-jpeg.tar.gz")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    """`streamlit run app.py` as a subprocess on a free port; terminated at the end of the session."""
    import socket
    import subprocess
    import time

    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
           "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    log = open(ROOT / ".pytest_cache" / "streamlit.log", "w") if (ROOT / ".pytest_cache").is_dir() else subprocess.DEVNULL
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"streamlit exited with code {server.returncode}")
                time.sleep(0.3)
        else:
            pytest.fail("streamlit did not open its port within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def playwright():
    """Playwright, for Debian's Chromium; skipped, with how to get it, when either is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed: apt-get install -y chromium chromium-driver")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright not installed: pip install -r requirements.txt")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def espeak_wav(text: str, voice: str = "en-gb-x-rp", speed: int = 150, lead: float = 0.3, tail: float = 0.3) -> bytes:
    """`text` spoken by espeak-ng as 16 kHz WAV bytes with silence around it (skips when espeak-ng is missing)."""
    import io
    import shutil
    import subprocess

    import numpy as np
    import soundfile as sf

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed: apt-get install -y espeak-ng")
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True, check=True).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    audio = np.concatenate([np.zeros(int(lead * rate), np.float32), audio, np.zeros(int(tail * rate), np.float32)])
    t_new = np.arange(0, len(audio) / rate, 1 / 16000)
    audio = np.interp(t_new, np.arange(len(audio)) / rate, audio).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, audio, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def assert_traced_matches_eager(model, x):
    """models.common.run_recording (the traced network the pages run) against the network run op by op as
    the test set was measured (train.common.evaluate: channels_last, bf16 autocast): same logits, same
    recorded activations. Returns (eager logits, eager activations, traced logits, traced activations),
    under the caller's grad mode, for further checks."""
    import torch

    from models.common import run_recording
    from train.common import autocast

    eager_acts: dict = {}
    with autocast(x.device):
        eager = model(x.contiguous(memory_format=torch.channels_last), eager_acts)
    traced, acts = run_recording(model, x)
    torch.testing.assert_close(traced, eager)
    assert acts.keys() == eager_acts.keys()
    for name in acts:
        torch.testing.assert_close(acts[name], eager_acts[name])
    return eager, eager_acts, traced, acts
