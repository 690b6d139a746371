"""Train a digit network, live: a small network learns MNIST in the page, in seconds, with backpropagation.

Read top to bottom: constants, the MNIST copy that ships with the app, the presets and their `Config`, the
networks, preprocessing (shared by training and the drawing), the training loop `train_digits`, and what the
page shows of a network (first-layer weights, a grid of test digits, a drawing read by it).

    assets/mnist/*.gz (the four official MNIST files, 11.6 MB, read once per server)
      -> uint8 (60,000 + 10,000, 28, 28)
      -> to_input: /255, MNIST's mean and std, (N, 1, 28, 28) channels_last     <- a drawing: digits.preprocess
      -> a preset's network (small CNN / LeNet-style / MLP), from random weights
      -> Adam, batch 128, bf16 autocast; the learning rate follows the time budget (warm up, cosine down to 0)
      -> every ~0.5 s of training: the loss, accuracy on 1,000 test digits, a snapshot for the page
      -> at the end: accuracy on all 10,000 test digits

The shipped checkpoint (models/weights/live.*) is one such run, the default preset for 30 s: what the page shows
before a viewer trains their own, with every preset's accuracy after 5, 15, 30 and 60 s on its card.
"""
from __future__ import annotations

import gzip
import io
import math
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from models import digits
from models.common import Loaded, autocast, load_checkpoint, return_freed_memory, shared

NAME = "live"
ASSETS = Path(__file__).resolve().parent.parent / "assets" / "mnist"
# The four official MNIST files, byte for byte (their MD5s are the official ones; tests/test_live.py checks).
MNIST_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
               "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
MNIST_MD5 = {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
             "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
             "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
             "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
IMAGE_SIZE = digits.IMAGE_SIZE  # 28

MAX_SECONDS = 60.0  # the longest training the page allows (a time cap: training is the heaviest thing the app does)
PROGRESS_EVERY = 0.5  # seconds of training between two progress reports
WATCH_DIGITS = 1000  # the test digits scored during training (all 10,000 at the end)
GRID_DIGITS = 40  # of those, the first ones: the page's grid of test digits with their current predictions
EVAL_BATCH = 1000
TRAINING_THREADS = 1  # torch threads per training (see train_digits): two trainings fill a 2-core machine


# ---------------------------------------------------------------- the data that ships with the app


@dataclass(frozen=True)
class Mnist:
    x_train: torch.Tensor  # (60000, 28, 28) uint8, 0 = background, 255 = ink
    y_train: torch.Tensor  # (60000,) int64 digits
    x_test: torch.Tensor  # (10000, 28, 28) uint8
    y_test: torch.Tensor  # (10000,) int64
    watch: torch.Tensor  # (WATCH_DIGITS,) indices into the test set: a fixed random sample scored while training


def _idx(path: Path, header: int) -> np.ndarray:
    """An IDX file's payload (after its header of `header` bytes) as uint8."""
    return np.frombuffer(gzip.decompress(path.read_bytes()), np.uint8, offset=header)


def read_mnist(folder: Path | str = ASSETS) -> Mnist:
    """The four official MNIST files -> uint8 tensors (about 55 MB in memory, 0.3 s)."""
    folder = Path(folder)
    arrays = {}
    for split, (images, labels) in MNIST_FILES.items():
        arrays[split] = (torch.from_numpy(_idx(folder / images, 16).reshape(-1, IMAGE_SIZE, IMAGE_SIZE).copy()),
                         torch.from_numpy(_idx(folder / labels, 8).astype(np.int64)))
    watch = torch.randperm(len(arrays["test"][1]), generator=torch.Generator().manual_seed(0))[:WATCH_DIGITS]
    return Mnist(*arrays["train"], *arrays["test"], watch=watch.sort().values)


# ---------------------------------------------------------------- presets and config


@dataclass
class Config:
    kind: str = "cnn"  # cnn (3x3 conv blocks with batch norm), lenet (5x5 convs, as LeCun et al. 1998), mlp
    widths: tuple[int, ...] = (16, 32, 64)  # cnn/lenet: feature maps per conv layer; mlp: units per hidden layer
    learning_rate: float = 8e-3  # the peak of the schedule
    batch_size: int = 128
    warmup: float = 0.1  # fraction of the time budget spent raising the learning rate from 0


@dataclass(frozen=True)
class Preset:
    title: str
    config: Config
    about: str


PRESETS = {
    "default": Preset("Small CNN", Config(), "three 3×3 convolutional layers (16, 32, 64 maps) with batch "
                      "normalisation and pooling: the fastest to learn here"),
    "lenet": Preset("LeNet-style CNN", Config("lenet", (16, 32)), "two 5×5 convolutional layers with pooling, "
                    "as in LeCun et al. 1998: its first-layer filters are big enough to see"),
    "mlp": Preset("Multilayer perceptron", Config("mlp", (256,), learning_rate=2e-3),
                  "no convolutions: every pixel connects to every one of 256 hidden units; each unit's weights "
                  "form a 28×28 image"),
    "wide": Preset("Wider CNN", Config("cnn", (32, 64, 128)), "the small CNN with twice the maps: four times the "
                   "work per step, so it sees a quarter as many digits in the same seconds (and, here, doesn't "
                   "catch up within a minute)"),
}
WIDTHS = {"narrow": 0.5, "normal": 1.0, "wide": 2.0}  # the page's width choice: a factor on a preset's widths


def preset_config(preset: str = "default", width: float = 1.0, learning_rate: float | None = None) -> Config:
    """A preset's Config, its widths scaled by `width`, with another peak learning rate if given."""
    cfg = PRESETS[preset].config
    widths = tuple(max(2, round(w * width)) for w in cfg.widths)
    return replace(cfg, widths=widths, learning_rate=learning_rate or cfg.learning_rate)


# ---------------------------------------------------------------- the networks


def _conv(c_in: int, c_out: int, size: int, norm: bool) -> list[nn.Module]:
    layers = [nn.Conv2d(c_in, c_out, size, padding=size // 2, bias=not norm)]
    return layers + ([nn.BatchNorm2d(c_out)] if norm else []) + [nn.ReLU(inplace=True), nn.MaxPool2d(2)]


def build(cfg: Config) -> nn.Sequential:
    """A fresh network with random weights: (B, 1, 28, 28) normalised -> 10 logits. Its first module holds the
    first-layer weights the page draws."""
    if cfg.kind == "mlp":  # (B, 784) -> hidden layers -> 10
        sizes = (IMAGE_SIZE * IMAGE_SIZE, *cfg.widths)
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
        return nn.Sequential(*layers, nn.Linear(sizes[-1], 10))
    size, norm = (3, True) if cfg.kind == "cnn" else (5, False)
    layers, side, c_in = [], IMAGE_SIZE, 1
    for width in cfg.widths:  # each conv layer pools: 28 -> 14 -> 7 -> 3
        layers += _conv(c_in, width, size, norm)
        side, c_in = side // 2, width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * side * side, 10))


def first_layer(net: nn.Sequential) -> nn.Module:
    return next(m for m in net if isinstance(m, (nn.Conv2d, nn.Linear)))


# ---------------------------------------------------------------- preprocessing (one definition)


def to_input(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(N, 28, 28) or (28, 28) images in [0, 1] (floats) or 0..255 (uint8) -> the networks' input (N, 1, 28, 28):
    normalised with MNIST's mean and std, channels_last. Training batches and drawings (digits.preprocess's
    output) both go through here."""
    x = torch.as_tensor(images)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    x = (x.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE) - digits.MNIST_MEAN) / digits.MNIST_STD
    return x.contiguous(memory_format=torch.channels_last)


def learning_rate(cfg: Config, fraction: float) -> float:
    """The learning rate after `fraction` of the time budget: linear warm-up, then a cosine down to 0 at the end
    (a schedule that follows the time, not the steps: the budget is in seconds)."""
    if fraction < cfg.warmup:
        return cfg.learning_rate * fraction / cfg.warmup
    done = min(1.0, (fraction - cfg.warmup) / (1 - cfg.warmup))
    return cfg.learning_rate * 0.5 * (1 + math.cos(math.pi * done))


# ---------------------------------------------------------------- training


@dataclass
class Progress:
    """A snapshot while training: what the page draws."""
    step: int
    seconds: float  # training time so far (the evaluations excluded)
    examples_per_second: float
    train_loss: float  # mean over the last report's steps
    watch_accuracy: float  # on the WATCH_DIGITS test digits
    grid_predictions: np.ndarray  # (GRID_DIGITS,) the network's digit for each of the grid's test digits
    weights: np.ndarray  # first layer: (units, h, w) images


@dataclass
class Result:
    net: nn.Sequential  # eval mode, on the CPU
    config: Config
    test_accuracy: float  # all 10,000 test digits
    steps: int
    seconds: float
    stopped: bool  # stopped before the time budget (by its viewer)
    curve: list[dict] = field(default_factory=list)  # one point per progress report


@torch.inference_mode()
def scores(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> logits (N, 10), in batches, in the arithmetic of training (bf16 autocast)."""
    was_training = net.training
    net.eval()
    with autocast(torch.device("cpu")):
        out = torch.cat([net(to_input(x[i : i + EVAL_BATCH])).float() for i in range(0, len(x), EVAL_BATCH)])
    net.train(was_training)
    return out


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return (scores(net, x).argmax(1) == y).float().mean().item()


def weight_images(net: nn.Sequential) -> np.ndarray:
    """The first layer's weights as images: (maps, k, k) for a CNN, (units, 28, 28) for an MLP."""
    w = first_layer(net).weight.detach().float()
    return (w[:, 0] if w.ndim == 4 else w.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)).numpy().copy()


def train_digits(seconds: float, preset: str = "default", seed: int = 0, on_progress: Callable | None = None,
                 data: Mnist | None = None, config: Config | None = None,
                 should_stop: Callable[[], bool] | None = None, threads: int | None = TRAINING_THREADS) -> Result:
    """Train a preset's network from random weights for `seconds` of training time (the evaluations on the
    watched test digits not counted) and score it on all 10,000 test digits. `on_progress(Progress)` is called
    every PROGRESS_EVERY s; `should_stop()` ends it early. `threads`: torch's threads meanwhile (None: as they
    are). One by default, as the page trains: on 2 cores, two threads lose more to waiting for each other
    whenever anything else runs (a step took 0.5 s instead of 20 ms next to a browser) than they gain."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode(False), torch.enable_grad():  # whatever mode the caller is in: this learns
            return _train(seconds, preset, seed, on_progress, data, config, should_stop)
    finally:
        torch.set_num_threads(before)


def _train(seconds, preset, seed, on_progress, data, config, should_stop) -> Result:
    data = data or default_model().data
    cfg = config or preset_config(preset)
    seconds = min(float(seconds), MAX_SECONDS)
    torch.manual_seed(seed)
    net = build(cfg).to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(net.parameters(), lr=0.0)
    order = torch.Generator().manual_seed(seed)
    perm, pos = torch.randperm(len(data.y_train), generator=order), 0
    steps, trained, losses, curve, stopped = 0, 0.0, [], [], False
    watch_x, watch_y = data.x_test[data.watch], data.y_test[data.watch]
    next_report = PROGRESS_EVERY
    while trained < seconds:
        if should_stop is not None and should_stop():
            stopped = True
            break
        tick = time.perf_counter()
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(cfg, trained / seconds)
        if pos + cfg.batch_size > len(perm):  # a new epoch: a new order
            perm, pos = torch.randperm(len(data.y_train), generator=order), 0
        batch = perm[pos : pos + cfg.batch_size]
        pos += cfg.batch_size
        with autocast(torch.device("cpu")):
            loss = F.cross_entropy(net(to_input(data.x_train[batch])).float(), data.y_train[batch])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        steps += 1
        losses.append(loss.item())
        trained += time.perf_counter() - tick
        if on_progress is not None and (trained >= next_report or trained >= seconds):
            next_report = trained + PROGRESS_EVERY
            logits = scores(net, watch_x)
            point = Progress(steps, trained, steps * cfg.batch_size / trained, float(np.mean(losses)),
                             (logits.argmax(1) == watch_y).float().mean().item(),
                             logits[:GRID_DIGITS].argmax(1).numpy(), weight_images(net))
            losses = []
            curve.append({"step": point.step, "seconds": round(point.seconds, 3), "train_loss": point.train_loss,
                          "watch_accuracy": point.watch_accuracy})
            on_progress(point)
    net.eval()
    return Result(net, cfg, accuracy(net, data.x_test, data.y_test), steps, trained, stopped, curve)


# ---------------------------------------------------------------- a network, on test digits and on a drawing


def grid_digits(data: Mnist) -> tuple[np.ndarray, np.ndarray]:
    """The page's grid of test digits: (GRID_DIGITS, 28, 28) uint8 images and their digits."""
    index = data.watch[:GRID_DIGITS]
    return data.x_test[index].numpy(), data.y_test[index].numpy()


def grid_predictions(net: nn.Module, data: Mnist) -> np.ndarray:
    """`net`'s digit for each of the grid's test digits (as Progress.grid_predictions)."""
    return scores(net, data.x_test[data.watch[:GRID_DIGITS]]).argmax(1).numpy()


@dataclass
class Reading:
    """A network's reading of a drawing."""
    probabilities: np.ndarray  # (10,)

    @property
    def digit(self) -> int:
        return int(self.probabilities.argmax())

    @property
    def confidence(self) -> float:
        return float(self.probabilities.max())

    @property
    def sure(self) -> bool:
        """Confident enough to name the digit: the digit page's rule (digits.CONFIDENCE_THRESHOLD)."""
        return self.confidence >= digits.CONFIDENCE_THRESHOLD


@torch.inference_mode()
def read_drawing(net: nn.Module, image) -> Reading:
    """A drawing (any image digits.preprocess takes) -> `net`'s reading. The drawing is made to look like an
    MNIST digit exactly as on the digit page (digits.preprocess: one definition). Raises digits.EmptyImageError
    when nothing is drawn."""
    x = to_input(digits.preprocess(image))
    net.eval()
    with autocast(torch.device("cpu")):
        return Reading(torch.softmax(net(x).float(), dim=1)[0].numpy())


def read_png(net: nn.Module, data: bytes) -> Reading:
    """The canvas's PNG -> read_drawing; digits.UnreadableImageError when the bytes are not a readable image."""
    try:
        return read_drawing(net, Image.open(io.BytesIO(data)))
    except digits.EmptyImageError:
        raise
    except (ValueError, OSError, Image.DecompressionBombError) as error:
        raise digits.UnreadableImageError(str(error)) from None


# ---------------------------------------------------------------- many viewers: a queue, a cap, a time limit

MAX_RUNNING = 2  # trainings at once per server; the others wait their turn (the page says where they are)
LEAVE_AFTER = 10.0  # seconds without the page asking about a run: its viewer left, so it stops (or leaves the queue)


class Run:
    """One viewer's training, in its own thread: waits for a free slot, trains, keeps its latest Progress and
    curve for the page to poll, and ends at its time budget, on stop(), or when nobody asks about it for
    LEAVE_AFTER seconds. Holds one small network: nothing else accumulates."""

    def __init__(self, trainings: "Trainings", seconds: float, config: Config, seed: int):
        self.seconds, self.config, self.seed = min(float(seconds), MAX_SECONDS), config, seed
        self.state = "waiting"  # -> training -> done | stopped | failed
        self.progress: Progress | None = None
        self.curve: list[dict] = []  # {step, seconds, train_loss, watch_accuracy} per report
        self.result: Result | None = None
        self.error = ""
        self._trainings = trainings
        self._stop = threading.Event()
        self.last_seen = time.monotonic()
        self._thread = threading.Thread(target=self._main, name="live-training", daemon=True)

    @property
    def active(self) -> bool:
        return self.state in ("waiting", "training")

    def seen(self) -> None:
        """The page asked about this run: its viewer is still there."""
        self.last_seen = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    def position(self) -> int:
        """1 = next to start; 0 when not waiting."""
        return self._trainings.position(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (tests, benchmarks); True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _abandoned(self) -> bool:
        return self._stop.is_set() or time.monotonic() - self.last_seen > LEAVE_AFTER

    def _report(self, progress: Progress) -> None:
        self.progress = progress
        self.curve.append({"step": progress.step, "seconds": progress.seconds, "train_loss": progress.train_loss,
                           "watch_accuracy": progress.watch_accuracy})

    def _main(self) -> None:
        if not self._trainings.acquire(self, self._abandoned):
            self.state = "stopped"
            return
        try:
            self.state = "training"
            self.result = train_digits(self.seconds, seed=self.seed, on_progress=self._report,
                                       data=self._trainings.data, config=self.config, should_stop=self._abandoned)
            self.state = "stopped" if self.result.stopped else "done"
        except Exception as error:  # noqa: BLE001 -- shown on the page; the server must go on
            self.error, self.state = f"{type(error).__name__}: {error}", "failed"
        finally:
            self._trainings.release(self)
            return_freed_memory()  # the network, optimiser and batches this thread allocated (see there)


class Trainings:
    """The server's trainings: at most `slots` at once, the others in a first-come queue."""

    def __init__(self, data: Mnist, slots: int = MAX_RUNNING):
        self.data, self.slots = data, slots
        self._lock = threading.Condition()
        self._queue: list[Run] = []
        self._running: list[Run] = []

    def start(self, seconds: float, config: Config, seed: int = 0) -> Run:
        run = Run(self, seconds, config, seed)
        with self._lock:
            self._queue.append(run)
        run._thread.start()
        return run

    def position(self, run: Run) -> int:
        with self._lock:
            return self._queue.index(run) + 1 if run in self._queue else 0

    def counts(self) -> tuple[int, int]:
        """(running, waiting)."""
        with self._lock:
            return len(self._running), len(self._queue)

    def acquire(self, run: Run, abandoned: Callable[[], bool]) -> bool:
        """Block until `run` is first in the queue and a slot is free (True), or it is abandoned (False)."""
        with self._lock:
            while not (self._queue[0] is run and len(self._running) < self.slots):
                if abandoned():
                    self._queue.remove(run)
                    self._lock.notify_all()
                    return False
                self._lock.wait(0.2)
            self._queue.remove(run)
            self._running.append(run)
            self._lock.notify_all()
            return True

    def release(self, run: Run) -> None:
        with self._lock:
            if run in self._running:
                self._running.remove(run)
            self._lock.notify_all()


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class Reference:
    """The server's share: the MNIST copy, the shipped run's network (shown before a viewer trains their own),
    and the queue of the viewers' trainings."""
    data: Mnist
    net: nn.Sequential
    config: Config
    trainings: Trainings


def load(weights_dir=None, device=None) -> Loaded:
    """The shipped run (the default preset trained for 30 s) and the MNIST copy: (Reference, meta). CPU only:
    these networks are small, and the viewers' trainings run on the CPU."""
    state, meta = load_checkpoint(NAME, weights_dir)
    cfg = Config(**{**meta["config"], "widths": tuple(meta["config"]["widths"])})
    net = build(cfg)
    net.load_state_dict(state)
    data = read_mnist()
    return Loaded(Reference(data, net.eval(), cfg, Trainings(data)), meta)


def default_model() -> Reference:
    """The shipped run and the MNIST copy, read once per process (models.common.shared)."""
    return shared(NAME).model


def config_dict(cfg: Config) -> dict:
    return asdict(cfg)


# ---------------------------------------------------------------- the model card's text


def card_text(meta: dict) -> list[str]:
    """The card's measured lines (markdown): the shipped run, and every preset against the clock."""
    m = meta["metrics"]
    lines = [f"**Shipped run:** {m['test_accuracy']:.2%} of the {m['test_images']:,} MNIST test digits after "
             f"{m['seconds']:.0f} s of training ({m['steps']:,} steps of 128 digits, {m['threads']} thread)"]
    for preset, row in m["by_preset"].items():
        title = meta["presets"][preset]["title"] if preset in meta.get("presets", {}) else preset
        times = ", ".join(f"{r['test_accuracy']:.2%} after {s} s" for s, r in sorted(row.items(), key=lambda kv: float(kv[0])))
        lines.append(f"**{title}** ({meta['presets'][preset]['parameters']:,} parameters), fresh runs on the same "
                     f"machine: {times}")
    lines.append(f"**Input:** {IMAGE_SIZE}×{IMAGE_SIZE} grey levels; a drawing goes through the digit page's "
                 "preprocessing (models.digits.preprocess)")
    return lines
