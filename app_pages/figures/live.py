"""The live digit training's figures: learning curves against the clock, first-layer weights, test digits."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.charts import ACCENT, MUTED

ERROR = "#d62728"
RIGHT = "#2ca02c"


def learning_curves(points: list[dict], reference: list[dict], budget: float) -> go.Figure:
    """Training loss and accuracy on the watched test digits against training time: this run (points) and the
    shipped run (reference, dotted), each a list of {seconds, train_loss, watch_accuracy}."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss (cross-entropy)",
                                                        "accuracy on 1,000 test digits"))
    for run, name, style in ((reference, "our 30 s run", dict(color=MUTED, dash="dot")),
                             (points, "your network", dict(color=ACCENT, width=3))):
        if not run:
            continue
        seconds = [p["seconds"] for p in run]
        fig.add_scatter(x=seconds, y=[p["train_loss"] for p in run], name=name, line=style, legendgroup=name,
                        row=1, col=1)
        fig.add_scatter(x=seconds, y=[p["watch_accuracy"] for p in run], name=name, line=style,
                        legendgroup=name, showlegend=False, row=1, col=2)
    longest = max([budget] + [p["seconds"] for p in reference[-1:]])
    fig.update_xaxes(title="seconds of training", range=[0, longest * 1.02])
    fig.update_yaxes(type="log", dtick=1, row=1, col=1)  # ticks at powers of ten
    fig.update_yaxes(tickformat=".1%", range=[0.9, 1.0], row=1, col=2)
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25),
                      uirevision="live")  # keep the viewer's zoom between refreshes
    return fig


def weight_mosaic(weights: np.ndarray, count: int, columns: int, title: str) -> go.Figure:
    """The first `count` first-layer weight images (N, h, w), tiled; each scaled to its own largest |w|, so that
    red = positive, blue = negative, white = 0."""
    weights = weights[:count]
    n, h, w = weights.shape
    rows, gap = -(-n // columns), 1
    mosaic = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, np.float32)
    for k, image in enumerate(weights):
        r, c = divmod(k, columns)
        mosaic[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = image / (np.abs(image).max() or 1)
    return go.Figure(
        go.Heatmap(z=mosaic, colorscale="RdBu", reversescale=True, zmin=-1, zmax=1, showscale=False,
                   hoverinfo="skip", hoverongaps=False),
        layout=dict(title=dict(text=title), height=(50 if title else 10) + rows * 42,
                    margin=dict(l=0, r=0, t=50 if title else 10, b=0),
                    xaxis=dict(visible=False, constrain="domain"),
                    yaxis=dict(visible=False, autorange="reversed", scaleanchor="x")),
    )


def digit_grid(images: np.ndarray, truths: np.ndarray, predictions: np.ndarray | None, columns: int = 10) -> go.Figure:
    """Test digits (N, 28, 28) uint8, tiled, each with the network's current answer under it: green when right,
    red (and a red frame) when wrong; grey before any training."""
    n, side = len(images), images.shape[1]
    rows, pad, label = -(-n // columns), 2, 12
    cell_w, cell_h = side + 2 * pad, side + 2 * pad + label
    canvas = np.full((rows * cell_h, columns * cell_w, 3), 255, np.uint8)
    annotations = []
    for k in range(n):
        r, c = divmod(k, columns)
        top, left = r * cell_h, c * cell_w
        wrong = predictions is not None and predictions[k] != truths[k]
        if wrong:
            canvas[top: top + side + 2 * pad, left: left + cell_w] = (214, 39, 40)
        canvas[top + pad: top + pad + side, left + pad: left + pad + side] = 255 - images[k][..., None]
        text = "·" if predictions is None else str(int(predictions[k]))
        annotations.append(dict(x=left + cell_w / 2, y=top + side + 2 * pad + label / 2, text=f"<b>{text}</b>",
                                showarrow=False, font=dict(size=13, color=MUTED if predictions is None
                                                           else ERROR if wrong else RIGHT)))
    fig = go.Figure(go.Image(z=canvas, hoverinfo="skip"))
    fig.update_layout(height=70 + rows * 62, margin=dict(l=0, r=0, t=10, b=0), annotations=annotations,
                      xaxis=dict(visible=False), yaxis=dict(visible=False))
    return fig
