"""The live digit training (models/live.py, Part 2 of the live page): the MNIST copy that ships, one preprocessing
for training batches and drawings, the schedule, train_digits' accuracy, the queue of trainings, the shipped run,
and the page (AppTest)."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.drawing import render
from models import digits, live
from models.common import card_problems, read_card, return_freed_memory


@pytest.fixture(scope="module")
def data() -> live.Mnist:
    return live.read_mnist()


@pytest.fixture(scope="module")
def trained(data) -> live.Result:
    """The CI run of the issue: the default preset for 3 s."""
    return live.train_digits(3, "default", seed=0, data=data)


def test_the_shipped_mnist_copy_is_the_official_files(data):
    for name, md5 in live.MNIST_MD5.items():
        assert hashlib.md5((live.ASSETS / name).read_bytes()).hexdigest() == md5, name
    assert sum((live.ASSETS / name).stat().st_size for name in live.MNIST_MD5) <= 12_000_000
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert data.x_train.dtype == torch.uint8 and data.y_train.dtype == torch.int64
    assert data.y_train[:5].tolist() == [5, 0, 4, 1, 9] and data.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(data.y_test.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert len(set(data.watch.tolist())) == live.WATCH_DIGITS and data.watch.max() < 10000
    readme = (live.ASSETS / "README.md").read_text()
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme


def test_training_batches_and_drawings_become_the_same_input(data, monkeypatch):
    """One preprocessing: the uint8 training images and the [0, 1] arrays digits.preprocess makes of a drawing
    give identical tensors; and a drawing reaches the live network exactly as the digit page's network sees it."""
    batch = data.x_test[:8]
    assert torch.equal(live.to_input(batch), live.to_input(batch.float() / 255))
    drawing = render(4, 60, 40, 180, 18)
    seen = {}
    net = live.build(live.Config())
    net[0].register_forward_pre_hook(lambda module, args: seen.update(x=args[0].clone()))
    live.read_drawing(net, drawing)
    assert torch.equal(seen["x"], live.to_input(digits.predict(drawing).input))


def test_the_learning_rate_follows_the_time_budget():
    cfg = live.Config(learning_rate=0.01, warmup=0.1)
    rates = [live.learning_rate(cfg, f) for f in np.linspace(0, 1, 101)]
    assert rates[0] == 0 and rates[10] == pytest.approx(0.01) and rates[-1] == pytest.approx(0, abs=1e-12)
    assert all(a <= b for a, b in zip(rates[:11], rates[1:11])) and all(a >= b for a, b in zip(rates[10:], rates[11:]))


def test_three_seconds_of_training_read_97_percent_of_the_test_digits(trained, data):
    assert trained.test_accuracy >= 0.97, trained.test_accuracy
    assert trained.steps > 20 and 3.0 <= trained.seconds < 3.5 and not trained.stopped
    # all 10,000: the same number recomputed
    assert live.accuracy(trained.net, data.x_test, data.y_test) == pytest.approx(trained.test_accuracy)


def test_the_trained_network_reads_a_drawing_through_the_digit_pages_preprocessing(trained, data):
    from PIL import Image
    readings = [live.read_drawing(trained.net, Image.fromarray(data.x_test[i].numpy())) for i in range(20)]
    right = sum(r.digit == data.y_test[i].item() for i, r in enumerate(readings))
    assert right >= 18
    assert all(r.probabilities.shape == (10,) and abs(r.probabilities.sum() - 1) < 1e-4 for r in readings)
    with pytest.raises(digits.EmptyImageError):
        live.read_drawing(trained.net, np.zeros((280, 280), np.uint8))
    with pytest.raises(digits.UnreadableImageError):
        live.read_png(trained.net, b"not a png")


class StepClock:
    """models.live's clock in a test: every training step lasts `per_step` seconds (the time between a step's two
    reads; the time between steps is not counted), so a budget of seconds is a number of steps whatever else the
    machine runs. On the real clock the test's 1.2 s gave the wide preset 12 steps and 42 % beside another process,
    26 steps and 86 % alone: no bound within a few points of either holds."""

    def __init__(self, per_step: float):
        self.now, self.per_step = 0.0, per_step

    def perf_counter(self) -> float:
        self.now += self.per_step
        return self.now

    def __getattr__(self, name):
        import time

        return getattr(time, name)


# preset: (steps in its 1.2 s budget, about what one thread of a 2-core CPU makes; the least accuracy on the 10,000
# test digits). Measured with seed 0, one thread (09:00 UTC, 2026-12-05, the same in two runs): default 95.38 %,
# lenet 94.46 %, mlp 95.64 %, wide 70.92 %; each bound 2 points below.
LEARNS = {"default": (40, 0.934), "lenet": (50, 0.925), "mlp": (400, 0.936), "wide": (16, 0.69)}


def test_progress_reports_and_every_preset_learns(data, monkeypatch):
    reports = []
    assert set(LEARNS) == set(live.PRESETS)
    for preset, (steps, least) in LEARNS.items():
        monkeypatch.setattr(live, "time", StepClock(1.2 / steps * (1 + 1e-9)))  # the last step ends at 1.2 s
        result = live.train_digits(1.2, preset, data=data, on_progress=reports.append)
        assert result.steps == steps and result.test_accuracy >= least, (preset, result.test_accuracy, result.steps)
        assert result.curve and result.curve[-1]["step"] == result.steps
    last = reports[-1]
    assert last.grid_predictions.shape == (live.GRID_DIGITS,) and last.weights.ndim == 3
    assert 0 < last.watch_accuracy <= 1 and last.examples_per_second > 0


def test_at_most_two_trainings_run_at_once_and_the_next_waits_its_turn(data):
    trainings = live.Trainings(data, slots=2)
    cfg = live.preset_config("default", 0.5)
    runs = [trainings.start(1.5, cfg) for _ in range(3)]
    deadline = time.monotonic() + 30
    while runs[2].state != "training" and time.monotonic() < deadline:
        for run in runs:
            run.seen()
        if runs[0].state == "training" and runs[1].state == "training":
            assert runs[2].state == "waiting" and runs[2].position() == 1
            assert trainings.counts() == (2, 1)
        time.sleep(0.05)
    assert all(run.wait(30) for run in runs)
    assert [run.state for run in runs] == ["done"] * 3, [run.error for run in runs]
    assert trainings.counts() == (0, 0)


def test_a_training_stops_when_asked_and_when_its_viewer_leaves(data, monkeypatch):
    trainings = live.Trainings(data, slots=1)
    cfg = live.preset_config("default", 0.5)
    stopped = trainings.start(30, cfg)
    time.sleep(0.5)
    stopped.stop()
    assert stopped.wait(10) and stopped.state == "stopped" and stopped.result.stopped
    monkeypatch.setattr(live, "LEAVE_AFTER", 0.5)
    left = trainings.start(30, cfg)  # nobody calls seen(): its viewer has gone
    assert left.wait(10) and left.state == "stopped" and left.result.seconds < 5
    first, queued = trainings.start(2, cfg), trainings.start(2, cfg)  # the second leaves while waiting
    while first.state != "done":
        first.seen()
        time.sleep(0.05)
    assert queued.wait(10) and queued.state == "stopped" and queued.result is None
    assert trainings.counts() == (0, 0)


def rss_mb() -> float:
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("needs /proc/self/status (Linux) to read the process's memory")
    return next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmRSS:")) / 1024


def test_a_finished_training_hands_its_memory_back(data):
    """A training's thread frees its network and batches when it ends, but glibc keeps that memory in the
    thread's arena unless trimmed: measured ~125 MB more per server after one run (CI's session test saw
    RSS swing by 100 MB from one training to the next). The run trims when it ends: a second trim then
    finds next to nothing left to hand back."""
    import gc

    gc.collect()  # what earlier tests left for the collector is freed now, not during the measurement below
    if not return_freed_memory():
        pytest.skip("malloc_trim is glibc's: nothing to hand back on this system")
    trainings = live.Trainings(data, slots=1)
    run = trainings.start(2, live.preset_config("default"))
    assert run.wait(30) and run.state == "done", run.error
    before = rss_mb()
    return_freed_memory()
    assert before - rss_mb() < 25, f"{before - rss_mb():.0f} MB was still to hand back after the run ended"


def test_the_shipped_run_reproduces_its_card(data):
    reference, meta = live.load()
    assert card_problems(meta, live.NAME) == []
    assert live.accuracy(reference.net, data.x_test, data.y_test) == pytest.approx(meta["metrics"]["test_accuracy"],
                                                                                   abs=5e-4)
    table = meta["metrics"]["by_preset"]
    assert set(table) == set(live.PRESETS) and all(set(row) == {"5", "15", "30", "60"} for row in table.values())


def test_the_training_script_writes_a_valid_card(tmp_path):
    from train.live import TrainConfig, train
    meta = train(TrainConfig(dry_run=True, out_dir=str(tmp_path)))
    written = read_card(live.NAME, tmp_path)
    assert written == json.loads(json.dumps(meta)) and card_problems(written, live.NAME) == []
    reference, loaded = live.load(tmp_path)
    assert loaded["metrics"]["test_accuracy"] == meta["metrics"]["test_accuracy"]


# ---------------------------------------------------------------- the page (AppTest)


def live_page():
    from test_app import app
    at = app()
    at.switch_page("app_pages/live.py").run()
    at.segmented_control(key="part").set_value("Train a digit network").run()
    assert not at.exception
    return at


def wait_for_the_end(at, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while at.session_state["live_run"].active and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()  # the page asking for news, as its fragment does every 0.5 s
        assert not at.exception
    at.run()


def metric(at, start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(start))


def test_page_trains_streams_and_compares_with_the_shipped_network():
    from test_app import canvas_state
    at = live_page()
    assert "Press **Start**" in at.info[0].value
    at.select_slider(key="live_budget").set_value(5)
    next(b for b in at.button if b.label == "Start").click().run()
    assert at.session_state["live_run"].active
    assert next(b for b in at.button if b.label == "Start").disabled
    seen = []
    deadline = time.monotonic() + 60
    while at.session_state["live_run"].active and time.monotonic() < deadline:
        time.sleep(0.4)
        at.run()
        if at.metric:
            seen.append(float(metric(at, "Test accuracy").rstrip("%")))
    assert len(seen) >= 3 and seen[-1] > seen[0], seen  # it streamed, and learned
    at.run()
    assert float(metric(at, "Test accuracy (all 10,000)").rstrip("%")) >= 95
    assert "Draw a digit: your network against the shipped one" in [s.value for s in at.subheader]
    version = at.session_state["live_canvas"]
    at.session_state[f"live_canvas_{version}"] = canvas_state(render(7, 60, 40, 180, 18))
    at.run()
    answers = [m.value for m in at.markdown if m.value.startswith("#### ")]
    assert len(answers) == 2 and all("7" in a for a in answers), answers


def test_a_lost_rerun_at_the_end_of_a_training_is_asked_for_again():
    """When the run ends while the page refreshes its progress, the refresh asks for the whole page (controls,
    comparison). That request can be lost; the flag it depends on used to be cleared before asking, and the page
    then stayed on the progress without the comparison (the Chromium test's Stop failed so in CI). Now every
    refresh asks until the whole page has run and set the flag again."""
    from app_pages.learning import live_digits

    class Ended:
        active = False

    class Training:
        active = True

    state = {"live_refreshing": True}
    assert live_digits.ended_while_refreshing(Ended(), state)
    assert state == {"live_refreshing": True}  # not consumed: if that rerun is lost, the next refresh asks again
    assert live_digits.ended_while_refreshing(Ended(), state)
    assert not live_digits.ended_while_refreshing(Training(), state) and not live_digits.ended_while_refreshing(None, state)
    assert not live_digits.ended_while_refreshing(Ended(), {"live_refreshing": False})  # the whole page ran: done


def test_start_with_no_width_selected_trains_the_normal_width():
    """Width is required (a click on the selected option keeps it); a session whose value was cleared anyway still
    starts a training of the normal width, where it used to end the page with a KeyError."""
    at = live_page()
    at.segmented_control(key="live_width").set_value(None).run()
    at.select_slider(key="live_budget").set_value(5)
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception
    assert at.session_state["live_run"].active
    next(b for b in at.button if b.label == "Stop").click().run()
    wait_for_the_end(at)
    assert not at.exception


def test_a_stopped_run_shows_its_own_totals():
    """Stopped between two progress reports: the metrics give the run's own time and steps, as the comparison text
    under them does (they showed the last report's: "5.1 s, 203 steps" above "5.6 s of training (219 steps)")."""
    at = live_page()
    at.select_slider(key="live_budget").set_value(15)
    next(b for b in at.button if b.label == "Start").click().run()
    deadline = time.monotonic() + 30
    while (at.session_state["live_run"].progress is None or at.session_state["live_run"].progress.seconds < 1.2) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    time.sleep(0.3)  # between two reports (every 0.5 s)
    next(b for b in at.button if b.label == "Stop").click().run()
    while at.session_state["live_run"].active and time.monotonic() < deadline:
        time.sleep(0.1)
        at.run()
    run = at.session_state["live_run"]
    assert run.state == "stopped"
    # Steps after the last report are the usual case (a report every 0.5 s; here the timing is the test's): make
    # the last report older than the end, as a stop between two reports leaves it.
    run.progress = replace(run.progress, step=run.result.steps - 16, seconds=run.result.seconds - 0.5)
    at.run()
    assert metric(at, "Steps") == f"{run.result.steps:,}"
    assert metric(at, "Training time").startswith(f"{run.result.seconds:.1f} /")
    assert any(f"({run.result.steps:,} steps)" in m.value for m in at.markdown)


def test_page_says_when_a_training_waits_for_a_free_slot_and_starts_it_when_one_frees():
    from models.common import shared
    at = live_page()
    trainings = shared(live.NAME).model.trainings  # the server's queue, which the page's sessions share
    others = [trainings.start(30, live.preset_config("default", 0.5)) for _ in range(trainings.slots)]
    try:
        while not all(run.state == "training" for run in others):
            time.sleep(0.05)
        next(b for b in at.button if b.label == "Start").click().run()
        text = " ".join(w.value for w in at.warning)
        assert f"{trainings.slots} trainings are running" in text and "You are **1st in line**" in text, text
        assert at.session_state["live_run"].state == "waiting"
    finally:
        for run in others:
            run.stop()
    deadline = time.monotonic() + 20
    while at.session_state["live_run"].state == "waiting" and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    assert at.session_state["live_run"].state in ("training", "done")
    next(b for b in at.button if b.label == "Stop").click().run()
    assert at.session_state["live_run"].wait(10)  # a thread still in torch at the interpreter's exit aborts it
