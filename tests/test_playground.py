"""The Figure-1 playground (models/playground.py and Part 1 of app_pages/live.py): the backward pass against
torch.autograd and by hand, the datasets, the presets' promises, Fig. 1a's coordinates, and the page in AppTest."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models import playground as pg

# ---------------------------------------------------------------------------------------------------------
# The backward pass
# ---------------------------------------------------------------------------------------------------------


def torch_pass(net: pg.Network, x: np.ndarray, t: np.ndarray):
    """The same network and loss in torch (float64), with every z and y kept for its .grad."""
    f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[net.config.activation]
    W = [torch.tensor(w, requires_grad=True) for w in net.W]
    b = [torch.tensor(v, requires_grad=True) for v in net.b]
    zs, ys = [], []
    below = torch.tensor(x)
    for layer in range(len(W)):
        z = below @ W[layer] + b[layer]
        y = torch.sigmoid(z) if layer == len(W) - 1 else f(z)
        z.retain_grad()
        y.retain_grad()
        zs.append(z)
        ys.append(y)
        below = y
    p, target = ys[-1][:, 0], torch.tensor(t, dtype=torch.float64)
    loss = -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()
    loss = loss + net.config.l2 / 2 * sum((w * w).sum() for w in W)
    loss.backward()
    return loss.item(), zs, ys, W, b


@pytest.mark.parametrize("activation", pg.ACTIVATIONS)
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_backward_equals_autograd(activation, l2):
    net = pg.Network(pg.Config(hidden=(3, 2, 4), activation=activation, l2=l2, seed=3))
    rng = np.random.default_rng(1)
    for w in net.W:  # larger weights and nonzero biases than at the start: every unit's derivative matters
        w *= 1.5
    net.b = [rng.normal(0, 0.3, b.shape) for b in net.b]
    x = rng.uniform(-1, 1, (5, 2))
    t = np.array([0, 1, 1, 0, 1])

    trace = net.forward(x)
    grads = net.backward(trace, t)
    loss, zs, ys, W, b = torch_pass(net, x, t)

    assert pg.cross_entropy(trace.y[-1][:, 0], t) + l2 / 2 * sum((w * w).sum() for w in net.W) == pytest.approx(loss, rel=1e-12)
    for layer in range(len(net.W)):
        np.testing.assert_allclose(trace.z[layer], zs[layer].detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(trace.y[layer], ys[layer].detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(grads.dz[layer], zs[layer].grad.numpy(), rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(grads.dy[layer], ys[layer].grad.numpy(), rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(grads.dw[layer], W[layer].grad.numpy(), rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(grads.db[layer], b[layer].grad.numpy(), rtol=1e-9, atol=1e-14)
        assert grads.dw[layer].shape == net.W[layer].shape and grads.db[layer].shape == net.b[layer].shape
    if activation == "relu":  # some unit was switched off, so f'(z) = 0 was exercised
        assert any((z <= 0).any() for z in trace.z[:-1])


def test_backward_by_hand():
    """2 inputs, 2 tanh hidden units, 1 sigmoid output, one point: the review's Fig. 1d written out in scalars."""
    net = pg.Network(pg.Config(hidden=(2,), activation="tanh"))
    net.W = [np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[1.5], [-2.0]])]
    net.b = [np.array([0.1, -0.2]), np.array([0.3])]
    x1, x2, t = 0.4, -0.6, 1

    z1 = 0.5 * x1 + 2.0 * x2 + 0.1  # z_j = sum_i w_ij x_i + b_j
    z2 = -1.0 * x1 + 0.25 * x2 - 0.2
    y1, y2 = math.tanh(z1), math.tanh(z2)
    zo = 1.5 * y1 - 2.0 * y2 + 0.3
    yo = 1 / (1 + math.exp(-zo))
    dzo = yo - t  # dE/dz_out for a sigmoid output and cross-entropy
    dy1, dy2 = 1.5 * dzo, -2.0 * dzo  # dE/dy_j = sum_k w_jk dE/dz_k
    dz1, dz2 = dy1 * (1 - y1 ** 2), dy2 * (1 - y2 ** 2)  # dE/dz_j = dE/dy_j f'(z_j)

    trace, grads = pg.point_pass(net, np.array([x1, x2]), t)
    assert trace.z[0][0] == pytest.approx([z1, z2]) and trace.y[0][0] == pytest.approx([y1, y2])
    assert trace.y[1][0, 0] == pytest.approx(yo)
    assert grads.dz[1][0, 0] == pytest.approx(dzo)
    assert grads.dy[1][0, 0] == pytest.approx(dzo / (yo * (1 - yo)))  # dE/dy_out = -t / y for t = 1
    assert grads.dy[0][0] == pytest.approx([dy1, dy2]) and grads.dz[0][0] == pytest.approx([dz1, dz2])
    assert grads.dw[1][:, 0] == pytest.approx([y1 * dzo, y2 * dzo])  # dE/dw_jk = y_j dE/dz_k
    assert grads.dw[0] == pytest.approx(np.array([[x1 * dz1, x1 * dz2], [x2 * dz1, x2 * dz2]]))
    assert grads.db[0] == pytest.approx([dz1, dz2]) and grads.db[1] == pytest.approx([dzo])


def test_a_step_goes_down_the_gradient():
    data = pg.make_dataset("xor", 0.1)
    for optimizer in pg.OPTIMIZERS:
        net = pg.Network(pg.Config(hidden=(4,), optimizer=optimizer, learning_rate=0.01, batch_size=500))
        before = net.loss(data.x_train, data.t_train)
        net.train(data, 5)
        assert net.steps == 5 and net.loss(data.x_train, data.t_train) < before
        assert [r.step for r in net.history] == [5]


def test_retune_keeps_the_weights_and_a_new_architecture_needs_a_new_network():
    net = pg.Network(pg.Config())
    weights = [w.copy() for w in net.W]
    net.retune(learning_rate=0.1, batch_size=8, l2=0.001, optimizer="sgd")
    assert net.config.learning_rate == 0.1 and net.config.optimizer == "sgd"
    assert all((a == b).all() for a, b in zip(weights, net.W))
    with pytest.raises(ValueError):
        net.retune(hidden=(4,))


@pytest.mark.parametrize("hidden", [(), (1,), (17,), (4, 4, 4, 4)])
def test_config_refuses_other_sizes(hidden):
    with pytest.raises(ValueError):
        pg.Config(hidden=hidden)


# ---------------------------------------------------------------------------------------------------------
# The datasets
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(pg.DATASETS))
def test_dataset_shapes_labels_and_seeds(name):
    data = pg.make_dataset(name, noise=0.3, seed=0)
    n_test = round(pg.POINTS * pg.TEST_FRACTION)
    assert data.x_train.shape == (pg.POINTS - n_test, 2) and data.x_test.shape == (n_test, 2)
    assert data.t_train.shape == (pg.POINTS - n_test,) and data.t_test.shape == (n_test,)
    for x, t in ((data.x_train, data.t_train), (data.x_test, data.t_test)):
        assert set(np.unique(t)) == {0, 1}
        assert 0.4 < t.mean() < 0.6  # both classes, about half each, in both splits
        assert np.abs(x).max() <= pg.HALF_SIDE
    same = pg.make_dataset(name, noise=0.3, seed=0)
    assert (same.x_train == data.x_train).all() and (same.t_test == data.t_test).all()
    other_seed = pg.make_dataset(name, noise=0.3, seed=1)
    assert not np.allclose(other_seed.x_train, data.x_train)
    clean = pg.make_dataset(name, noise=0.0, seed=0)
    assert (clean.t_train == data.t_train).all()  # the same points, moved by the noise
    assert 0 < np.abs(clean.x_train - data.x_train).mean() < 0.3
    small = pg.make_dataset(name, noise=0.0, seed=0, n=100, test_fraction=0.2)
    assert small.x_train.shape == (80, 2) and small.x_test.shape == (20, 2)


def test_noise_free_datasets_are_what_they_say():
    sep = pg.make_dataset("separable")
    assert ((sep.x_train.sum(1) > 0) == sep.t_train).mean() > 0.97  # the diagonal separates them
    xor = pg.make_dataset("xor")
    assert ((xor.x_train[:, 0] * xor.x_train[:, 1] > 0) == xor.t_train).all()
    circles = pg.make_dataset("circles")
    assert ((np.hypot(*circles.x_train.T) < 0.5) == circles.t_train).all()
    with pytest.raises(ValueError):
        pg.make_dataset("moon")


# ---------------------------------------------------------------------------------------------------------
# The presets' promises
# ---------------------------------------------------------------------------------------------------------

# The page trains a preset in frames of its steps per frame, a frame every RUN_EVERY_S (0.4 s) at best; in headless
# Chromium on the 2-core CPU the browser managed about one frame a second (benchmarks/playground.py has the
# server's side). 10 s of wall time: at least 10 frames.
FRAMES_IN_10_S = 10


def preset_data(name: str) -> pg.Dataset:
    p = pg.PRESETS[name]
    return pg.make_dataset(p.dataset, p.noise)


def test_spirals_2x8_tanh_reach_95_percent_within_10_seconds_of_steps():
    name = "Spirals, 2×8 tanh"
    p = pg.PRESETS[name]
    assert p.config.hidden == (8, 8) and p.config.activation == "tanh"
    steps = pg.steps_to_accuracy(p.config, preset_data(name), 0.95, max_steps=FRAMES_IN_10_S * p.steps_per_frame)
    assert steps is not None


def test_spirals_need_depth():
    shallow, deep = pg.PRESETS["Spirals need depth: 1 layer"], pg.PRESETS["Spirals need depth: 3 layers"]
    assert len(shallow.config.hidden) == 1 and len(deep.config.hidden) == 3
    assert (shallow.dataset, shallow.noise) == (deep.dataset, deep.noise)
    assert shallow.config.hidden[0] == deep.config.hidden[0]  # the same width: only the depth differs
    steps = 2 * FRAMES_IN_10_S * shallow.steps_per_frame  # 20 s of the page: long enough to see it stall
    data = preset_data("Spirals need depth: 1 layer")
    net = pg.Network(shallow.config)
    net.train(data, steps)
    assert max(r.test_accuracy for r in net.history) < 0.9
    assert pg.steps_to_accuracy(deep.config, data, 0.95, max_steps=FRAMES_IN_10_S * deep.steps_per_frame) is not None


def test_the_fig_1a_preset_has_a_2_unit_last_hidden_layer_and_separates_the_classes_there():
    name = "Fig. 1a: moons straightened"
    p = pg.PRESETS[name]
    assert p.config.hidden[-1] == 2
    data = preset_data(name)
    net = pg.Network(p.config)
    net.train(data, 1000)
    space = pg.hidden_space(net, data)
    # In the hidden layer's plane the output is a straight line's two sides: most training points on their side.
    side = space.train @ space.normal + space.offset > 0
    assert (side == data.t_train).mean() > 0.97


# ---------------------------------------------------------------------------------------------------------
# The views
# ---------------------------------------------------------------------------------------------------------


def test_plane_views_and_point_pass_shapes():
    net = pg.Network(pg.Config(hidden=(5, 3)))
    views = pg.plane_views(net, 20)
    assert views.axis.shape == (20,) and views.output.shape == (20, 20)
    assert [u.shape for u in views.units] == [(20, 20, 5), (20, 20, 3)]
    assert ((views.output > 0) & (views.output < 1)).all()
    # row = y, column = x: the map's corner equals the network at that corner
    assert views.output[-1, 0] == pytest.approx(net.predict(np.array([[-pg.HALF_SIDE, pg.HALF_SIDE]]))[0])
    trace, grads = pg.point_pass(net, np.array([0.2, -0.3]), 1)
    assert [y.shape for y in trace.y] == [(1, 5), (1, 3), (1, 1)]
    assert [w.shape for w in grads.dw] == [(2, 5), (5, 3), (3, 1)]


@pytest.mark.parametrize("hidden, dims", [((4, 2), 2), ((2,), 2), ((8, 8), 3), ((3,), 3), ((6, 16, 5), 3)])
def test_hidden_space_coordinates(hidden, dims):
    data = pg.make_dataset("moons", 0.1)
    net = pg.Network(pg.Config(hidden=hidden))
    space = pg.hidden_space(net, data)
    assert space.dims == dims
    assert space.lines.shape == (2 * pg.GRID_LINES, pg.POINTS_PER_LINE, dims)
    assert space.train.shape == (len(data.x_train), dims) and space.test.shape == (len(data.x_test), dims)
    assert space.normal.shape == (dims,) and 0 < space.explained <= 1 + 1e-9
    if dims == 2:  # the hidden values themselves
        np.testing.assert_allclose(space.train, net.forward(data.x_train).y[-2])
    # the output unit is linear in these coordinates (exactly when nothing was projected away)
    if dims == hidden[-1]:
        np.testing.assert_allclose(pg._sigmoid(space.train @ space.normal + space.offset), net.predict(data.x_train))


@pytest.mark.parametrize("activation", pg.ACTIVATIONS)
def test_a_learning_rate_far_too_high_still_draws(activation):
    from app_pages.figures import playground as figures

    data = pg.make_dataset("spirals", 1.0)
    net = pg.Network(pg.Config(hidden=(16, 16, 16), activation=activation, learning_rate=3.0, batch_size=1,
                               optimizer="sgd"))
    net.train(data, 300)
    views, space = pg.plane_views(net), pg.hidden_space(net, data)
    trace, grads = pg.point_pass(net, data.x_train[0], int(data.t_train[0]))
    # What is drawn is finite (a NaN would draw an empty plane): probabilities in [0, 1], every unit, the 3-D view,
    # the point's forward values and derivatives. Measured: tanh saturates at p = 1.000, relu and sigmoid at 0.76.
    assert all(np.isfinite(w).all() for w in net.W) and np.isfinite(views.output).all()
    assert 0 <= views.output.min() <= views.output.max() <= 1 and all(np.isfinite(u).all() for u in views.units)
    assert np.isfinite(space.train).all() and np.isfinite(space.lines).all() and np.isfinite(space.normal).all()
    assert all(np.isfinite(v).all() for v in trace.z + trace.y + grads.dz + grads.dw + grads.db)
    regions = figures.decision_regions(views, data, data.x_train[0])
    assert all(np.isfinite(np.asarray(t.z, float)).all() for t in regions.data if getattr(t, "z", None) is not None)
    figures.hidden_space(space, data, 3, 16, space.train[0]).to_json()
    figures.network_diagram(net.config.sizes, net.W, trace, grads, 0, "").to_json()
    mosaic = np.asarray(figures.unit_mosaic(views, activation, (2, 15)).data[0].z, float)
    fresh = np.asarray(figures.unit_mosaic(pg.plane_views(pg.Network(net.config)), activation).data[0].z, float)
    assert np.isnan(mosaic).sum() == np.isnan(fresh).sum()  # NaN only in the gaps between the tiles


def test_hidden_space_does_not_flip_between_frames():
    """Between two frames the 3-D view moves no more than the hidden values themselves do. A plain PCA's axes
    turn round now and then (a sign, or the order of two axes, is arbitrary): then the picture jumps."""
    data = pg.make_dataset("spirals", 0.1)
    net = pg.Network(pg.Config(hidden=(8, 8)))
    net.train(data, 200)

    def centred_hidden():
        h = net.forward(data.x_train).y[-2]
        return h - h.mean(0)

    previous, h_before = pg.hidden_space(net, data), centred_hidden()
    assert np.allclose(pg.hidden_space(net, data, previous=previous).train, previous.train)
    for _ in range(20):
        net.train(data, 2)
        frame, h = pg.hidden_space(net, data, previous=previous), centred_hidden()
        assert np.linalg.norm(frame.train - previous.train) < 1.5 * np.linalg.norm(h - h_before)
        previous, h_before = frame, h


# ---------------------------------------------------------------------------------------------------------
# The page's Part 1 in AppTest
# ---------------------------------------------------------------------------------------------------------


def live_page():
    from streamlit.testing.v1 import AppTest

    from conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("app_pages/live.py").run()
    assert not at.exception and not at.error
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def loss(at) -> float:
    return float(metrics(at)["Training loss"])


def click(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception and not at.error
    return at


def chart_titles(at) -> list[str]:
    import json

    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def test_page_opens_with_every_figure():
    at = live_page()
    assert metrics(at)["Step"] == "0" and metrics(at)["Status"] == "paused"
    titles = chart_titles(at)
    for start in ("Decision regions", "Fig. 1a: the input plane as hidden layer 2", "Loss", "Every hidden unit",
                  "Training point 0 at step 0", "Hidden layer 1, unit 1"):
        assert any(t.startswith(start) for t in titles), (start, titles)
    assert "3-D PCA of its 8 units" in " ".join(titles)  # the default network's last hidden layer has 8 units
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 8 + 8 + 1  # a row per unit above the input


def test_step_reset_and_settings_that_keep_or_renew_the_network():
    at = live_page()
    click(at, "pg_step")
    assert metrics(at)["Step"] == "1"
    click(at, "pg_step")
    assert metrics(at)["Step"] == "2" and any("at step 2" in t for t in chart_titles(at))
    at.select_slider(key="pg_lr").set_value(0.1).run()  # learning rate, batch, L2, optimizer: the same network
    at.select_slider(key="pg_batch").set_value(16).run()
    at.select_slider(key="pg_l2").set_value(0.001).run()
    at.segmented_control(key="pg_optimizer").set_value("sgd").run()
    assert metrics(at)["Step"] == "2"
    net = at.session_state["pg_net"]
    assert (net.config.learning_rate, net.config.batch_size, net.config.l2, net.config.optimizer) == (0.1, 16, 0.001, "sgd")
    click(at, "pg_reset")
    assert metrics(at)["Step"] == "0"
    click(at, "pg_step")
    at.slider(key="pg_units_1").set_value(5).run()  # a new architecture: a new network
    assert metrics(at)["Step"] == "0" and at.session_state["pg_net"].config.hidden == (8, 5)
    click(at, "pg_step")
    at.selectbox(key="pg_dataset").set_value("xor").run()  # new data: a new network
    assert metrics(at)["Step"] == "0" and at.session_state["pg_data"].name == "xor"


def test_every_preset_is_within_the_controls_reach():
    from app_pages.learning import playground as part

    for preset in pg.PRESETS.values():
        assert preset.dataset in pg.DATASETS and 0 <= preset.noise <= 1
        assert (preset.steps_per_frame or 0) in part.SPEEDS
        assert preset.config.learning_rate in part.LEARNING_RATES and preset.config.batch_size in part.BATCH_SIZES
        assert preset.config.l2 in part.L2S


def test_a_preset_sets_its_controls_and_trains():
    at = live_page()
    name = "Spirals need depth: 3 layers"
    preset = pg.PRESETS[name]
    click(at, f"pg_preset_{list(pg.PRESETS).index(name)}")
    assert at.selectbox(key="pg_dataset").value == preset.dataset
    assert at.slider(key="pg_noise").value == preset.noise
    assert at.slider(key="pg_layers").value == 3
    assert [at.slider(key=f"pg_units_{k}").value for k in range(3)] == list(preset.config.hidden)
    assert at.segmented_control(key="pg_activation").value == preset.config.activation
    assert at.select_slider(key="pg_lr").value == preset.config.learning_rate
    assert at.select_slider(key="pg_batch").value == preset.config.batch_size
    assert at.select_slider(key="pg_speed").value == preset.steps_per_frame
    assert preset.notice in at.info[0].value
    assert metrics(at)["Status"] == "training…" and int(metrics(at)["Step"].replace(",", "")) == preset.steps_per_frame
    click(at, "pg_pause")
    assert metrics(at)["Status"] == "paused"
    step = metrics(at)["Step"]
    at.run()
    assert metrics(at)["Step"] == step  # paused: no more steps
    click(at, "pg_reset")  # the same preset from the start: its notice stays
    assert metrics(at)["Step"] == "0" and preset.notice in at.info[0].value
    at.slider(key="pg_layers").set_value(1).run()  # another network: not the preset's any more
    assert metrics(at)["Step"] == "0" and not at.info


def test_training_in_one_session_keeps_the_loss_going_down():
    at = live_page()
    at.selectbox(key="pg_dataset").set_value("xor").run()
    at.select_slider(key="pg_speed").set_value(20).run()
    start = loss(at)
    click(at, "pg_train")
    losses = [loss(at)]
    for _ in range(5):
        at.run()  # each run of the page is one frame of training: 20 steps
        assert not at.exception
        losses.append(loss(at))
    assert metrics(at)["Step"] == "120"
    assert losses[0] < start and losses[-1] < 0.5 * losses[0]
    assert sum(b < a for a, b in zip(losses, losses[1:])) >= 4  # down from frame to frame, bar the odd one
    # "max": as many steps as fit in the page's time budget
    at.select_slider(key="pg_speed").set_value(0).run()
    assert int(metrics(at)["Step"].replace(",", "")) > 120 + 100


def test_training_pauses_by_itself_after_the_time_limit():
    from app_pages.learning import playground as part

    at = live_page()
    click(at, "pg_train")
    at.session_state["pg_started"] = at.session_state["pg_started"] - part.MAX_TRAINING_SECONDS - 1
    at.run()
    assert not at.exception and metrics(at)["Status"] == "paused" and not at.session_state["pg_running"]


def test_the_chosen_point_and_unit():
    at = live_page()
    at.slider(key="pg_point").set_value(10).run()
    x = at.session_state["pg_data"].x_train[10]
    assert any(t.startswith("Training point 10 ") for t in chart_titles(at))
    assert f"x = ({x[0]:+.2f}, {x[1]:+.2f})" in " ".join(m.value for m in at.markdown)
    at.selectbox(key="pg_unit").set_value("2.3").run()
    assert "Hidden layer 2, unit 3: its output y" in chart_titles(at)
    at.slider(key="pg_layers").set_value(1).run()  # the unit chosen is gone: back to the first one
    assert not at.exception and "Hidden layer 1, unit 1: its output y" in chart_titles(at)


def test_every_dataset_with_every_activation():
    at = live_page()
    for dataset in pg.DATASETS:
        at.selectbox(key="pg_dataset").set_value(dataset).run()
        for activation in pg.ACTIVATIONS:
            at.segmented_control(key="pg_activation").set_value(activation).run()
            click(at, "pg_step")
            assert metrics(at)["Step"] == "1", (dataset, activation)
            assert at.session_state["pg_net"].config.activation == activation
    at.slider(key="pg_layers").set_value(3).run()
    at.slider(key="pg_units_2").set_value(2).run()  # a 2-unit last hidden layer: Fig. 1a in 2-D
    assert not at.exception and any("its 2 units' outputs as the axes" in t for t in chart_titles(at))


def test_part_1_keeps_its_network_and_controls_while_part_2_is_shown():
    at = live_page()
    at.slider(key="pg_units_0").set_value(5).run()
    click(at, "pg_step")
    at.segmented_control(key="part").set_value("Train a digit network").run()
    assert not at.exception
    at.segmented_control(key="part").set_value("Figure 1, to play with").run()
    assert not at.exception and metrics(at)["Step"] == "1"
    assert at.slider(key="pg_units_0").value == 5 and at.session_state["pg_net"].config.hidden == (5, 8)
