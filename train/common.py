"""Helpers shared by the training scripts: config -> argparse, data directory, seed, hardware, timing."""
from __future__ import annotations

import argparse
import dataclasses
import os
import time
import platform
import random
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.common import autocast, device_name


def default_data_dir() -> str:
    """--data-dir default: $DATA_DIR, else data/ (git-ignored), in the layout of ../shared/data."""
    return os.environ.get("DATA_DIR", "data")


def parse_config(cls, argv=None):
    """Turn a dataclass of training options into command-line flags (--field-name VALUE)."""
    parser = argparse.ArgumentParser(description=cls.__doc__)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            kind = {"int": int, "float": float, "str": str}.get(f.type if isinstance(f.type, str) else f.type.__name__, str)
            parser.add_argument(flag, type=kind, default=default)
    return cls(**vars(parser.parse_args(argv)))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_run(cfg) -> float:
    """Seed everything, set the thread count (cfg.threads, 0 = all cores); -> the start time."""
    start = time.time()
    seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return start


def alternative_dir(name: str, alternative: str) -> str:
    """Where an alternative recipe's weights go (git-ignored): they are measured, not shipped."""
    return str(Path("runs") / name / alternative)


def alternative_entry(meta: dict, alternative: str, note: str = "") -> dict:
    """A finished run's card -> its entry in the shipped card's "alternatives" (models.common.record_alternative):
    the command, hardware, minutes and metrics it measured."""
    training = meta["training"]
    return {"name": alternative, "command": training["command"], "hardware": training["hardware"],
            "minutes": round(training["total_seconds"] / 60, 1), "metrics": meta["metrics"],
            "parameters": meta["parameters"], "precision": training["precision"], "note": note}


def cnn_precision(device: torch.device) -> str:
    """What models.common.autocast gives the CNNs on `device` (their training and test arithmetic)."""
    return "bf16 autocast, channels_last" if device.type in ("cpu", "cuda") else "fp32, channels_last"


def hardware() -> str:
    """What the training ran on, for the model card."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        return device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {cpu}, {torch.get_num_threads()} threads"


def command_line(module: str) -> str:
    """The command that reproduces this run, e.g. `python -m train.digits --epochs 14`."""
    return " ".join(["python -m", module] + [shlex.quote(a) for a in sys.argv[1:]])


def training_record(module: str, cfg, seconds: float, process_start: float, precision: str) -> dict:
    """The checkpoint JSON's "training" entry: how to reproduce the run, how long it took, on what, and in which
    arithmetic (`precision`, as the script actually trained)."""
    return {
        "command": command_line(module),
        "seconds": round(seconds, 1),  # the training loop (epochs + per-epoch evaluation)
        "total_seconds": round(time.time() - process_start, 1),  # + reading and preprocessing the data
        "hardware": hardware(),
        "torch": torch.__version__,
        "precision": precision,
        "options": {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("data_dir", "out_dir")},
    }


@torch.no_grad()
def logits_on(model, x: torch.Tensor, device, batch_size: int = 1000, forward=None) -> torch.Tensor:
    """The CNN's outputs on images x, in eval mode, channels_last and bf16 autocast (as the page runs it) ->
    (N, outputs) float on the CPU. `forward(model, batch)` replaces `model(batch)` (test-time augmentation)."""
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device).contiguous(memory_format=torch.channels_last)
        with autocast(device):
            out.append((forward(model, xb) if forward else model(xb)).float().cpu())
    return torch.cat(out)


def evaluate(model, x: torch.Tensor, y: torch.Tensor, device, batch_size: int = 1000, forward=None) -> tuple[float, float]:
    """-> (mean cross-entropy, accuracy) of `model` on (x, y), measured on `logits_on`."""
    logits, y = logits_on(model, x, device, batch_size, forward), y.cpu()
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()
