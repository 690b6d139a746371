"""Part 2 of the live page: a digit network trained in the page, then compared with the shipped one on a drawing."""
from __future__ import annotations

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages.figures.live import digit_grid, learning_curves, weight_mosaic
from models import digits, live
from ui.charts import article, probability_bars
from ui.loading import load_model
from ui import room, share
from ui.presenter import explain

BUDGETS = [5, 10, 15, 30, 60]  # seconds of training a viewer can ask for (live.MAX_SECONDS at most)
RATES = [5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2]
REFRESH = 0.5  # seconds between two redraws while training or waiting
CANVAS_SIZE = 280  # as on the digit page (harness.browser.draw_digit draws on it too)
WEIGHTS_SHOWN = 32
DEFAULT_BUDGET = 15


# The URL's state (ui/share.py; app_pages/live.py's View holds these): ?net=lenet&width=wide&dlr=0.004&seconds=30
# (dlr: Part 1 has its own learning rate, lr).
def _linked_net(name: str | None) -> None:
    st.session_state.live_preset = name or "default"
    st.session_state.live_rate = live.PRESETS[st.session_state.live_preset].config.learning_rate


def _linked_rate(rate: float | None) -> None:
    if rate is not None:  # absent: the network's own (set just before)
        st.session_state.live_rate = rate


SHARE = [
    share.Param("net", None, share.one_of(list(live.PRESETS)), default="default", apply=_linked_net,
                read=lambda: st.session_state.get("live_preset")),
    share.Param("width", "live_width", share.one_of(list(live.WIDTHS)), default="normal"),
    share.Param("dlr", "live_rate", share.one_of(RATES, lambda r: f"{r:g}"), write=lambda r: f"{r:g}",
                default=lambda: live.PRESETS[st.session_state.get("live_preset", "default")].config.learning_rate,
                apply=_linked_rate),
    share.Param("seconds", "live_budget", share.one_of(BUDGETS), default=DEFAULT_BUDGET),
]


def _start(reference: live.Reference) -> None:
    """Start (queue) a training with the controls' settings; a running one of this viewer stops first."""
    state = st.session_state
    if (old := state.get("live_run")) is not None:
        old.stop()
    cfg = live.preset_config(state.live_preset, live.WIDTHS[state.live_width or "normal"], state.live_rate)
    state.live_runs = state.get("live_runs", 0) + 1
    state.live_run = reference.trainings.start(state.live_budget, cfg, seed=state.live_runs)
    state.live_canvas = state.get("live_canvas", 0) + 1  # a new network: a fresh canvas


def _stop() -> None:
    if (run := st.session_state.get("live_run")) is not None:
        run.stop()


def _on_preset() -> None:
    st.session_state.live_rate = live.PRESETS[st.session_state.live_preset].config.learning_rate


def _controls(reference: live.Reference, busy: bool) -> None:
    st.session_state.setdefault("live_preset", "default")
    st.session_state.setdefault("live_rate", live.PRESETS["default"].config.learning_rate)
    st.session_state.setdefault("live_width", "normal")
    st.session_state.setdefault("live_budget", DEFAULT_BUDGET)
    left, middle, right = st.columns([1.3, 1, 1])
    left.selectbox("Network", list(live.PRESETS), format_func=lambda p: live.PRESETS[p].title, key="live_preset",
                   on_change=_on_preset, disabled=busy)
    left.caption(live.PRESETS[st.session_state.live_preset].about)
    middle.segmented_control("Width", list(live.WIDTHS), key="live_width", disabled=busy, required=True)
    middle.select_slider("Peak learning rate (Adam)", RATES, key="live_rate", format_func=lambda r: f"{r:g}",
                         disabled=busy)
    right.select_slider("Train for (seconds)", BUDGETS, key="live_budget", disabled=busy)
    start, stop = right.columns(2)
    start.button("Start", icon=":material/play_arrow:", type="primary", on_click=_start, args=(reference,),
                 disabled=busy, use_container_width=True)
    stop.button("Stop", icon=":material/stop:", on_click=_stop, disabled=not busy, use_container_width=True)


def _status(run: live.Run | None, trainings: live.Trainings) -> None:
    if run is None:
        st.info("Press **Start**: a network with random weights starts learning from MNIST's 60,000 training "
                "digits. Below, what our own 30-second run learned.", icon=":material/play_arrow:")
    elif run.state == "waiting":
        running, _ = trainings.counts()
        st.warning(f"**{running} trainings are running** (at most {trainings.slots} at once on this server); "
                   f"yours starts when one ends. You are **{_ordinal(run.position())} in line**.",
                   icon=":material/hourglass_top:")
    elif run.state == "failed":
        st.error(f"The training failed: {run.error}", icon=":material/error:")
    elif run.progress is None:
        st.info("Starting…", icon=":material/hourglass_top:")
    else:
        p, done = run.progress, run.result
        columns = st.columns(4)  # when it has ended: the run's own totals (the last report is up to 0.5 s older)
        columns[0].metric("Training time", f"{done.seconds if done else p.seconds:.1f} / {run.seconds:g} s")
        columns[1].metric("Steps (batches of 128)", f"{done.steps if done else p.step:,}")
        columns[2].metric("Examples per second", f"{p.examples_per_second:,.0f}")
        label = "Test accuracy (all 10,000)" if run.result else "Test accuracy (1,000 digits)"
        value = run.result.test_accuracy if run.result else p.watch_accuracy
        columns[3].metric(label, f"{value:.2%}")
        if run.state == "stopped":
            st.caption("Stopped before its time budget; the learning rate had not come down yet.")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def ended_while_refreshing(run: live.Run | None, state) -> bool:
    """Has the run ended while the page was refreshing its progress? Then the whole page must run again. Asked at
    every refresh until the whole page has run (it sets live_refreshing again): a rerun asked from a refreshing
    fragment can be lost (an auto-refresh arriving with it), and when the flag was cleared before asking, the page
    stayed on the last progress forever, without the comparison (CI, 1 run in about 6)."""
    return run is not None and not run.active and bool(state.get("live_refreshing"))


def _progress(reference: live.Reference, meta: dict) -> None:
    """The run's numbers and pictures; redrawn every REFRESH s while it trains (a fragment: only this part)."""
    run = st.session_state.get("live_run")
    if run is not None:
        run.seen()  # the viewer is still here: without this the run stops after live.LEAVE_AFTER s
    if ended_while_refreshing(run, st.session_state):
        st.rerun()  # the whole page: the controls come back, the comparison appears, refreshing ends
    _status(run, reference.trainings)
    progress = run.progress if run is not None else None
    budget = run.seconds if run is not None else st.session_state.live_budget
    st.plotly_chart(learning_curves(run.curve if run is not None else [], meta["curve"], budget), key="live_curves")
    images, truths = live.grid_digits(reference.data)
    if progress is not None:
        weights, predictions = progress.weights, progress.grid_predictions
        if run.result is not None:  # the final network, not the last report's
            weights, predictions = live.weight_images(run.result.net), live.grid_predictions(run.result.net,
                                                                                            reference.data)
        whose = "your network"
    else:
        weights, predictions = live.weight_images(reference.net), live.grid_predictions(reference.net, reference.data)
        whose = "our 30 s run"
    left, right = st.columns([1, 1.4])
    kind = "unit" if weights.shape[1] == live.IMAGE_SIZE else "filter"
    left.markdown(f"**First-layer weights of {whose}:** one {kind} each (red +, blue −)")
    left.plotly_chart(weight_mosaic(weights, WEIGHTS_SHOWN, 8, ""), key="live_weights")
    wrong = int((predictions != truths).sum())
    right.markdown(f"**{len(truths)} test digits, read by {whose}:** {wrong} wrong (red)")
    right.plotly_chart(digit_grid(images, truths, predictions), key="live_grid")


def _answer(column, title: str, reading) -> None:
    """One network's answer to the drawing: the headline says "not sure" below the confidence threshold."""
    with column:
        st.markdown(f"**{title}**")
        not_digit = getattr(reading, "not_digit", False)
        if not_digit:
            st.markdown("#### That doesn't look like a digit")
        elif reading.sure:
            st.markdown(f"#### It's {article(reading.digit)} {reading.digit} ({reading.confidence:.0%} sure)")
        else:
            st.markdown(f"#### Not sure (best guess {reading.digit}, {reading.confidence:.0%})")
        winner = reading.digit if reading.sure and not not_digit else None
        st.plotly_chart(probability_bars(digits.CLASSES, reading.probabilities, winner, ""),
                        key=f"bars_{title[:4]}")


def _compare(result: live.Result) -> None:
    shipped, shipped_meta = load_model(digits.NAME)
    st.subheader("Draw a digit: your network against the shipped one")
    explain(
        f"Your network read **{result.test_accuracy:.2%}** of the 10,000 test digits right after "
        f"**{result.seconds:.1f} s** of training ({result.steps:,} steps). The digit page's network trained for "
        f"{shipped_meta['training']['seconds'] / 60:.0f} minutes on distorted digits and scores "
        f"{shipped_meta['metrics']['test_accuracy']:.2%}. Your drawing goes through the same preprocessing "
        "for both (cropped, scaled into 20×20, centred by its centre of mass, as MNIST was made)."
    )
    left, right, shipped_column = st.columns([1, 1.2, 1.2], gap="medium")
    with left:
        canvas = st_canvas(stroke_width=16, stroke_color="#FFFFFF", background_color="#000000", width=CANVAS_SIZE,
                           height=CANVAS_SIZE, drawing_mode="freedraw", return_image_data=True,
                           key=f"live_canvas_{st.session_state.get('live_canvas', 0)}")
    drawing = canvas.image_bytes
    if drawing is None:
        right.info("Draw a digit on the black square.", icon=":material/draw:")
        return
    try:
        mine, theirs = live.read_png(result.net, drawing), digits.predict_png(drawing, shipped)
    except digits.EmptyImageError:
        right.info("Draw a digit on the black square.", icon=":material/draw:")
        return
    except ValueError:
        right.warning("Can't read this drawing: draw again.", icon=":material/broken_image:")
        return
    _answer(right, "Your network", mine)
    _answer(shipped_column, "The digit page's network", theirs)


def render() -> None:
    reference, meta = load_model(live.NAME)
    st.subheader("Train a digit network, live")
    explain(
        "Pick a network and press **Start**. It begins with random weights; every step shows it 128 of MNIST's "
        "60,000 training digits, **backpropagation** computes how each weight should change to reduce the error, "
        "and the optimiser (Adam) takes a small step. The learning rate rises, then falls to zero as the time "
        "runs out. Watch the first layer's weights turn from noise into stroke detectors, and the test digits "
        "turn green. Then draw a digit and compare your network with the one the digit page ships."
    )
    run = st.session_state.get("live_run")
    busy = run is not None and run.active
    _controls(reference, busy)
    st.session_state.live_refreshing = busy
    st.fragment(run_every=REFRESH if busy else None)(_progress)(reference, meta)
    if run is not None and not busy and run.result is not None:
        room.live(run.result)  # in a room (?room=CODE): network, seconds, accuracy, for its leaderboard
        _compare(run.result)
