"""What every page shares: the cached model loader, the model card and the training curves.

Kept free of torch at import time, so the home page stays light; each model module is
imported only by the page (and the loader call) that needs it.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

# One colour for "the answer" everywhere, one for everything else: readable on a projector.
ACCENT = "#e4572e"
MUTED = "#9aa5b1"


@st.cache_resource(show_spinner="Loading the model…")
def load_model(name: str):
    """Load models/<name> once per server process, on the best device; shared by all sessions.

    Returns (model, meta). Inference runs under torch.inference_mode in eval mode, which only
    reads the weights, so concurrent sessions can share one model safely.
    """
    module = importlib.import_module(f"models.{name}")
    return module.load()


WEIGHTS_DIR = Path(__file__).resolve().parent / "models" / "weights"


@st.cache_data
def model_meta(name: str) -> dict:
    """A checkpoint's JSON alone (no torch): for the home page's cards."""
    return json.loads((WEIGHTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


@st.cache_resource
def device_label() -> str:
    from models.common import device_name

    return device_name()


def probability_bars(labels: list[str], probabilities, winner: int | None, title: str) -> go.Figure:
    """A bar per class; the winner (if any) in the accent colour."""
    colours = [ACCENT if i == winner else MUTED for i in range(len(labels))]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=[float(p) for p in probabilities],
            marker_color=colours,
            text=[f"{p:.0%}" for p in probabilities],
            textposition="outside",
            hovertemplate="%{x}: %{y:.2%}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        yaxis=dict(range=[0, 1.15], tickformat=".0%", title="probability"),
        xaxis=dict(type="category", title=None),
        height=320,
        margin=dict(l=10, r=10, t=50, b=10),
        showlegend=False,
    )
    return fig


def training_curves(curve: list[dict], metric: str = "accuracy") -> go.Figure:
    """Loss and a metric per epoch, for training and test, from the checkpoint's JSON."""
    from plotly.subplots import make_subplots

    epochs = [row["epoch"] for row in curve]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss (cross-entropy)", metric))
    for split, dash in (("train", "solid"), ("test", "dot")):
        fig.add_scatter(x=epochs, y=[r[f"{split}_loss"] for r in curve], name=f"{split} loss",
                        line=dict(dash=dash), row=1, col=1)
        fig.add_scatter(x=epochs, y=[r[f"{split}_{metric}"] for r in curve], name=f"{split} {metric}",
                        line=dict(dash=dash), row=1, col=2)
    fig.update_xaxes(title="epoch", dtick=1 if len(epochs) <= 20 else None)
    fig.update_yaxes(type="log", dtick=1, row=1, col=1)  # ticks at powers of ten
    fig.update_yaxes(tickformat=".2%", row=1, col=2)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.3))
    return fig


def model_card(meta: dict, metric_lines: list[str]) -> None:
    """The model card: architecture, size, measured metrics, training and data provenance."""
    training, data = meta["training"], meta["data"]
    st.markdown(
        "\n".join(
            [
                f"- **Architecture:** {meta['architecture']}",
                f"- **Parameters:** {meta['parameters']:,}",
                *[f"- {line}" for line in metric_lines],
                f"- **Training:** {training['seconds'] / 60:.1f} min on {training['hardware']}"
                f" ({training.get('precision', 'fp32')}, torch {training['torch']})",
                f"- **Reproduce:** `{training['command']}`",
                f"- **Data:** {data['dataset']} — license: {data['license']}",
            ]
        )
    )


def feature_grid(maps, count: int, columns: int = 8, title: str = "") -> go.Figure:
    """The `count` most active feature maps of one layer, tiled into one heatmap.

    maps: (C, H, W) array of activations. Each map is scaled to its own [0, 1] so that weak
    and strong maps are both visible; the hover tells the channel.
    """

    strongest = np.argsort(-maps.mean(axis=(1, 2)))[:count]
    c, h, w = len(strongest), maps.shape[1], maps.shape[2]
    rows = -(-c // columns)
    gap = 1
    mosaic = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, np.float32)
    channel = np.full(mosaic.shape, -1)
    for k, ch in enumerate(strongest):
        m = maps[ch]
        m = (m - m.min()) / (np.ptp(m) or 1.0)
        r, q = divmod(k, columns)
        mosaic[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = m
        channel[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = ch
    fig = go.Figure(
        go.Heatmap(z=mosaic, customdata=channel, colorscale="Viridis", showscale=False,
                   hovertemplate="channel %{customdata}<extra></extra>", hoverongaps=False)
    )
    fig.update_yaxes(autorange="reversed", visible=False, scaleanchor="x")
    fig.update_xaxes(visible=False)
    fig.update_layout(title=title, height=60 + rows * 40, margin=dict(l=0, r=0, t=50, b=0),
                      plot_bgcolor="rgba(0,0,0,0)")
    return fig


def image_heatmap(image, title: str = "", height: int = 300) -> go.Figure:
    """A small grey image (H, W) in [0, 1] drawn pixel by pixel, values on hover."""
    fig = go.Figure(go.Heatmap(z=image, colorscale="gray", zmin=0, zmax=1, showscale=False,
                               hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", visible=False, scaleanchor="x")
    fig.update_xaxes(visible=False)
    fig.update_layout(title=title, height=height, margin=dict(l=0, r=0, t=40, b=0))
    return fig


# Evidence heatmaps: no evidence is see-through, strong evidence glows yellow-white.
HEAT_COLOURS = [[0.0, "rgba(0,0,0,0)"], [0.25, "rgba(120,20,160,0.35)"], [0.5, "rgba(230,60,60,0.7)"],
                [0.75, "rgba(255,160,0,0.85)"], [1.0, "rgba(255,255,170,0.95)"]]
PHOTO_DISPLAY_SIDE = 640  # pixels sent to the browser for a photo (it is shown smaller than that)


def image_uri(image) -> str:
    """A PIL image as a JPEG data URI."""
    import base64
    import io

    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def photo_with_heatmap(image, heat, opacity: float, title: str = "", box=None, cells: int = 96) -> go.Figure:
    """The photo with a heatmap (H, W) in [0, 1] laid over it; `box` (l, t, r, b) outlines a region.

    The photo travels as a JPEG of at most PHOTO_DISPLAY_SIDE pixels, the heatmap subsampled to
    about `cells` columns: smooth enough, and light in the browser.
    """
    w, h = image.size
    shown = image.copy()
    shown.thumbnail((PHOTO_DISPLAY_SIDE, PHOTO_DISPLAY_SIDE))
    scale = w / shown.width  # stretch the shrunk JPEG back over the photo's pixel coordinates
    fig = go.Figure(go.Image(source=image_uri(shown), dx=scale, dy=scale, hoverinfo="skip"))
    step = max(1, round(w / cells))
    z = heat[::step, ::step].astype("float32")
    if box is not None:  # outside the region the network saw there is no evidence either way: transparent
        rows, cols = np.arange(z.shape[0]) * step, np.arange(z.shape[1]) * step
        outside = ((rows < box[1]) | (rows >= box[3]))[:, None] | ((cols < box[0]) | (cols >= box[2]))[None, :]
        z[outside] = np.nan
    fig.add_heatmap(z=z, x0=step / 2, dx=step, y0=step / 2, dy=step, zmin=0, zmax=1, zsmooth="best",
                    colorscale=HEAT_COLOURS, opacity=opacity, showscale=False, hoverongaps=False,
                    hovertemplate="evidence %{z:.2f}<extra></extra>")
    if box is not None and (box[2] - box[0] < w or box[3] - box[1] < h):
        fig.add_shape(type="rect", x0=box[0], y0=box[1], x1=box[2], y1=box[3], line=dict(color="white", dash="dash"))
    fig.update_xaxes(visible=False, range=[0, w])
    fig.update_yaxes(visible=False, range=[h, 0], scaleanchor="x")
    fig.update_layout(title=title, height=int(np.clip(50 + 560 * h / w, 260, 640)), margin=dict(l=0, r=0, t=40, b=0))
    return fig


def rgb_grid(images, columns: int, title: str = "", labels=None) -> go.Figure:
    """Small RGB images (N, H, W, 3) in [0, 1], tiled with a gap, as one picture."""

    n, h, w, _ = images.shape
    rows = -(-n // columns)
    gap = 1
    mosaic = np.ones((rows * (h + gap) - gap, columns * (w + gap) - gap, 3), np.float32)
    for k in range(n):
        r, q = divmod(k, columns)
        mosaic[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = images[k]
    fig = go.Figure(go.Image(z=(mosaic * 255).round().astype("uint8"), hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=title, height=60 + rows * 60, margin=dict(l=0, r=0, t=40, b=0))
    return fig


def ranking_bars(ranking: list[tuple[str, float]], title: str) -> go.Figure:
    """Horizontal bars, most probable on top, the top one in the accent colour."""
    names = [name for name, _ in ranking][::-1]
    probs = [p for _, p in ranking][::-1]
    colours = [MUTED] * (len(names) - 1) + [ACCENT]
    fig = go.Figure(go.Bar(x=probs, y=names, orientation="h", marker_color=colours, text=[f"{p:.0%}" for p in probs],
                           textposition="outside", hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_layout(title=title, xaxis=dict(range=[0, 1.15], tickformat=".0%"), height=360,
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig
