"""The review's Figure 1, to play with: a small multilayer network learning to tell two classes of 2-D points apart.

Numpy only. A network this small (2 inputs, at most 3 x 16 hidden units, 1 output) runs faster in numpy than
in torch, and the backward pass written out below is the review's Fig. 1d, line for line:

    input x (2)      hidden layer 1         ...   hidden layer L         output (1)
      x_i  --w_ij-->  z_j = sum_i w_ij x_i + b_j    z_k = sum_j w_jk y_j + b_k   z = sum_k w_k y_k + b
                      y_j = f(z_j)                  y_k = f(z_k)                 y = sigmoid(z)

    forward:   z = y_below @ W + b,  y = f(z)                        (layer by layer, bottom to top)
    backward:  dE/dz_out = y - t                                     (sigmoid output, cross-entropy E)
               dE/dy_j   = sum_k w_jk dE/dz_k                        (the chain rule, top to bottom)
               dE/dz_j   = dE/dy_j f'(z_j)
               dE/dw_ij  = y_i dE/dz_j  (+ l2 w_ij),   dE/db_j = dE/dz_j

E is the mean cross-entropy over a batch plus (l2 / 2) * the sum of the squared weights (not the biases).

What the page draws comes from here too: the network's output over the input plane (the decision regions),
each hidden unit's output over it, and Fig. 1a's view: a regular grid of lines of the input plane and the data,
as the last hidden layer maps them (2-D when it has 2 units, else a 3-D PCA kept from flipping between frames).

    data = make_dataset("spirals", noise=0.1, seed=0)
    net = Network(Config(hidden=(8, 8), activation="tanh"))
    net.train(data, 2000)  # 2,000 steps of Adam on batches of 64
    net.accuracy(data.x_test, data.t_test)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

# --- data -------------------------------------------------------------------------------------------------
HALF_SIDE = 1.0  # every dataset lies in the input square [-HALF_SIDE, HALF_SIDE]^2
POINTS = 1000  # per dataset, both classes, train and test together
TEST_FRACTION = 0.5
DATASETS = {  # name -> what the page calls it
    "separable": "Linearly separable",
    "xor": "XOR",
    "circles": "Two circles",
    "moons": "Two moons",
    "spirals": "Two spirals",
}
# noise in [0, 1] is scaled by each dataset's own jitter: at noise 1 its classes overlap a good deal.
JITTER = {"separable": 0.35, "xor": 0.25, "circles": 0.25, "moons": 0.3, "spirals": 0.25}
SPIRAL_TURNS = 1.75

# --- network ----------------------------------------------------------------------------------------------
ACTIVATIONS = ("tanh", "relu", "sigmoid")
MIN_UNITS, MAX_UNITS = 2, 16
MAX_LAYERS = 3
OPTIMIZERS = ("sgd", "adam")  # plain SGD is the review's; Adam gets there in far fewer steps
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
RECORD_EVERY = 100  # steps between two points on the loss curves (and after every train call)
HISTORY_LIMIT = 1000  # loss-curve points kept; beyond that every other one is dropped

# --- views ------------------------------------------------------------------------------------------------
PLANE_RESOLUTION = 48  # output and hidden-unit maps: a 48 x 48 grid over the input square
GRID_LINES = 13  # Fig. 1a: this many lines across and as many down the input square
POINTS_PER_LINE = 41


@dataclass
class Dataset:
    """Two classes of 2-D points; x (n, 2) inside the input square, t (n,) labels 0 or 1."""

    name: str
    noise: float
    seed: int
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray


def _separable(rng, n):
    """Two blobs either side of a diagonal line."""
    t = np.arange(n) % 2
    centre = np.where(t[:, None] == 1, [0.45, 0.45], [-0.45, -0.45])
    return centre + rng.normal(0, 0.18, (n, 2)), t


def _xor(rng, n):
    """Points in the four quadrants: class 1 where x and y have the same sign."""
    x = rng.uniform(-0.95, 0.95, (n, 2))
    x += np.sign(x) * 0.05  # a small gap along the axes, so that at noise 0 the classes don't touch
    return x, (x[:, 0] * x[:, 1] > 0).astype(int)


def _circles(rng, n):
    """Class 1 inside a disc, class 0 on a ring around it."""
    t = np.arange(n) % 2
    radius = np.where(t == 1, rng.uniform(0, 0.4, n), rng.uniform(0.65, 0.95, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1), t


def _moons(rng, n):
    """Two interleaved half circles (scikit-learn's make_moons, scaled into the square)."""
    t = np.arange(n) % 2
    angle = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(angle), np.sin(angle)], 1)
    lower = np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], 1)
    x = np.where(t[:, None] == 0, upper, lower)
    return (x - [0.5, 0.25]) * 0.6, t


def _spirals(rng, n):
    """Two interleaved spirals of SPIRAL_TURNS turns each, from the centre outwards."""
    t = np.arange(n) % 2
    s = rng.uniform(0, 1, n)  # position along the arm
    radius = 0.08 + 0.87 * s
    angle = 2 * np.pi * SPIRAL_TURNS * s + np.pi * t
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1), t


GENERATORS = {"separable": _separable, "xor": _xor, "circles": _circles, "moons": _moons, "spirals": _spirals}


def make_dataset(name: str, noise: float = 0.0, seed: int = 0, n: int = POINTS,
                 test_fraction: float = TEST_FRACTION) -> Dataset:
    """n points of dataset `name` (half of each class), Gaussian jitter of std noise * JITTER[name], clipped to
    the input square, shuffled and split: the last test_fraction of them are the test set. Same seed, same
    points; the jitter is drawn after the clean points, so changing the noise moves the same points."""
    if name not in GENERATORS:
        raise ValueError(f"unknown dataset {name!r}: one of {list(GENERATORS)}")
    rng = np.random.default_rng(seed)
    x, t = GENERATORS[name](rng, n)
    x = x + rng.normal(0, 1, x.shape) * noise * JITTER[name]
    x = np.clip(x, -1, 1) * HALF_SIDE
    order = rng.permutation(n)
    x, t = x[order], t[order]
    n_train = n - int(round(n * test_fraction))
    return Dataset(name, noise, seed, x[:n_train], t[:n_train], x[n_train:], t[n_train:])


# --- the network ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (8, 8)  # units per hidden layer, 1 to 3 layers of 2 to 16
    activation: str = "tanh"
    learning_rate: float = 0.03
    batch_size: int = 64
    l2: float = 0.0
    optimizer: str = "adam"
    seed: int = 0  # the initial weights and the order of the batches

    def __post_init__(self):
        if not 1 <= len(self.hidden) <= MAX_LAYERS or not all(MIN_UNITS <= h <= MAX_UNITS for h in self.hidden):
            raise ValueError(f"hidden must be 1 to {MAX_LAYERS} layers of {MIN_UNITS} to {MAX_UNITS} units: {self.hidden}")
        if self.activation not in ACTIVATIONS or self.optimizer not in OPTIMIZERS:
            raise ValueError(f"activation one of {ACTIVATIONS}, optimizer one of {OPTIMIZERS}")

    @property
    def sizes(self) -> tuple[int, ...]:
        """Units per layer, input and output included: (2, *hidden, 1)."""
        return (2, *self.hidden, 1)


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))  # = 1 / (1 + e^-z), without overflow


# f(z), and f'(z) from z and y = f(z)
FUNCTIONS = {
    "tanh": (np.tanh, lambda z, y: 1 - y * y),
    "relu": (lambda z: np.maximum(z, 0), lambda z, y: (z > 0).astype(z.dtype)),
    "sigmoid": (_sigmoid, lambda z, y: y * (1 - y)),
}


@dataclass
class Trace:
    """The forward pass, in the review's notation: for each layer above the input (the hidden layers, then the
    output), z (n, units) = the weighted sums, y (n, units) = f(z). y[-1] (n, 1) is the output probability."""

    x: np.ndarray  # (n, 2)
    z: list[np.ndarray]
    y: list[np.ndarray]


@dataclass
class Gradients:
    """The backward pass: dE/dy and dE/dz per unit (same layout as Trace), dE/dw (n_in, n_out) and dE/db (n_out,)
    per layer of weights (W[0] from the input to hidden layer 1, ..., W[-1] into the output)."""

    dy: list[np.ndarray]
    dz: list[np.ndarray]
    dw: list[np.ndarray]
    db: list[np.ndarray]


@dataclass
class Record:
    step: int
    train_loss: float
    test_loss: float
    test_accuracy: float


class Network:
    """A multilayer network: 2 inputs, config.hidden units, 1 sigmoid output; its weights, optimizer state, step
    count and loss history."""

    def __init__(self, config: Config):
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        gain = 2.0 if config.activation == "relu" else 1.0  # He for ReLU, Glorot-like for tanh and sigmoid
        sizes = config.sizes
        # W[l]: (sizes[l], sizes[l+1]); w_ij from unit i below to unit j above, as in z_j = sum_i w_ij y_i
        self.W = [self.rng.normal(0, np.sqrt(gain / n_in), (n_in, n_out)) for n_in, n_out in zip(sizes, sizes[1:])]
        self.b = [np.zeros(n_out) for n_out in sizes[1:]]
        self.moments = None  # Adam's running averages, made on its first step
        self.steps = 0
        self.history: list[Record] = []

    @property
    def parameters(self) -> int:
        return sum(w.size + b.size for w, b in zip(self.W, self.b))

    def forward(self, x: np.ndarray) -> Trace:
        f, _ = FUNCTIONS[self.config.activation]
        z, y = [], []
        below = x
        for layer, (W, b) in enumerate(zip(self.W, self.b)):
            z_l = below @ W + b  # (n, units): z_j = sum_i w_ij y_i + b_j
            y_l = _sigmoid(z_l) if layer == len(self.W) - 1 else f(z_l)
            z.append(z_l)
            y.append(y_l)
            below = y_l
        return Trace(x, z, y)

    def backward(self, trace: Trace, targets: np.ndarray) -> Gradients:
        """The chain rule from the output down (the review's Fig. 1d), for E = the batch's mean cross-entropy
        + (l2 / 2) sum w^2. targets: (n,) of 0 or 1."""
        _, f_prime = FUNCTIONS[self.config.activation]
        n = len(targets)
        p = trace.y[-1]  # (n, 1)
        layers = len(self.W)
        dz: list = [None] * layers
        dy: list = [None] * layers
        dw: list = [None] * layers
        db: list = [None] * layers
        # Output: E_n = -t log p - (1 - t) log(1 - p) with p = sigmoid(z), so dE/dz = p - t (1/n: the mean).
        dz[-1] = (p - targets.reshape(-1, 1)) / n
        dy[-1] = dz[-1] / np.maximum(p * (1 - p), 1e-12)  # dE/dp = (p - t) / (p (1 - p)); shown, never used
        for layer in range(layers - 1, -1, -1):
            below = trace.y[layer - 1] if layer > 0 else trace.x  # (n, n_in)
            dw[layer] = below.T @ dz[layer] + self.config.l2 * self.W[layer]  # (n_in, n_out)
            db[layer] = dz[layer].sum(0)  # (n_out,)
            if layer > 0:
                dy[layer - 1] = dz[layer] @ self.W[layer].T  # (n, n_in): dE/dy_j = sum_k w_jk dE/dz_k
                dz[layer - 1] = dy[layer - 1] * f_prime(trace.z[layer - 1], trace.y[layer - 1])
        return Gradients(dy, dz, dw, db)

    def step(self, x: np.ndarray, targets: np.ndarray) -> Gradients:
        """One update on a batch: forward, backward, then each weight moves against its gradient."""
        grads = self.backward(self.forward(x), targets)
        lr = self.config.learning_rate
        params = self.W + self.b
        gradients = grads.dw + grads.db
        if self.config.optimizer == "adam":
            if self.moments is None:
                self.moments = ([np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params], 0)
            m, v, k = self.moments
            k += 1
            b1, b2 = ADAM_BETAS
            scale = lr * np.sqrt(1 - b2 ** k) / (1 - b1 ** k)
            for p, g, m_p, v_p in zip(params, gradients, m, v):
                m_p *= b1
                m_p += (1 - b1) * g
                v_p *= b2
                v_p += (1 - b2) * g * g
                p -= scale * m_p / (np.sqrt(v_p) + ADAM_EPS)
            self.moments = (m, v, k)
        else:
            for p, g in zip(params, gradients):
                p -= lr * g
        self.steps += 1
        return grads

    def train(self, data: Dataset, steps: int, record: bool = True) -> None:
        """`steps` updates on random batches of the training set; a point on the loss curves every RECORD_EVERY
        steps and (`record`) at the end."""
        n = len(data.t_train)
        batch = min(self.config.batch_size, n)
        for _ in range(steps):
            idx = self.rng.choice(n, batch, replace=False) if batch < n else slice(None)
            self.step(data.x_train[idx], data.t_train[idx])
            if self.steps % RECORD_EVERY == 0:
                self.record(data)
        if record:
            self.record(data)

    def train_for(self, data: Dataset, seconds: float, max_steps: int | None = None, chunk: int = 10) -> int:
        """Train `chunk` steps at a time until `seconds` have passed or `max_steps` are done; the steps done."""
        start, done = time.perf_counter(), 0
        while time.perf_counter() - start < seconds and (max_steps is None or done < max_steps):
            k = chunk if max_steps is None else min(chunk, max_steps - done)
            self.train(data, k, record=False)
            done += k
        self.record(data)
        return done

    def retune(self, **changes) -> None:
        """Change the learning rate, batch size, L2 or optimizer and keep training the same weights."""
        config = replace(self.config, **changes)
        if (config.hidden, config.activation) != (self.config.hidden, self.config.activation):
            raise ValueError("a new architecture needs a new Network")
        if config.optimizer != self.config.optimizer:
            self.moments = None
        self.config = config

    def record(self, data: Dataset) -> Record:
        """A point on the loss curves at the current step (replacing one already there for this step)."""
        test_p = self.predict(data.x_test)
        rec = Record(self.steps, self.loss(data.x_train, data.t_train), cross_entropy(test_p, data.t_test),
                     float(((test_p > 0.5) == data.t_test).mean()))
        if self.history and self.history[-1].step == self.steps:
            self.history[-1] = rec
        else:
            self.history.append(rec)
        if len(self.history) > HISTORY_LIMIT:
            self.history = self.history[:1] + self.history[2::2]
        return rec

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n,) probability of class 1."""
        return self.forward(x).y[-1][:, 0]

    def loss(self, x: np.ndarray, targets: np.ndarray) -> float:
        """Mean cross-entropy (without the L2 term)."""
        return cross_entropy(self.predict(x), targets)

    def accuracy(self, x: np.ndarray, targets: np.ndarray) -> float:
        return float(((self.predict(x) > 0.5) == targets).mean())


def cross_entropy(p: np.ndarray, targets: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean())


def steps_to_accuracy(config: Config, data: Dataset, target: float = 0.95, max_steps: int = 20_000,
                      check_every: int = 50) -> int | None:
    """Steps until the test accuracy first reaches `target` (checked every `check_every` steps), or None."""
    net = Network(config)
    while net.steps < max_steps:
        net.train(data, check_every)
        if net.history[-1].test_accuracy >= target:
            return net.steps
    return None


# --- views ------------------------------------------------------------------------------------------------
@dataclass
class PlaneViews:
    """The network over a regular grid of the input plane: axis (r,) the coordinates along x and along y,
    output (r, r) the probability of class 1 (row = y, column = x), units[l] (r, r, units) hidden layer l."""

    axis: np.ndarray
    output: np.ndarray
    units: list[np.ndarray]


def plane_views(net: Network, resolution: int = PLANE_RESOLUTION) -> PlaneViews:
    axis = np.linspace(-HALF_SIDE, HALF_SIDE, resolution)
    gx, gy = np.meshgrid(axis, axis)  # (r, r): row = y, column = x
    trace = net.forward(np.stack([gx.ravel(), gy.ravel()], 1))
    shape = (resolution, resolution)
    return PlaneViews(axis, trace.y[-1].reshape(shape), [y.reshape(*shape, -1) for y in trace.y[:-1]])


def point_pass(net: Network, x: np.ndarray, target: int) -> tuple[Trace, Gradients]:
    """The forward values and backward derivatives for one point (Fig. 1c-d): x (2,), target 0 or 1."""
    trace = net.forward(np.asarray(x, float).reshape(1, 2))
    return trace, net.backward(trace, np.array([target]))


def grid_lines(lines: int = GRID_LINES, points: int = POINTS_PER_LINE) -> np.ndarray:
    """A regular grid of the input square as polylines: (2 * lines, points, 2), first the vertical lines
    (x constant) from left to right, then the horizontal ones from bottom to top."""
    along = np.linspace(-HALF_SIDE, HALF_SIDE, points)
    across = np.linspace(-HALF_SIDE, HALF_SIDE, lines)
    vertical = np.stack([np.broadcast_to(across[:, None], (lines, points)), np.broadcast_to(along, (lines, points))], -1)
    return np.concatenate([vertical, vertical[..., ::-1]])


@dataclass
class HiddenSpace:
    """Fig. 1a: the input grid's lines and the data as the last hidden layer maps them, in `dims` (2 or 3)
    coordinates. lines (n_lines, points, dims); train/test (n, dims). The output unit is linear there:
    p = sigmoid(normal . c + offset), so its p = 0.5 boundary is a line (2-D) or a plane (3-D; exact when the
    layer has 3 units, else that of the projection). basis (units, dims) and mean (units,) map hidden values
    to coordinates: c = (y - mean) @ basis; explained: the fraction of the variance the coordinates keep."""

    dims: int
    lines: np.ndarray
    train: np.ndarray
    test: np.ndarray
    normal: np.ndarray
    offset: float
    basis: np.ndarray
    mean: np.ndarray
    explained: float


def hidden_space(net: Network, data: Dataset, previous: HiddenSpace | None = None) -> HiddenSpace:
    """The last hidden layer's image of the input grid and the data. With 2 units: those 2 values. With more: the
    first 3 principal axes of the data's and grid's images; so that the picture doesn't flip or spin between
    frames, the axes are turned (within the same 3-D subspace) to line up with `previous`'s when given, else
    each axis's sign is set so that its largest loading is positive."""
    lines = grid_lines()
    n_lines, points, _ = lines.shape
    x = np.concatenate([lines.reshape(-1, 2), data.x_train, data.x_test])
    h = net.forward(x).y[-2]  # (m, units) the last hidden layer
    h = np.nan_to_num(h, nan=0.0, posinf=1e6, neginf=-1e6)  # a learning rate far too high can blow ReLUs up
    units = h.shape[1]
    w_out, b_out = net.W[-1][:, 0], float(net.b[-1][0])
    if units == 2:
        mean, basis, dims, explained = np.zeros(2), np.eye(2), 2, 1.0
    else:
        dims = 3
        mean = h.mean(0)
        _, s, vt = np.linalg.svd(h - mean, full_matrices=False)
        basis = vt[:3].T  # (units, 3)
        explained = float((s[:3] ** 2).sum() / max((s ** 2).sum(), 1e-12))
        if previous is not None and previous.basis.shape == basis.shape:
            u, _, wt = np.linalg.svd(basis.T @ previous.basis)  # orthogonal Procrustes: the rotation nearest it
            basis = basis @ (u @ wt)
        else:
            basis = basis * np.sign(basis[np.abs(basis).argmax(0), range(3)])
    c = (h - mean) @ basis
    n_grid, n_train = n_lines * points, len(data.x_train)
    # p = sigmoid(w . y + b) and y ~ mean + basis c: normal = basis^T w, offset = w . mean + b
    return HiddenSpace(dims, c[:n_grid].reshape(n_lines, points, dims), c[n_grid:n_grid + n_train], c[n_grid + n_train:],
                       basis.T @ w_out, float(w_out @ mean + b_out), basis, mean, explained)


# --- presets ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    dataset: str
    noise: float
    config: Config
    steps_per_frame: int | None  # how fast the page trains it: steps between two redraws; None: all that fit
    notice: str  # what to notice, in one line


SPIRALS = Config(hidden=(8, 8), activation="tanh", learning_rate=0.03, batch_size=64)
PRESETS = {
    "Fig. 1a: moons straightened": Preset(
        "moons", 0.2, Config(hidden=(4, 2), activation="tanh", learning_rate=0.03, batch_size=16), 10,
        "Watch the hidden layer's view: its grid bends and folds until the two moons lie either side of a "
        "straight line, which is all the output unit can draw."),
    "XOR with plain SGD": Preset(
        "xor", 0.2, Config(hidden=(4,), activation="tanh", learning_rate=0.3, batch_size=16, optimizer="sgd"), 10,
        "The review's own recipe, stochastic gradient descent: XOR, which no network without a hidden layer can learn."),
    "Spirals, 2×8 tanh": Preset(
        "spirals", 0.1, SPIRALS, 300,
        "Two hidden layers of 8 units untangle the spirals in a few seconds."),
    "Spirals need depth: 1 layer": Preset(
        "spirals", 0.1, replace(SPIRALS, hidden=(8,)), 500,
        "One hidden layer of 8 units: the test accuracy stays below 90 %; the regions can't follow the arms round."),
    "Spirals need depth: 3 layers": Preset(
        "spirals", 0.1, replace(SPIRALS, hidden=(8, 8, 8)), 500,
        "The same 8 units a layer, three layers deep: each layer bends what the one below made, and the "
        "regions follow the arms all the way round."),
}
