"""The Figure-1 playground (models/playground.py, Part 1 of the live page): medians of one training step at the
page's defaults, one full redraw (the views computed, every figure built and turned into the JSON that
st.plotly_chart sends), and the wall time for the "Spirals, 2×8 tanh" preset to reach 95 % test accuracy, as
the page runs it (frames of its steps per frame, each followed by a redraw) and training alone.

    python -m benchmarks.playground [--calls 200] [--runs 5]
"""
from __future__ import annotations

import time

import numpy as np
import plotly.io

from app_pages.figures import playground as figures
from app_pages.learning import playground as page
from benchmarks.common import latency_parser, report, timed
from models import playground as pg

SPIRALS = "Spirals, 2×8 tanh"


def redraw(net: pg.Network, data: pg.Dataset, previous: pg.HiddenSpace | None = None, point: int = 0) -> pg.HiddenSpace:
    """What one frame of the page computes after training: the views, every figure, and their JSON."""
    views = pg.plane_views(net)
    space = pg.hidden_space(net, data, previous=previous)
    x, t = data.x_train[point], int(data.t_train[point])
    trace, grads = pg.point_pass(net, x, t)
    figs = [
        figures.decision_regions(views, data, chosen=x),
        figures.hidden_space(space, data, len(net.config.hidden), net.config.hidden[-1], chosen=space.train[point]),
        figures.loss_curves(net.history),
        figures.network_diagram(net.config.sizes, net.W, trace, grads, t, "diagram"),
        figures.unit_map(views, 0, 0, net.config.activation, data),
        figures.unit_mosaic(views, net.config.activation, selected=(0, 0)),
    ]
    for fig in figs:
        plotly.io.to_json(fig, validate=False)
    return space


def time_to_accuracy(preset: pg.Preset, page_frames: bool, target: float = 0.95, limit_s: float = 60.0):
    """(seconds, steps, frames) until the test accuracy reaches `target` (seconds None if it never does): as the
    page does it (frames of the preset's steps per frame, or TRAIN_SECONDS of steps, each followed by a redraw),
    or (page_frames=False) training alone, checked every 50 steps."""
    data = pg.make_dataset(preset.dataset, preset.noise)
    net = pg.Network(preset.config)
    space, frames = None, 0
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        if not page_frames:
            net.train(data, 50)
        elif preset.steps_per_frame:
            net.train(data, preset.steps_per_frame)
        else:
            net.train_for(data, page.TRAIN_SECONDS)
        if page_frames:
            space = redraw(net, data, space)
        frames += 1
        if net.history[-1].test_accuracy >= target:
            return time.perf_counter() - start, net.steps, frames
    return None, net.steps, frames


def main() -> None:
    parser = latency_parser(__doc__, calls=200, warmup=10)
    parser.add_argument("--runs", type=int, default=5, help="runs of the time-to-95 %% measurement")
    args = parser.parse_args()

    data = pg.make_dataset(page.DEFAULT_DATASET, page.DEFAULT_NOISE)
    net = pg.Network(page.DEFAULT_CONFIG)
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(data.t_train), net.config.batch_size, replace=False) for _ in range(64)]
    ms = timed(lambda i: net.step(data.x_train[batches[i % 64]], data.t_train[batches[i % 64]]),
               args.calls * 10, args.warmup, busy=args.busy_thread)
    report(f"one training step at the page's defaults ({page.DEFAULT_DATASET}, {net.config}), "
           f"{args.calls * 10} calls", ms, args.busy_thread, decimals=3)

    net.train(data, 500)
    state = {"space": None}

    def frame(i):
        state["space"] = redraw(net, data, state["space"], point=i % 50)

    ms = timed(frame, args.calls, args.warmup, busy=args.busy_thread)
    report(f"one full redraw (views, 6 figures, their JSON) at the defaults, {args.calls} calls", ms, args.busy_thread)

    ms = timed(lambda i: (net.train(data, 1), frame(i)), args.calls, args.warmup, busy=args.busy_thread)
    report(f"one training step + one full redraw at the defaults, {args.calls} calls", ms, args.busy_thread)

    preset = pg.PRESETS[SPIRALS]
    for page_frames, what in ((True, "the server's side of the page (frames of training, each then redrawn)"),
                              (False, "training alone")):
        results = [time_to_accuracy(preset, page_frames) for _ in range(args.runs)]
        seconds = np.array([s for s, _, _ in results if s is not None])
        _, steps, frames = results[0]
        print(f"'{SPIRALS}' preset to 95 % test accuracy, {what}, {args.runs} runs:")
        if len(seconds) < len(results):
            print(f"{len(results) - len(seconds)} runs never got there")
        if len(seconds):
            print(f"median {np.median(seconds):.2f} s, max {seconds.max():.2f} s, at {steps:,} steps"
                  + (f" = {frames} frames of {preset.steps_per_frame} steps: in the page, at one frame every "
                     f"{page.RUN_EVERY_S} s at best, {frames * page.RUN_EVERY_S:.1f} s; at one frame a second "
                     f"(headless Chromium on the 2-core CPU), {frames:.0f} s" if page_frames else ""))


if __name__ == "__main__":
    main()
