"""Part 1 of the live page's figures (app_pages/learning/playground.py): the decision regions, the loss curves,
Fig. 1a's hidden space, the network diagram of Fig. 1c-d, and the hidden units' maps.

They are redrawn several times a second while the network trains, so they are kept light: coarse grids, few
traces (the lines of a grid or of a diagram batched into one trace, NaN between two pieces), numpy arrays
(sent to the browser as binary, not as text), and every layout given to go.Figure in one go (see ui.charts).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from models import playground as pg
from ui.charts import ACCENT

CLASS_COLOURS = ("#3969AC", ACCENT)  # class 0 blue, class 1 the accent orange
# Probability of class 1 as pale tints, so that the points stay readable on top.
REGION_SCALE = [[0.0, "#8fb0dd"], [0.5, "#ffffff"], [1.0, "#f4a58c"]]
# A unit's output, low to high (the same two hues, stronger).
UNIT_SCALE = [[0.0, "#3969AC"], [0.5, "#f7f7f7"], [1.0, ACCENT]]
# dE/dz, negative to positive (other hues than the forward values': it is another quantity).
GRADIENT_SCALE = [[0.0, "#7F3C8D"], [0.5, "#f7f7f7"], [1.0, "#11A579"]]
# The classes as a 2-colour scale, so that a trace's colours are its labels (0/1): an array of colour names
# would be validated one by one (30 ms for 500 points).
CLASS_SCALE = [[0.0, CLASS_COLOURS[0]], [0.5, CLASS_COLOURS[0]], [0.5, CLASS_COLOURS[1]], [1.0, CLASS_COLOURS[1]]]
WEIGHT_COLOURS = {+1: ACCENT, -1: "#3969AC"}
EDGE_WIDTHS = (0.6, 1.5, 3.0, 5.5)  # |dE/dw| in quarters of the largest one
GRID_COLOUR = "rgba(31,41,51,0.35)"
MARGIN = dict(l=0, r=0, t=40, b=0)
SQUARE = [-pg.HALF_SIDE * 1.02, pg.HALF_SIDE * 1.02]


def _polylines(lines: np.ndarray) -> list[np.ndarray]:
    """(n_lines, points, d) -> d flat float32 arrays with NaN between the lines: one trace draws them all."""
    n, points, d = lines.shape
    padded = np.concatenate([lines, np.full((n, 1, d), np.nan)], 1).reshape(-1, d).astype(np.float32)
    return [padded[:, k] for k in range(d)]


def _class_marker(t: np.ndarray, **marker) -> dict:
    return dict(color=t.astype(np.int8), cmin=0, cmax=1, colorscale=CLASS_SCALE, **marker)


def _points(x: np.ndarray, t: np.ndarray, name: str, symbol: str, size: float, opacity: float = 0.9,
            line: dict | None = None) -> go.Scatter:
    return go.Scatter(x=x[:, 0].astype(np.float32), y=x[:, 1].astype(np.float32), mode="markers", name=name,
                      customdata=t, hovertemplate="x = (%{x:.2f}, %{y:.2f}), class %{customdata}<extra>" + name + "</extra>",
                      marker=_class_marker(t, symbol=symbol, size=size, opacity=opacity,
                                           line=line or dict(color="white", width=0.6)))


def _chosen(x, name: str = "chosen point") -> go.Scatter:
    return go.Scatter(x=[float(x[0])], y=[float(x[1])], mode="markers", name=name, hoverinfo="skip",
                      marker=dict(symbol="circle-open", size=18, color="#1f2933", line=dict(width=3)))


def plane_axes(title: str) -> dict:
    return dict(xaxis=dict(range=SQUARE, showgrid=False, zeroline=False, constrain="domain"),
                yaxis=dict(range=SQUARE, showgrid=False, zeroline=False, scaleanchor="x"),
                title=dict(text=title), margin=MARGIN, plot_bgcolor="white")


def decision_regions(views: pg.PlaneViews, data: pg.Dataset, chosen=None, show_test: bool = True,
                     height: int = 460) -> go.Figure:
    """The network's probability of class 1 over the input square, the training points (dots) and the test
    points (crosses), Fig. 1a's grid of lines faintly, and a ring round the point chosen for the diagram."""
    gx, gy = _polylines(pg.grid_lines(pg.GRID_LINES, 2))
    traces = [
        go.Heatmap(x=views.axis.astype(np.float32), y=views.axis.astype(np.float32), z=views.output.astype(np.float32),
                   zmin=0, zmax=1, colorscale=REGION_SCALE, showscale=False, zsmooth="best",
                   hovertemplate="(%{x:.2f}, %{y:.2f}): P(class 1) = %{z:.2f}<extra></extra>"),
        go.Scatter(x=gx, y=gy, mode="lines", line=dict(color=GRID_COLOUR, width=0.5), hoverinfo="skip", name="grid",
                   showlegend=False),
        _points(data.x_train, data.t_train, "train", "circle", 6),
    ]
    if show_test:
        traces.append(_points(data.x_test, data.t_test, "test", "x", 6, 0.8, line=dict(width=0)))
    if chosen is not None:
        traces.append(_chosen(chosen))
    layout = plane_axes("Decision regions: P(class 1) over the input plane")
    layout.update(height=height, legend=dict(orientation="h", y=-0.12), uirevision="plane")
    return go.Figure(traces, layout=layout)


def loss_curves(history: list[pg.Record], height: int = 280) -> go.Figure:
    """Training and test loss (cross-entropy) against the step, on a log scale."""
    steps = np.array([r.step for r in history], np.float32)
    train = np.array([r.train_loss for r in history], np.float32)
    test = np.array([r.test_loss for r in history], np.float32)
    return go.Figure(
        [go.Scatter(x=steps, y=train, mode="lines", name="training loss", line=dict(color=ACCENT)),
         go.Scatter(x=steps, y=test, mode="lines", name="test loss", line=dict(color="#3969AC", dash="dot"))],
        layout=dict(title=dict(text="Loss (cross-entropy)"), height=height, margin=dict(l=10, r=10, t=40, b=10),
                    xaxis=dict(title=dict(text="step"), rangemode="tozero"), yaxis=dict(type="log", tickformat=".1~g"),
                    legend=dict(orientation="h", y=-0.3), hovermode="x unified"),
    )


def _plane_polygon(normal: np.ndarray, offset: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray | None:
    """The polygon where the plane normal . c + offset = 0 cuts the box [lo, hi] (3-D), corners in order."""
    corners = np.array([[lo[0] if i & 1 == 0 else hi[0], lo[1] if i & 2 == 0 else hi[1], lo[2] if i & 4 == 0 else hi[2]]
                        for i in range(8)])
    values = corners @ normal + offset
    cuts = []
    for a in range(8):
        for bit in (1, 2, 4):
            b = a | bit
            if b != a and (values[a] > 0) != (values[b] > 0):
                s = values[a] / (values[a] - values[b])
                cuts.append(corners[a] + s * (corners[b] - corners[a]))
    if len(cuts) < 3:
        return None
    cuts = np.array(cuts)
    centre = cuts.mean(0)
    u = cuts[0] - centre
    u /= np.linalg.norm(u) or 1
    v = np.cross(normal / (np.linalg.norm(normal) or 1), u)
    order = np.argsort(np.arctan2((cuts - centre) @ v, (cuts - centre) @ u))
    return cuts[order]


def hidden_space(space: pg.HiddenSpace, data: pg.Dataset, layer: int, units: int, chosen=None,
                 height: int = 460) -> go.Figure:
    """Fig. 1a: the input square's grid of lines and the training points, as hidden layer `layer` (of `units`
    units) maps them. 2-D: the output unit's regions, split by a straight line; 3-D: its plane, where it cuts
    the box."""
    lines = space.lines
    n = lines.shape[0] // 2
    hover = "class %{customdata}<extra>train</extra>"
    if space.dims == 2:
        vx, vy = _polylines(lines[:n])
        hx, hy = _polylines(lines[n:])
        everything = np.concatenate([lines.reshape(-1, 2), space.train])
        lo, hi = everything.min(0), everything.max(0)
        pad = 0.05 * (hi - lo).max() + 1e-3
        lo, hi = lo - pad, hi + pad
        gx, gy = np.linspace(lo[0], hi[0], 40), np.linspace(lo[1], hi[1], 40)
        p = pg._sigmoid(space.normal[0] * gx[None, :] + space.normal[1] * gy[:, None] + space.offset)
        traces = [
            go.Heatmap(x=gx.astype(np.float32), y=gy.astype(np.float32), z=p.astype(np.float32), zmin=0, zmax=1,
                       colorscale=REGION_SCALE, showscale=False, zsmooth="best",
                       hovertemplate="P(class 1) = %{z:.2f}<extra>output unit</extra>"),
            go.Scatter(x=vx, y=vy, mode="lines", line=dict(color=GRID_COLOUR, width=1), hoverinfo="skip",
                       name="grid lines x₁ = const"),
            go.Scatter(x=hx, y=hy, mode="lines", line=dict(color="rgba(31,41,51,0.6)", width=1, dash="dot"),
                       hoverinfo="skip", name="grid lines x₂ = const"),
            go.Scatter(x=space.train[:, 0].astype(np.float32), y=space.train[:, 1].astype(np.float32), mode="markers",
                       customdata=data.t_train, hovertemplate=hover, name="training points",
                       marker=_class_marker(data.t_train, size=5, line=dict(color="white", width=0.5))),
        ]
        if chosen is not None:
            traces.append(_chosen(chosen))
        layout = dict(title=dict(text=f"Fig. 1a: the input plane as hidden layer {layer} sees it<br>"
                                      "<sup>its 2 units' outputs as the axes</sup>"),
                      xaxis=dict(range=[lo[0], hi[0]], showgrid=False, zeroline=False, constrain="domain"),
                      yaxis=dict(range=[lo[1], hi[1]], showgrid=False, zeroline=False, scaleanchor="x"),
                      height=height, margin=MARGIN, plot_bgcolor="white", legend=dict(orientation="h", y=-0.12),
                      uirevision="hidden2")
        return go.Figure(traces, layout=layout)

    lx, ly, lz = _polylines(lines)
    traces = [
        go.Scatter3d(x=lx, y=ly, z=lz, mode="lines", line=dict(color="rgba(31,41,51,0.45)", width=2),
                     hoverinfo="skip", name="grid lines"),
        go.Scatter3d(x=space.train[:, 0].astype(np.float32), y=space.train[:, 1].astype(np.float32),
                     z=space.train[:, 2].astype(np.float32), mode="markers", customdata=data.t_train,
                     hovertemplate=hover, name="training points", marker=_class_marker(data.t_train, size=2.5)),
    ]
    everything = np.concatenate([lines.reshape(-1, 3), space.train])
    lo, hi = everything.min(0), everything.max(0)
    polygon = _plane_polygon(space.normal, space.offset, lo, hi)
    if polygon is not None:
        k = len(polygon)
        traces.append(go.Mesh3d(x=polygon[:, 0], y=polygon[:, 1], z=polygon[:, 2], i=[0] * (k - 2),
                                j=list(range(1, k - 1)), k=list(range(2, k)), color="#1f2933", opacity=0.15,
                                hoverinfo="skip", name="output = 0.5", showlegend=True))
    if chosen is not None:
        traces.append(go.Scatter3d(x=[chosen[0]], y=[chosen[1]], z=[chosen[2]], mode="markers", name="chosen point",
                                   hoverinfo="skip", marker=dict(size=7, color="#1f2933", symbol="circle-open")))
    axis = dict(title=dict(text=""), showticklabels=False)
    return go.Figure(traces, layout=dict(
        title=dict(text=f"Fig. 1a: the input plane as hidden layer {layer} sees it<br>"
                        f"<sup>3-D PCA of its {units} units ({space.explained:.0%} of the variance)</sup>"),
        scene=dict(xaxis=dict(axis, range=[lo[0], hi[0]]), yaxis=dict(axis, range=[lo[1], hi[1]]),
                   zaxis=dict(axis, range=[lo[2], hi[2]]), aspectmode="cube"),
        height=height, margin=MARGIN, legend=dict(orientation="h", y=-0.05), uirevision="hidden3"))


def network_diagram(sizes: tuple[int, ...], weights: list[np.ndarray], trace: pg.Trace, grads: pg.Gradients,
                    target: int, title: str, height: int | None = None) -> go.Figure:
    """Fig. 1c-d for one point: every unit as a node, filled by its forward value y and ringed by its backward
    dE/dz; every weight as an edge, coloured by its sign, as wide as its dE/dw. Hover shows the numbers."""
    depth = len(sizes)
    tallest = max(sizes)
    pos = [np.column_stack([np.full(n, k, float), (n - 1) / 2 - np.arange(n)])
           for k, n in enumerate(sizes)]  # (units, 2) per layer: column k, unit 1 on top, centred vertically
    values = [trace.x[0]] + [y[0] for y in trace.y]  # y per layer, the input's x first
    zs = [None] + [z[0] for z in trace.z]
    dys = [None] + [d[0] for d in grads.dy]
    dzs = [None] + [d[0] for d in grads.dz]
    names = ["input"] + [f"hidden {k}" for k in range(1, depth - 1)] + ["output"]

    traces = []
    # Edges, batched: one trace per (sign of w, width bin of |dE/dw|).
    largest = max(float(np.abs(dw).max()) for dw in grads.dw) or 1.0
    segments: dict[tuple[int, int], list] = {}
    mid_x, mid_y, mid_text = [], [], []
    for layer, (W, dW) in enumerate(zip(weights, grads.dw)):
        a, b = pos[layer], pos[layer + 1]
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                key = (1 if W[i, j] >= 0 else -1, min(int(4 * abs(dW[i, j]) / largest), 3))
                segments.setdefault(key, []).append((a[i], b[j]))
                mid_x.append((a[i, 0] + b[j, 0]) / 2)
                mid_y.append((a[i, 1] + b[j, 1]) / 2)
                below = "x" if layer == 0 else "y"
                mid_text.append(f"w from {names[layer]} {below}{i + 1} to {names[layer + 1]} unit {j + 1}<br>"
                                f"w = {W[i, j]:+.3f}<br>∂E/∂w = {below}{i + 1} · ∂E/∂z{j + 1} = {dW[i, j]:+.2e}")
    for (sign, width), pairs in sorted(segments.items()):
        xy = np.array(pairs)  # (edges, 2 ends, 2)
        padded = np.concatenate([xy, np.full((len(xy), 1, 2), np.nan)], 1).reshape(-1, 2).astype(np.float32)
        traces.append(go.Scatter(x=padded[:, 0], y=padded[:, 1], mode="lines", hoverinfo="skip", showlegend=False,
                                 line=dict(color=WEIGHT_COLOURS[sign], width=EDGE_WIDTHS[width]), opacity=0.65))
    traces.append(go.Scatter(x=np.array(mid_x, np.float32), y=np.array(mid_y, np.float32), mode="markers",
                             text=mid_text, hovertemplate="%{text}<extra></extra>", showlegend=False,
                             marker=dict(size=7, color="rgba(0,0,0,0)")))

    # Nodes: fill = y (forward), ring = dE/dz (backward).
    xy = np.concatenate(pos)
    y_all = np.concatenate(values)
    dz_all = np.concatenate([np.full(sizes[0], np.nan)] + [d for d in dzs[1:]])
    ring_max = float(np.nanmax(np.abs(dz_all))) or 1.0
    hover = []
    for k in range(depth):
        for u in range(sizes[k]):
            if k == 0:
                hover.append(f"<b>input x{u + 1}</b> = {values[0][u]:+.3f}")
            else:
                unit = "output" if k == depth - 1 else f"{names[k]}, unit {u + 1}"
                hover.append(f"<b>{unit}</b><br>z = Σ w·y + b = {zs[k][u]:+.3f}<br>y = f(z) = {values[k][u]:+.3f}"
                             f"<br>∂E/∂y = {dys[k][u]:+.2e}<br>∂E/∂z = {dzs[k][u]:+.2e}")
    small = tallest <= 8  # the values written in the units; under them, dE/dz too when there is room
    roomy = tallest <= 5
    traces.append(go.Scatter(
        x=xy[:, 0], y=xy[:, 1], mode="markers+text" if small else "markers", text=[f"{v:+.2f}" for v in y_all],
        textposition="middle center", textfont=dict(size=11, color="#1f2933"), hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>", showlegend=False,
        marker=dict(size=34 if small else 20, color=y_all, cmin=-1, cmax=1, colorscale=UNIT_SCALE,
                    line=dict(color=np.nan_to_num(dz_all), cmin=-ring_max, cmax=ring_max, colorscale=GRADIENT_SCALE,
                              width=5))))
    if roomy:  # dE/dz written under each unit above the input
        below = xy[sizes[0]:]
        traces.append(go.Scatter(x=below[:, 0], y=below[:, 1] - 0.42, mode="text", hoverinfo="skip", showlegend=False,
                                 text=[f"{d:+.1e}" for d in dz_all[sizes[0]:]],
                                 textfont=dict(size=10, color="#11A579")))
    annotations = [dict(x=k, y=(tallest - 1) / 2 + 0.8, text=f"<b>{names[k]}</b>", showarrow=False,
                        font=dict(size=12)) for k in range(depth)]
    annotations.append(dict(x=depth - 1, y=-0.9, showarrow=False, font=dict(size=11),
                            text=f"target t = {target}<br>∂E/∂z = y − t"))
    return go.Figure(traces, layout=dict(
        title=dict(text=title), height=height or int(np.clip(190 + 48 * tallest, 380, 640)), margin=dict(l=10, r=10, t=50, b=10), plot_bgcolor="white",
        xaxis=dict(visible=False, range=[-0.5, depth - 0.5]),
        yaxis=dict(visible=False, range=[-(tallest - 1) / 2 - 0.8, (tallest - 1) / 2 + 1.1]),
        annotations=annotations, hoverlabel=dict(align="left")))


def _unit_scaled(y: np.ndarray, activation: str) -> np.ndarray:
    """A unit's outputs mapped onto [0, 1] for the colour scale: tanh from [-1, 1], sigmoid as it is, ReLU by
    its largest value on the plane."""
    if activation == "tanh":
        return (y + 1) / 2
    if activation == "relu":
        return y / np.maximum(y.max(axis=(0, 1), keepdims=True), 1e-9)
    return y


def unit_mosaic(views: pg.PlaneViews, activation: str, selected: tuple[int, int] | None = None,
                step: int = 2) -> go.Figure:
    """Every hidden unit's output over the input square, one small map each: a row per layer, a column per
    unit (every `step`-th grid point). `selected` (layer, unit), both from 0, is outlined."""
    tiles = [_unit_scaled(u[::step, ::step], activation) for u in views.units]  # (r, r, units) per layer
    r = tiles[0].shape[0]
    gap = 2
    columns = max(t.shape[2] for t in tiles)
    mosaic = np.full((len(tiles) * (r + gap) - gap, columns * (r + gap) - gap), np.nan, np.float32)
    for row, t in enumerate(tiles):
        for col in range(t.shape[2]):
            # top row of the mosaic = layer 1; each tile's row 0 (y = -1) at its bottom, as in the plane
            mosaic[row * (r + gap): row * (r + gap) + r, col * (r + gap): col * (r + gap) + r] = t[::-1, :, col]
    shapes = []
    if selected is not None:
        row, col = selected
        shapes.append(dict(type="rect", x0=col * (r + gap) - 1.5, x1=col * (r + gap) + r + 0.5,
                           y0=row * (r + gap) - 1.5, y1=row * (r + gap) + r + 0.5, line=dict(color="#1f2933", width=3)))
    centres = np.arange(columns) * (r + gap) + (r - 1) / 2
    rows = np.arange(len(tiles)) * (r + gap) + (r - 1) / 2
    return go.Figure(
        go.Heatmap(z=mosaic, zmin=0, zmax=1, colorscale=UNIT_SCALE, showscale=False, hoverongaps=False,
                   hovertemplate="%{z:.2f}<extra></extra>"),
        layout=dict(title=dict(text="Every hidden unit's output over the input plane"),
                    height=70 + 62 * len(tiles), margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
                    xaxis=dict(tickvals=centres, ticktext=[f"unit {c + 1}" for c in range(columns)], showgrid=False,
                               zeroline=False, side="bottom", tickfont=dict(size=10), constrain="domain"),
                    yaxis=dict(tickvals=rows, ticktext=[f"layer {k + 1}" for k in range(len(tiles))], showgrid=False,
                               zeroline=False, autorange="reversed", scaleanchor="x"),
                    shapes=shapes))


def unit_map(views: pg.PlaneViews, layer: int, unit: int, activation: str, data: pg.Dataset,
             height: int = 360) -> go.Figure:
    """One hidden unit's output y over the input square, with the training points."""
    y = views.units[layer][:, :, unit]
    lo, hi = {"tanh": (-1, 1), "sigmoid": (0, 1)}.get(activation, (0, max(float(y.max()), 1e-9)))
    layout = plane_axes(f"Hidden layer {layer + 1}, unit {unit + 1}: its output y")
    layout.update(height=height, showlegend=False)
    return go.Figure(
        [go.Heatmap(x=views.axis.astype(np.float32), y=views.axis.astype(np.float32), z=y.astype(np.float32),
                    zmin=lo, zmax=hi, colorscale=UNIT_SCALE, zsmooth="best", colorbar=dict(thickness=10, len=0.8),
                    hovertemplate="(%{x:.2f}, %{y:.2f}): y = %{z:.2f}<extra></extra>"),
         _points(data.x_train, data.t_train, "train", "circle", 4, 0.6)],
        layout=layout)
