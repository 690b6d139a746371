"""The live page's digit networks: what each preset reaches after 5, 15, 30 and 60 s, and the shipped run.

Each measurement is a fresh models.live.train_digits run (random weights, the learning rate following its time
budget) on the MNIST copy that ships with the app (assets/mnist), scored on all 10,000 test digits; the clock
counts training only. Run it on an otherwise idle machine, with the thread count the page uses (1 per training).
The default preset's run at --seconds is saved as models/weights/live.* (what the page shows before a viewer
trains), and the table goes into its card.

    python -m train.live                      # about 8 min: 4 presets x (5 + 15 + 30 + 60 s), then the shipped run
    python -m train.live --dry-run            # 2 presets x 1 s, written to runs/live (not shipped)
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from models import live
from models.common import WEIGHTS_DIR, count_parameters, save_checkpoint
from train.common import parse_config, start_run, training_record

PROVENANCE = {
    "dataset": "MNIST (Y. LeCun, C. Cortes, C. J. C. Burges): 60,000 training + 10,000 test images",
    "files": "assets/mnist/*.gz: the four official IDX files, byte for byte (md5-verified by tests/test_live.py)",
    "license": "CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)",
    "url": "http://yann.lecun.com/exdb/mnist/",
}


@dataclass
class TrainConfig:
    """Measure the live page's presets against the clock and save the default preset's run."""
    seconds: float = 30.0  # the shipped run's training time
    budgets: str = "5,15,30,60"  # the times the table reports
    presets: str = ",".join(live.PRESETS)
    seeds: int = 1  # runs per cell: the table gives their median
    seed: int = 0
    threads: int = live.TRAINING_THREADS  # as in the page (0: all cores)
    out_dir: str = str(WEIGHTS_DIR)
    dry_run: bool = False


def measure(presets: list[str], budgets: list[float], seeds: int, data: live.Mnist) -> dict:
    """preset -> {seconds: {test_accuracy (median over seeds), steps, examples_per_second}}."""
    table = {}
    for preset in presets:
        table[preset] = {}
        for budget in budgets:
            runs = [live.train_digits(budget, preset, seed=seed, data=data, threads=None) for seed in range(seeds)]
            accuracy = statistics.median(r.test_accuracy for r in runs)
            steps = statistics.median(r.steps for r in runs)
            batch = live.PRESETS[preset].config.batch_size
            table[preset][f"{budget:g}"] = {"test_accuracy": round(accuracy, 5), "steps": int(steps),
                                           "examples_per_second": round(steps * batch / budget)}
            print(f"{preset:8s} {budget:5g} s: {accuracy:.2%} ({int(steps)} steps)", flush=True)
    return table


def train(cfg: TrainConfig) -> dict:
    process_start = start_run(cfg)
    if cfg.dry_run:
        cfg.budgets, cfg.presets, cfg.seconds = "1", "default,mlp", 1.0
        if cfg.out_dir == str(WEIGHTS_DIR):
            cfg.out_dir = "runs/live"
    data = live.read_mnist()
    table = measure(cfg.presets.split(","), [float(b) for b in cfg.budgets.split(",")], cfg.seeds, data)
    start = time.time()
    result = live.train_digits(cfg.seconds, "default", seed=cfg.seed, data=data, on_progress=lambda p: None,
                               threads=None)  # as start_run set them (--threads)
    seconds = time.time() - start
    default = live.PRESETS["default"]
    meta = {
        "name": live.NAME,
        "architecture": f"{default.title}: {default.about}; -> linear 10 (softmax)",
        "config": live.config_dict(result.config),
        "parameters": count_parameters(result.net),
        "presets": {name: {"title": p.title, "about": p.about, "config": live.config_dict(p.config),
                           "parameters": count_parameters(live.build(p.config))} for name, p in live.PRESETS.items()},
        "preprocessing": {"image_size": live.IMAGE_SIZE, "mean": live.digits.MNIST_MEAN,
                          "std": live.digits.MNIST_STD, "drawings": "models.digits.preprocess, as on the digit page"},
        "metrics": {
            "test_accuracy": round(result.test_accuracy, 5),
            "test_images": len(data.y_test),
            "train_images": len(data.y_train),
            "steps": result.steps,
            "seconds": round(result.seconds, 2),
            "by_preset": table,
            "seeds": cfg.seeds,
            "threads": torch.get_num_threads(),
            "evaluated_on": "all 10,000 official MNIST test digits, after the given seconds of training time "
                            "(evaluations not counted), each a fresh run from random weights",
        },
        "curve": [{"epoch": round(p["step"] * result.config.batch_size / len(data.y_train), 3), **p}
                  for p in result.curve],
        "training": training_record("train.live", cfg, seconds, process_start, "bf16 autocast, channels_last"),
        "data": PROVENANCE,
    }
    save_checkpoint(result.net, meta, live.NAME, cfg.out_dir)
    print(f"shipped run: {result.test_accuracy:.2%} after {result.seconds:.1f} s ({result.steps} steps)")
    return meta


if __name__ == "__main__":
    train(parse_config(TrainConfig))
