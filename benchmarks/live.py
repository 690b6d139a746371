"""The live digit training as a server runs it: one training alone, two at once, a third waiting its turn; and
what one redraw of the page's training view costs.

    python -m benchmarks.live [--seconds 5]
    python -m benchmarks.live --targets [--seeds 3]   # the default preset at 5, 15, 30 s against the issue's targets

Accuracy against the clock for every preset is measured by `python -m train.live` (it goes into the card).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from app_pages.figures.live import digit_grid, learning_curves, weight_mosaic
from models import live


def together(trainings: live.Trainings, count: int, seconds: float) -> list[live.Run]:
    """Start `count` trainings at once and keep them seen until they end."""
    runs = [trainings.start(seconds, live.preset_config("default")) for _ in range(count)]
    waited = 0.0
    while any(run.active for run in runs):
        for run in runs:
            run.seen()
        if runs[-1].state == "waiting":
            waited += 0.05
        time.sleep(0.05)
    print(f"{count} started together ({trainings.slots} slots):")
    for i, run in enumerate(runs):
        r = run.result
        print(f"  run {i + 1}: {r.test_accuracy:.2%} after {r.seconds:.1f} s, {r.steps} steps, "
              f"{r.steps * run.config.batch_size / r.seconds:,.0f} examples/s")
    if count > trainings.slots:
        print(f"  the last waited {waited:.1f} s for a slot")
    return runs


def redraw_ms(data: live.Mnist, run: live.Run, repeats: int = 30) -> float:
    """Median milliseconds to build the training view's three figures and serialise them (what each refresh sends)."""
    images, truths = live.grid_digits(data)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        p = run.progress
        for fig in (learning_curves(run.curve, run.curve, run.seconds), weight_mosaic(p.weights, 32, 8, ""),
                    digit_grid(images, truths, p.grid_predictions)):
            fig.to_json()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


TARGETS = {5: 0.985, 15: 0.990, 30: 0.992}  # seconds of training -> accuracy on the 10,000 test digits


def targets(data: live.Mnist, seeds: int) -> None:
    """The default preset, fresh from random weights, for each budget and seed (one thread, as in the page):
    the median against its target."""
    for seconds, target in TARGETS.items():
        runs = [live.train_digits(seconds, seed=seed, data=data) for seed in range(seeds)]
        median = statistics.median(r.test_accuracy for r in runs)
        print(f"{seconds:3d} s: median {median:.2%} over {seeds} seeds ({', '.join(f'{r.test_accuracy:.2%}' for r in runs)}); "
              f"target {target:.1%}: {'met' if median >= target else 'MISSED'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--targets", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    data = live.read_mnist()
    if args.targets:
        targets(data, args.seeds)
        return
    trainings = live.Trainings(data)
    print(f"torch {torch.__version__}, {live.TRAINING_THREADS} thread per training, {args.seconds:g} s each")
    (alone,) = together(trainings, 1, args.seconds)
    together(trainings, trainings.slots + 1, args.seconds)
    print(f"one redraw of the training view: {redraw_ms(data, alone):.1f} ms (median of 30)")


if __name__ == "__main__":
    main()
