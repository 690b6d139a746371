"""Shared fixtures: the data directory (tests that need it skip, with the reason, when it is absent; with $DATA_DIR
set, such a skip fails the run); the app's server, Chromium and espeak-ng from harness/ (what the benchmarks use
too); `--wrong-model=NAME`, a wrong model on purpose for the answer tests (tests/wrong_models.py)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import voices  # noqa: E402
from harness.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402,F401 - tests import them from here
from harness.server import free_port, start_server, stop_server  # noqa: E402,F401


TORCH_THREADS = torch.get_num_threads()  # at the start of the session: torch's default, every core
DATA_SKIP = "set DATA_DIR"  # in the reason of every skip for want of data (require)


def pytest_addoption(parser):
    parser.addoption("--wrong-model", choices=["speech", "faces", "photos", "digits", "translate"], default=None,
                     help="patch that model to answer wrong (tests/wrong_models.py) and run only the tests marked "
                          "answers(NAME): each must fail (tests/test_wrong_models.py)")


def pytest_configure(config):
    config.addinivalue_line("markers", "answers(*pages): checks the answer these pages show, in their headline "
                                       "(tests/answers.py); must fail under --wrong-model=PAGE")
    name = config.getoption("--wrong-model")
    if name:
        from wrong_models import WRONG

        config.wrong_patch = pytest.MonkeyPatch()
        WRONG[name](config.wrong_patch)


def pytest_unconfigure(config):
    if getattr(config, "wrong_patch", None) is not None:
        config.wrong_patch.undo()


def pytest_collection_modifyitems(config, items):
    name = config.getoption("--wrong-model")
    if not name:
        return
    keep = [i for i in items if any(name in m.args for m in i.iter_markers("answers"))]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


DATA_SKIPS: list[str] = []  # node ids of the tests skipped for want of data


def pytest_runtest_logreport(report):
    if report.skipped and DATA_SKIP in str(report.longrepr):
        DATA_SKIPS.append(report.nodeid)


def data_skips_fail(config) -> bool:
    """With $DATA_DIR set (CI sets it when ../shared/data is there), a test skipped for want of data fails the run:
    an accuracy test that skips would hide a wrong model."""
    return bool(DATA_SKIPS and os.environ.get("DATA_DIR") and not config.getoption("--wrong-model"))


def pytest_sessionfinish(session, exitstatus):
    if data_skips_fail(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The count of tests skipped for want of data, always."""
    terminalreporter.write_sep("-", f"tests skipped for want of data: {len(DATA_SKIPS)}")
    for nodeid in DATA_SKIPS:
        terminalreporter.write_line(f"  {nodeid}")
    if data_skips_fail(config):
        terminalreporter.write_line(f"FAILED: DATA_DIR={os.environ['DATA_DIR']} is set, yet {len(DATA_SKIPS)} "
                                    "tests skipped for want of data", red=True)


@pytest.fixture(autouse=True)
def every_core_for_each_test():
    """The app's loader sets torch to one thread for the whole process (right for a server of many sessions:
    ui/loading.py), and the first AppTest did so for every test after it: the CIFAR-10 test set took 242 s of
    CI's 847 instead of ~115. Each test starts with torch's default again."""
    torch.set_num_threads(TORCH_THREADS)
    yield


def data_dir() -> Path:
    """$DATA_DIR, else data/ in the project: the layout of ../shared/data."""
    return Path(os.environ.get("DATA_DIR", ROOT / "data"))


def require(relative: str) -> Path:
    """The data directory, or skip the test saying which file is missing and how to point at it."""
    if not (data_dir() / relative).exists():
        pytest.skip(f"{relative} not found in {data_dir()}: set DATA_DIR (e.g. DATA_DIR=../shared/data)")
    return data_dir()


def shipped_as_data(tmp_path_factory, files: dict[str, Path]) -> Path:
    """Data that ships in the repository, laid out as in the data directory (links in a temporary folder): the tests
    that read it never skip."""
    root = tmp_path_factory.mktemp("shipped_data")
    for relative, source in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).symlink_to(source)
    return root


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> Path:
    """MNIST's four official files as they ship in assets/mnist/ (md5-checked by tests/test_live.py), in the data
    directory's layout (vision/MNIST/raw/)."""
    shipped = ROOT / "assets" / "mnist"
    return shipped_as_data(tmp_path_factory, {f"vision/MNIST/raw/{p.name}": p for p in shipped.glob("*.gz")})


@pytest.fixture(scope="session")
def orl_dir(tmp_path_factory) -> Path:
    """ORL's 400 faces as they ship in assets/faces/orl.npz (the data folder's file, byte for byte: tests/test_faces.py),
    in the data directory's layout (vision/faces/orl.npz)."""
    return shipped_as_data(tmp_path_factory, {"vision/faces/orl.npz": ROOT / "assets" / "faces" / "orl.npz"})


@pytest.fixture(scope="session")
def cifar_dir() -> Path:
    return require("vision/cifar10/cifar10-jpeg.tar.gz")


@pytest.fixture(scope="session")
def app_url():
    """`streamlit run app.py` as a subprocess on a free port (harness.server); stopped at the end of the session."""
    log = ROOT / ".pytest_cache" / "streamlit.log" if (ROOT / ".pytest_cache").is_dir() else None
    port = free_port()
    try:
        server = start_server(port, log, timeout=60)
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(server)


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
    """harness.voices.espeak_wav: `text` spoken as 16 kHz WAV bytes; skips the test when espeak-ng is missing."""
    try:
        return voices.espeak_wav(text, voice, speed, lead, tail)
    except voices.EspeakMissing as error:
        pytest.skip(str(error))


def shipped_card(name: str, **fields) -> dict:
    """The shipped model card of `name` with some fields replaced: a valid card for a test checkpoint."""
    from models.common import read_card

    return {**read_card(name), **fields}


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
