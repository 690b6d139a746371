"""The room teaches the network: a copy of the digit network (models/digits.py) fine-tuned on half of the room's
labelled drawings, scored on the other half and on a fixed 2,000-digit MNIST test subset, before and after.

    result = fine_tune(images, labels)   # (N, 28, 28) uint8 as the page's network saw them, (N,) digits
    result.room_before, result.room_after, result.mnist_before, result.mnist_after, result.seconds

Each step's batch is the room's half plus as many MNIST training digits (replay), so the copy learns the room's
hands without forgetting MNIST; its batch-norm statistics stay frozen (a few dozen drawings are too few to
re-estimate them). One torch thread, bf16 autocast, a fixed number of steps: ~6 s for 100 drawings on one core of the
2-core machine (benchmarks/room_finetune.py). The shipped network is never changed.
"""
from __future__ import annotations

import copy
import functools
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from models import digits, live
from train.common import autocast

MIN_LABELLED = 20  # 10 to learn from, 10 to score on
MNIST_SUBSET = 2000
STEPS = 30
LEARNING_RATE = 3e-4
REPLAY = 64  # MNIST training digits in each step's batch
SEED = 0


@dataclass
class Result:
    trained_on: int
    scored_on: int
    room_before: float
    room_after: float
    mnist_before: float
    mnist_after: float
    seconds: float


def needed(labelled: int) -> int:
    """How many more labelled drawings a fine-tuning needs (0: enough)."""
    return max(0, MIN_LABELLED - labelled)


@functools.cache
def mnist_subset() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed 2,000 MNIST test digits (seeded) as (N, 1, 28, 28) in [0, 1], and the training digits to replay
    (uint8: 47 MB, not 188 as floats)."""
    data = live.read_mnist()
    pick = torch.randperm(len(data.y_test), generator=torch.Generator().manual_seed(42))[:MNIST_SUBSET]
    return _input(data.x_test[pick]), data.y_test[pick], data.x_train, data.y_train


def _input(images: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 1, 28, 28) in [0, 1], channels_last (as the network was trained)."""
    return images.float().div(255).unsqueeze(1).contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def accuracy(model, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with autocast(torch.device("cpu")):  # bf16, as the test set was measured: half the time of fp32 here
        hits = sum(int((model(x[i:i + 500]).float()[:, :10].argmax(1) == y[i:i + 500]).sum())
                   for i in range(0, len(x), 500))
    return hits / max(1, len(x))


@functools.lru_cache(maxsize=4)
def _mnist_before(model) -> float:
    """The unchanged network's score on the subset: the same for every room (0.8 s saved per fine-tuning)."""
    return accuracy(model, *mnist_subset()[:2])


def split(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed half of the room's drawings to learn from, the other half to score on (alternate, by order)."""
    order = np.random.default_rng(SEED).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])


def _shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each drawing moved by up to 2 pixels: a few dozen drawings, seen 30 times, must not be learned by heart."""
    dy, dx = (int(v) for v in torch.randint(-2, 3, (2,), generator=generator))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def fine_tune(images: np.ndarray, labels: np.ndarray, model=None, steps: int = STEPS) -> Result:
    """See the module's docstring. Raises ValueError with too few labelled drawings."""
    if needed(len(labels)):
        raise ValueError(f"{needed(len(labels))} more labelled drawings needed (at least {MIN_LABELLED})")
    torch.set_num_threads(1)
    started = time.perf_counter()
    x_mnist, y_mnist, x_replay, y_replay = mnist_subset()
    x_room = _input(torch.from_numpy(np.asarray(images, np.uint8)))
    y_room = torch.from_numpy(np.asarray(labels, np.int64))
    learn, score = split(len(y_room))
    shipped = model or digits.default_model()
    net = copy.deepcopy(shipped).cpu().float().to(memory_format=torch.channels_last)
    before = accuracy(net, x_room[score], y_room[score]), _mnist_before(shipped)
    generator = torch.Generator().manual_seed(SEED)
    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    for _ in range(steps):
        net.train()
        for module in net.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()
        replay = torch.randint(0, len(y_replay), (REPLAY,), generator=generator)
        x = torch.cat([_shift(x_room[learn], generator), _input(x_replay[replay])])
        y = torch.cat([y_room[learn], y_replay[replay]])
        with autocast(torch.device("cpu")):
            loss = F.cross_entropy(net(x)[:, :10].float(), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = accuracy(net, x_room[score], y_room[score]), accuracy(net, x_mnist, y_mnist)
    return Result(len(learn), len(score), before[0], after[0], before[1], after[1], time.perf_counter() - started)
