"""Part 1 of the live page: the review's Figure 1, to play with (a small network trained on 2-D points).

The learning is in models/playground.py; here: the controls, and a fragment that, while training, runs a
time-budgeted number of steps and redraws (it reruns by itself every RUN_EVERY_S seconds, alone: the rest of
the page stays as it is). Everything this part keeps is in st.session_state under keys starting with "pg_":
the page has another part, and every viewer has their own network.
"""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from app_pages.figures import playground as figures
from models import playground as pg
from ui import share, style
from ui.presenter import explain

RUN_EVERY_S = 0.4  # while training, the fragment reruns this often
TRAIN_SECONDS = 0.15  # of each rerun, at most this long trains ("as fast as it can"); the rest redraws
MAX_TRAINING_SECONDS = 120  # training pauses by itself after this long (a forgotten tab would train forever)

LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
TRAIN_POINTS = pg.POINTS - round(pg.POINTS * pg.TEST_FRACTION)
BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, TRAIN_POINTS]  # the last: all the training points
L2S = [0.0, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]
SPEEDS = [1, 2, 5, 10, 20, 50, 100, 200, 300, 500, 1000, 0]  # steps per frame; 0: as many as fit in TRAIN_SECONDS
ACTIVATION_NAMES = {"tanh": "tanh", "relu": "ReLU", "sigmoid": "sigmoid"}
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}

DEFAULT_DATASET, DEFAULT_NOISE = "spirals", 0.1
DEFAULT_CONFIG = pg.Config()  # 2 x 8 tanh, Adam 0.03, batches of 64
DEFAULTS = {
    "pg_dataset": DEFAULT_DATASET, "pg_noise": DEFAULT_NOISE, "pg_layers": len(DEFAULT_CONFIG.hidden),
    **{f"pg_units_{k}": 8 for k in range(pg.MAX_LAYERS)},
    "pg_activation": DEFAULT_CONFIG.activation, "pg_lr": DEFAULT_CONFIG.learning_rate,
    "pg_batch": DEFAULT_CONFIG.batch_size, "pg_l2": DEFAULT_CONFIG.l2, "pg_optimizer": DEFAULT_CONFIG.optimizer,
    "pg_speed": 50, "pg_point": 0,
}
KEEP = "page"  # widgets keep their values while Part 2 is shown


# ---- the URL's state (ui/share.py; app_pages/live.py's View holds these) ---------------------------------------
# ?preset=spirals-2x8-tanh (a preset's name as a slug: its settings, then any of the others over them), dataset,
# noise, hidden=8,8, act, lr, batch (or all), l2, opt. A link sets the controls and a new network, paused.
PRESETS_BY_SLUG = {share.slug(name): name for name in pg.PRESETS}
SETTINGS = [key for key in DEFAULTS if key != "pg_point"]


def _preset_settings(name: str | None) -> dict:
    """The controls' values a preset sets (None: the page's defaults)."""
    settings = {key: DEFAULTS[key] for key in SETTINGS}
    if name is not None:
        preset = pg.PRESETS[name]
        settings.update(pg_dataset=preset.dataset, pg_noise=preset.noise, pg_layers=len(preset.config.hidden),
                        pg_activation=preset.config.activation, pg_lr=preset.config.learning_rate,
                        pg_batch=preset.config.batch_size, pg_l2=preset.config.l2,
                        pg_optimizer=preset.config.optimizer, pg_speed=preset.steps_per_frame or 0)
        settings.update({f"pg_units_{k}": units for k, units in enumerate(preset.config.hidden)})
    return settings


def _linked_preset(name: str | None) -> None:
    """First of the link's settings: its preset's (or the defaults), which the others then change."""
    st.session_state.update(_preset_settings(name))
    st.session_state.pg_preset = name


def _linked(key: str):
    def apply(value) -> None:
        if value is not None:  # absent: as the preset (or the defaults) left it
            st.session_state[key] = value
    return apply


def _linked_hidden(units: tuple[int, ...] | None) -> None:
    if units is not None:
        st.session_state.pg_layers = len(units)
        st.session_state.update({f"pg_units_{k}": n for k, n in enumerate(units)})


def _hidden(s) -> tuple[int, ...]:
    return tuple(int(s[f"pg_units_{k}"]) for k in range(int(s["pg_layers"])))


def _parse_preset(raw: str) -> str:
    """A preset's slug, or its name as the page shows it."""
    name = PRESETS_BY_SLUG.get(share.slug(raw))
    if name is None:
        raise share.Invalid("not one of " + ", ".join(PRESETS_BY_SLUG))
    return name


def _parse_noise(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (0 <= value <= 1 and abs(value * 20 - round(value * 20)) < 1e-6):
        raise share.Invalid("not from 0 to 1 in steps of 0.05")
    return round(value, 2)


def _parse_hidden(raw: str) -> tuple[int, ...]:
    parts = raw.split(",")
    if not (1 <= len(parts) <= pg.MAX_LAYERS and all(p.strip().isdigit() for p in parts)
            and all(pg.MIN_UNITS <= int(p) <= pg.MAX_UNITS for p in parts)):
        raise share.Invalid(f"not 1 to {pg.MAX_LAYERS} layers of {pg.MIN_UNITS} to {pg.MAX_UNITS} units, e.g. 8,8")
    return tuple(int(p) for p in parts)


def _base(key: str):
    """What a link leaves out: the preset's value while its notice shows, else the default."""
    return lambda: _preset_settings(st.session_state.get("pg_preset"))[key]


def _number(value: float) -> str:
    return f"{value:g}"


SHARE = [
    share.Param("preset", None, _parse_preset, write=share.slug, apply=_linked_preset,
                read=lambda: st.session_state.get("pg_preset")),
    share.Param("dataset", "pg_dataset", share.one_of(list(pg.DATASETS)), default=_base("pg_dataset"),
                apply=_linked("pg_dataset")),
    share.Param("noise", None, _parse_noise, write=_number, default=_base("pg_noise"), apply=_linked("pg_noise"),
                read=lambda: round(float(st.session_state.pg_noise), 2)),
    share.Param("hidden", None, _parse_hidden, write=lambda units: ",".join(map(str, units)),
                default=lambda: _hidden(_preset_settings(st.session_state.get("pg_preset"))), apply=_linked_hidden,
                read=lambda: _hidden(st.session_state)),
    share.Param("act", "pg_activation", share.one_of(pg.ACTIVATIONS), default=_base("pg_activation"),
                apply=_linked("pg_activation")),
    share.Param("lr", "pg_lr", share.one_of(LEARNING_RATES, _number), write=_number, default=_base("pg_lr"),
                apply=_linked("pg_lr")),
    share.Param("batch", "pg_batch", share.one_of({"all": TRAIN_POINTS, **{str(b): b for b in BATCH_SIZES}}),
                write=lambda b: "all" if b >= TRAIN_POINTS else str(b), default=_base("pg_batch"),
                apply=_linked("pg_batch")),
    share.Param("l2", "pg_l2", share.one_of(L2S, _number), write=_number, default=_base("pg_l2"),
                apply=_linked("pg_l2")),
    share.Param("opt", "pg_optimizer", share.one_of(pg.OPTIMIZERS), default=_base("pg_optimizer"),
                apply=_linked("pg_optimizer")),
]


def link_restored(values: dict) -> None:
    """After a link set the controls: the preset's notice only if the network is still the preset's; a new
    network, paused, if the link's differs from the one there is."""
    s = st.session_state
    mine = (s.pg_dataset, s.pg_noise, _hidden(s), s.pg_activation)
    if s.pg_preset:
        preset = _preset_settings(s.pg_preset)
        if mine != (preset["pg_dataset"], preset["pg_noise"], _hidden(preset), preset["pg_activation"]):
            s.pg_preset = None
    if mine != s.get("pg_signature"):
        s.pg_renew = "preset" if s.pg_preset else "reset"
        s.pg_running = False


def _settings_from_preset(name: str) -> None:
    """A preset's button: its dataset and network into the controls, a new network, and train."""
    preset = pg.PRESETS[name]
    state = st.session_state
    state.pg_dataset, state.pg_noise = preset.dataset, preset.noise
    state.pg_layers = len(preset.config.hidden)
    for k, units in enumerate(preset.config.hidden):
        state[f"pg_units_{k}"] = units
    state.pg_activation, state.pg_lr = preset.config.activation, preset.config.learning_rate
    state.pg_batch, state.pg_l2, state.pg_optimizer = preset.config.batch_size, preset.config.l2, preset.config.optimizer
    state.pg_speed = preset.steps_per_frame or 0
    state.pg_preset = name
    state.pg_renew = "preset"  # a new network at the next run, under the preset's notice
    _start()


def _config() -> pg.Config:
    s = st.session_state
    hidden = tuple(int(s[f"pg_units_{k}"]) for k in range(int(s.pg_layers)))
    return pg.Config(hidden=hidden, activation=s.pg_activation, learning_rate=s.pg_lr, batch_size=s.pg_batch,
                     l2=s.pg_l2, optimizer=s.pg_optimizer)


def _new_network() -> None:
    """A fresh network (and the data) for the controls as they are: at step 0, paused unless a preset said go."""
    s = st.session_state
    config = _config()
    s.pg_data = pg.make_dataset(s.pg_dataset, s.pg_noise)
    s.pg_net = pg.Network(config)
    s.pg_net.record(s.pg_data)
    s.pg_space = None  # Fig. 1a's previous frame
    s.pg_signature = (s.pg_dataset, s.pg_noise, config.hidden, config.activation)


def _start() -> None:
    st.session_state.pg_running = True
    st.session_state.pg_started = time.monotonic()


def _pause() -> None:
    st.session_state.pg_running = False


def _step() -> None:
    _pause()
    if "pg_net" in st.session_state:
        st.session_state.pg_net.train(st.session_state.pg_data, 1)


def _reset() -> None:
    _pause()
    st.session_state.pg_renew = "reset"


def _controls() -> None:
    """Presets; the data, the network and its training, in four columns; the run buttons in a row under them. On a
    phone and in presenter mode the run buttons come first (style.first) and the settings after the charts
    (style.last): Train and the running numbers on the first screen."""
    with st.container(key="pg_presets"):
        st.markdown("**Presets** (click one, then watch):")
        with st.container(horizontal=True, gap="small"):  # as wide as their names, wrapping: never cut off
            for i, name in enumerate(pg.PRESETS):
                st.button(name, key=f"pg_preset_{i}", on_click=_settings_from_preset, args=(name,), width="content")
    _settings(st.container(key=style.last("pg_settings")))
    running = st.session_state.pg_running
    with st.container(key=style.first("pg_run"), horizontal=True, gap="small"):
        st.button("Train", key="pg_train", icon=":material/play_arrow:", type="primary", on_click=_start,
                  disabled=running)
        st.button("Pause", key="pg_pause", icon=":material/pause:", on_click=_pause, disabled=not running)
        st.button("Step", key="pg_step", icon=":material/skip_next:", on_click=_step,
                  help="One step: one batch forward, backward, and every weight updated.")
        st.button("Reset", key="pg_reset", icon=":material/restart_alt:", on_click=_reset,
                  help="New weights (the same start each time), step 0.")


def _settings(box) -> None:
    """The data, the network and its training, in four columns."""
    data_col, net_col, train_col, speed_col = box.columns([1, 1.2, 1.2, 1], gap="medium")
    with data_col:
        st.selectbox("Dataset", list(pg.DATASETS), format_func=pg.DATASETS.get, key="pg_dataset", persist_state=KEEP)
        st.slider("Noise", 0.0, 1.0, step=0.05, key="pg_noise", persist_state=KEEP,
                  help="0: clean classes; 1: they overlap a good deal. Half the points train, the other half test.")
    with net_col:
        layers = st.slider("Hidden layers", 1, pg.MAX_LAYERS, key="pg_layers", persist_state=KEEP)
        for k in range(layers):
            st.slider(f"Units in hidden layer {k + 1}", pg.MIN_UNITS, pg.MAX_UNITS, key=f"pg_units_{k}",
                      persist_state=KEEP)
        st.segmented_control("Activation f", list(ACTIVATION_NAMES), format_func=ACTIVATION_NAMES.get,
                             key="pg_activation", required=True, persist_state=KEEP)
    with train_col:
        st.select_slider("Learning rate", LEARNING_RATES, key="pg_lr", persist_state=KEEP)
        st.select_slider("Batch size", BATCH_SIZES, key="pg_batch", persist_state=KEEP,
                         format_func=lambda b: "all" if b >= TRAIN_POINTS else str(b))
        st.select_slider("L2 (weight decay)", L2S, key="pg_l2", persist_state=KEEP, format_func=lambda v: f"{v:g}")
        st.segmented_control("Optimizer", list(OPTIMIZER_NAMES), format_func=OPTIMIZER_NAMES.get,
                             key="pg_optimizer", required=True, persist_state=KEEP,
                             help="SGD: each weight moves by −learning rate × its gradient, the review's recipe. "
                                  "Adam scales each weight's step by its gradients' recent size: fewer steps.")
    with speed_col:
        st.select_slider("Steps per frame", SPEEDS, key="pg_speed", persist_state=KEEP,
                         format_func=lambda v: "max" if v == 0 else str(v),
                         help="How many training steps between two redraws; 'max': as many as fit in "
                              f"{TRAIN_SECONDS * 1000:.0f} ms.")


def render() -> None:
    s = st.session_state
    for key, value in DEFAULTS.items():
        s.setdefault(key, value)
    s.setdefault("pg_running", False)
    s.setdefault("pg_preset", None)
    s.setdefault("pg_signature", None)
    s.setdefault("pg_renew", None)  # "preset" or "reset": a new network at this run, whatever the controls say

    explain(
        "The review's **Figure 1**, in motion. A network with 2 inputs, 1 to 3 hidden layers and one output unit "
        "learns to tell the orange points from the blue ones by **backpropagation**: after each batch, the chain "
        "rule gives the derivative of the error with respect to every weight (Fig. 1c–d, below), and every "
        "weight takes a small step against it. Watch the hidden layers learn a **representation** in which the "
        "two classes can be split by a straight line (Fig. 1a)."
    )
    body = st.container()  # the part's own order on a phone and in presenter mode (_controls)
    with body:
        _controls()
    config = _config()
    if s.pg_renew or s.pg_signature != (s.pg_dataset, s.pg_noise, config.hidden, config.activation):
        if not s.pg_renew:  # a new dataset or architecture, from the controls: the preset's notice no longer holds
            s.pg_preset = None
        s.pg_renew = None
        _new_network()  # the other settings (learning rate, batch, L2, optimizer) keep the network
    else:
        s.pg_net.retune(learning_rate=config.learning_rate, batch_size=config.batch_size, l2=config.l2,
                        optimizer=config.optimizer)
    with body:
        if s.pg_preset:
            st.info(f"**{s.pg_preset}.** {pg.PRESETS[s.pg_preset].notice}", icon=":material/visibility:")
        st.fragment(run_every=RUN_EVERY_S if s.pg_running else None)(_live)()
    _details()


def _live() -> None:
    """One frame: train (while training), then the numbers, the decision regions, Fig. 1a, the loss curves and
    the hidden units' maps."""
    s = st.session_state
    net, data = s.pg_net, s.pg_data
    if s.pg_running:
        if s.pg_speed:
            net.train(data, s.pg_speed)
        else:
            net.train_for(data, TRAIN_SECONDS)
        if time.monotonic() - s.pg_started > MAX_TRAINING_SECONDS:
            _pause()
            st.rerun()  # the whole page: the fragment stops rerunning by itself
    last = net.history[-1]
    # In a row that wraps (columns stack on a phone, a screen each); on a phone, under Train with the charts.
    with st.container(key=style.fragment_first("pg_stats"), horizontal=True, gap="medium"):
        st.metric("Step", f"{net.steps:,}")
        st.metric("Training loss", f"{last.train_loss:.3f}")
        st.metric("Test loss", f"{last.test_loss:.3f}")
        st.metric("Test accuracy", f"{last.test_accuracy:.1%}")
        st.metric("Status", "training…" if s.pg_running else "paused",
                  help=f"Training pauses by itself after {MAX_TRAINING_SECONDS // 60} minutes.")

    point = _chosen_point(data)
    views = pg.plane_views(net)
    space = pg.hidden_space(net, data, previous=s.pg_space)
    s.pg_space = space
    left, middle, right = st.columns([1, 1, 0.9], gap="medium")
    with left:
        st.plotly_chart(figures.decision_regions(views, data, chosen=data.x_train[point]), key="pg_regions")
        st.caption("Dots: the training points; crosses: the test points, which it never trains on. The faint "
                   "grid is the one drawn again, bent, in Fig. 1a.")
    with middle:
        st.plotly_chart(figures.hidden_space(space, data, len(net.config.hidden), net.config.hidden[-1],
                                             chosen=space.train[point]), key="pg_hidden")
        st.caption(
            "*\"A multilayer neural network can distort the input space to make the classes of data linearly "
            "separable\"* (Fig. 1a). The output unit can only split this space with a straight line"
            + (" (a plane in 3-D)" if space.dims == 3 else "")
            + ": the hidden layers bend the input plane, grid lines and all, until that is enough."
        )
    with right:
        st.plotly_chart(figures.loss_curves(net.history), key="pg_loss")
        st.caption("The training loss is measured on the training points, the test loss on the held-out half. "
                   "When the test loss turns up while the training loss goes on down, it is overfitting: try L2.")
    st.plotly_chart(figures.unit_mosaic(views, net.config.activation, selected=_chosen_unit(net)), key="pg_mosaic")
    st.caption("Each hidden unit's output y over the whole input plane (blue low, orange high). A unit of the first "
               "hidden layer can only draw one straight edge, f of a weighted sum of x₁ and x₂; each layer above "
               "combines the edges of the one below into curved regions: features built from features.")


def _chosen_point(data: pg.Dataset) -> int:
    return min(int(st.session_state.pg_point), len(data.t_train) - 1)


def _unit_names(net: pg.Network) -> list[str]:
    """The hidden units as "layer.unit", both from 1."""
    return [f"{layer + 1}.{u + 1}" for layer, n in enumerate(net.config.hidden) for u in range(n)]


def _chosen_unit(net: pg.Network) -> tuple[int, int]:
    """(layer, unit), both from 0, of the unit chosen for the larger map."""
    s = st.session_state
    if s.get("pg_unit") not in _unit_names(net):  # the architecture changed
        s.pg_unit = _unit_names(net)[0]
    return tuple(int(k) - 1 for k in s.pg_unit.split("."))


def _details() -> None:
    """Fig. 1c-d for the chosen training point, and the chosen hidden unit's map: redrawn by every run of the
    whole page (a pause, a step, a control), not by the frames of training (they would slow the frames)."""
    s = st.session_state
    net, data = s.pg_net, s.pg_data
    st.subheader("Fig. 1c–d: one training point, forward and backward")
    explain(
        "**Forward** (c): each unit sums its inputs weighted, z_j = Σ_i w_ij y_i + b_j, and passes the sum "
        "through f: y_j = f(z_j). **Backward** (d), the chain rule from the top: at the sigmoid output, with "
        "the cross-entropy error E, ∂E/∂z = y − t; one layer down, ∂E/∂y_j = Σ_k w_jk ∂E/∂z_k and "
        "∂E/∂z_j = ∂E/∂y_j · f′(z_j); each weight's gradient is ∂E/∂w_ij = y_i ∂E/∂z_j"
        + (f" (+ {net.config.l2:g} w_ij for L2)" if net.config.l2 else "") + ". On the diagram, fill: the "
        "unit's y; ring: its ∂E/∂z (green +, purple −); edges: orange w > 0, blue w < 0, thicker for a larger "
        "|∂E/∂w|. Hover for the numbers; press **Step** to see one update."
    )
    chart_col, table_col = st.columns([1.6, 1], gap="medium")
    with table_col:
        st.slider("Training point", 0, len(data.t_train) - 1, key="pg_point", persist_state=KEEP,
                  help="Which training point goes through the network: it is ringed on the decision regions.")
        point = _chosen_point(data)
        x, t = data.x_train[point], int(data.t_train[point])
        trace, grads = pg.point_pass(net, x, t)
        st.markdown(f"x = ({x[0]:+.2f}, {x[1]:+.2f}), class t = {t}; at step {net.steps:,} the network says "
                    f"P(class 1) = {trace.y[-1][0, 0]:.3f}.")
        number = st.column_config.NumberColumn
        st.dataframe(_unit_table(net, trace, grads), hide_index=True, height=300, column_config={
            "z": number(format="%+.3f"), "y": number(format="%+.3f"), "∂E/∂y": number(format="%+.2e"),
            "∂E/∂z": number(format="%+.2e")})
        if s.pg_running:
            st.caption("While it trains, this part shows the step it was drawn at: pause to bring it up to date.")
    with chart_col:
        st.plotly_chart(
            figures.network_diagram(net.config.sizes, net.W, trace, grads, t,
                                    f"Training point {point} at step {net.steps:,}: y (fill) and ∂E/∂z (ring)"),
            key="pg_diagram")

    st.subheader("One hidden unit, larger")
    map_col, text_col = st.columns([1, 1.6], gap="medium")
    _chosen_unit(net)
    with text_col:
        st.selectbox("Unit", _unit_names(net), key="pg_unit", persist_state=KEEP,
                     format_func=lambda name: "hidden layer {}, unit {}".format(*name.split(".")),
                     help="It is outlined on the map of every unit above.")
        explain(
            "A unit's output over the input plane, with the training points. In the first hidden layer it is f of "
            "a weighted sum of x₁ and x₂: a soft step (tanh, sigmoid) or a ramp (ReLU) across one straight line. "
            "Deeper units combine those of the layer below. No unit was told what to look for: each is shaped "
            "only by the gradients that backpropagation sends it."
        )
    with map_col:
        layer, unit = _chosen_unit(net)
        st.plotly_chart(figures.unit_map(pg.plane_views(net), layer, unit, net.config.activation, data),
                        key="pg_unit_map")


def _unit_table(net: pg.Network, trace: pg.Trace, grads: pg.Gradients) -> pd.DataFrame:
    """The chosen point's numbers, one row per unit above the input."""
    rows = []
    names = [f"hidden {k + 1}" for k in range(len(net.config.hidden))] + ["output"]
    for layer, name in enumerate(names):
        for u in range(trace.z[layer].shape[1]):
            rows.append({"unit": f"{name}.{u + 1}" if name != "output" else name, "z": trace.z[layer][0, u],
                         "y": trace.y[layer][0, u], "∂E/∂y": grads.dy[layer][0, u], "∂E/∂z": grads.dz[layer][0, u]})
    return pd.DataFrame(rows)
