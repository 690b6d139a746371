"""What every page shares: the cached model loader, the model card and the training curves.

Kept free of torch at import time, so the home page stays light; each model module is
imported only by the page (and the loader call) that needs it.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

# One colour for "the answer" everywhere, one for everything else: readable on a projector.
ACCENT = "#e4572e"
MUTED = "#9aa5b1"


INFERENCE_THREADS = 1


def article(word) -> str:
    """The English article before a class name or a digit: "a" cat, "an" airplane, "an" 8."""
    return "an" if str(word)[:1].lower() in "aeiou8" else "a"


@st.cache_resource(show_spinner="Loading the model…")
def load_model(name: str):
    """models/<name>'s shipped model, loaded once per server process and shared by all sessions: what
    models.<name>.load() returns (see models.common.shared, which also serves the modules' own public
    functions, so a page and a direct call never hold two copies). Inference runs under
    torch.inference_mode in eval mode, which only reads the weights, so sessions can share one model."""
    import torch

    from models.common import shared

    # One thread per inference: Streamlit runs each viewer's session in its own thread, and on a small machine
    # several sessions' multi-threaded ops oversubscribe the cores. Measured with benchmarks/load_ws.py, 10
    # sessions on 2 cores: p95 interaction 2.7 s with torch's default (2 threads), 1.7 s with one.
    torch.set_num_threads(INFERENCE_THREADS)
    return shared(name)


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
    return go.Figure(
        go.Bar(
            x=labels,
            y=[float(p) for p in probabilities],
            marker_color=colours,
            text=[f"{p:.0%}" for p in probabilities],
            textposition="outside",
            hovertemplate="%{x}: %{y:.2%}<extra></extra>",
        ),
        layout=dict(
            title=dict(text=title),
            yaxis=dict(range=[0, 1.15], tickformat=".0%", title=dict(text="probability")),
            xaxis=dict(type="category"),
            height=320,
            margin=dict(l=10, r=10, t=50, b=10),
            showlegend=False,
        ),
    )


# The model cards' curves never change, but building a Plotly figure (make_subplots, update_layout: validation
# at every step) was a quarter of the server's time under load (py-spy, benchmarks/load_ws.py). Built once per
# model and shared: st.plotly_chart only reads a figure (to_dict), so sharing one object is safe. The cache key
# is the model's name: arguments with a leading underscore are not hashed (hashing a curve took 4 ms a call).
@st.cache_resource(show_spinner=False, max_entries=64)
def training_curves(name: str, _curve: list[dict], metric: str = "accuracy") -> go.Figure:
    """Loss and a metric per epoch, for training and test, from model `name`'s checkpoint JSON."""
    curve = _curve
    from plotly.subplots import make_subplots

    epochs = [row["epoch"] for row in curve]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss (cross-entropy)", metric))
    for split, dash in (("train", "solid"), ("test", "dot")):
        # A run may evaluate on the test set every few epochs only (train.photos --eval-every): gaps are joined.
        fig.add_scatter(x=epochs, y=[r.get(f"{split}_loss") for r in curve], name=f"{split} loss",
                        line=dict(dash=dash), connectgaps=True, row=1, col=1)
        fig.add_scatter(x=epochs, y=[r.get(f"{split}_{metric}") for r in curve], name=f"{split} {metric}",
                        line=dict(dash=dash), connectgaps=True, row=1, col=2)
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


# Figures are built in one go (layout given to go.Figure) rather than by update_layout/update_xaxes calls:
# each of those re-validates through Plotly's "magic underscore" paths, and figure building was the server's
# largest cost under load (py-spy on benchmarks/load_ws.py); built this way they are ~5x faster, same JSON.
PLAIN_AXIS = dict(visible=False)
IMAGE_Y_AXIS = dict(autorange="reversed", visible=False, scaleanchor="x")  # row 0 on top, square pixels


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
    return go.Figure(
        go.Heatmap(z=mosaic, customdata=channel, colorscale="Viridis", showscale=False,
                   hovertemplate="channel %{customdata}<extra></extra>", hoverongaps=False),
        layout=dict(title=dict(text=title), height=60 + rows * 40, margin=dict(l=0, r=0, t=50, b=0),
                    plot_bgcolor="rgba(0,0,0,0)", xaxis=PLAIN_AXIS, yaxis=IMAGE_Y_AXIS),
    )


def image_heatmap(image, title: str = "", height: int = 300) -> go.Figure:
    """A small grey image (H, W) in [0, 1] drawn pixel by pixel, values on hover."""
    return go.Figure(go.Heatmap(z=image, colorscale="gray", zmin=0, zmax=1, showscale=False,
                                hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>"),
                     layout=dict(title=dict(text=title), height=height, margin=dict(l=0, r=0, t=40, b=0),
                                 xaxis=PLAIN_AXIS, yaxis=IMAGE_Y_AXIS))


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
    step = max(1, round(w / cells))
    z = heat[::step, ::step].astype("float32")
    if box is not None:  # outside the region the network saw there is no evidence either way: transparent
        rows, cols = np.arange(z.shape[0]) * step, np.arange(z.shape[1]) * step
        outside = ((rows < box[1]) | (rows >= box[3]))[:, None] | ((cols < box[0]) | (cols >= box[2]))[None, :]
        z[outside] = np.nan
    shapes = []
    if box is not None and (box[2] - box[0] < w or box[3] - box[1] < h):
        shapes.append(dict(type="rect", x0=box[0], y0=box[1], x1=box[2], y1=box[3], line=dict(color="white", dash="dash")))
    return go.Figure(
        [go.Image(source=image_uri(shown), dx=scale, dy=scale, hoverinfo="skip"),
         go.Heatmap(z=z, x0=step / 2, dx=step, y0=step / 2, dy=step, zmin=0, zmax=1, zsmooth="best",
                    colorscale=HEAT_COLOURS, opacity=opacity, showscale=False, hoverongaps=False,
                    hovertemplate="evidence %{z:.2f}<extra></extra>")],
        layout=dict(title=dict(text=title), height=int(np.clip(50 + 560 * h / w, 260, 640)), shapes=shapes,
                    margin=dict(l=0, r=0, t=40, b=0), xaxis=dict(visible=False, range=[0, w]),
                    yaxis=dict(visible=False, range=[h, 0], scaleanchor="x")),
    )


def rgb_grid(images, columns: int, title: str = "") -> go.Figure:
    """Small RGB images (N, H, W, 3) in [0, 1], tiled with a gap, as one picture."""

    n, h, w, _ = images.shape
    rows = -(-n // columns)
    gap = 1
    mosaic = np.ones((rows * (h + gap) - gap, columns * (w + gap) - gap, 3), np.float32)
    for k in range(n):
        r, q = divmod(k, columns)
        mosaic[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = images[k]
    return go.Figure(go.Image(z=(mosaic * 255).round().astype("uint8"), hoverinfo="skip"),
                     layout=dict(title=dict(text=title), height=60 + rows * 60, margin=dict(l=0, r=0, t=40, b=0),
                                 xaxis=PLAIN_AXIS, yaxis=PLAIN_AXIS))


def ranking_bars(ranking: list[tuple[str, float]], title: str) -> go.Figure:
    """Horizontal bars, most probable on top, the top one in the accent colour."""
    names = [name for name, _ in ranking][::-1]
    probs = [p for _, p in ranking][::-1]
    colours = [MUTED] * (len(names) - 1) + [ACCENT]
    return go.Figure(go.Bar(x=probs, y=names, orientation="h", marker_color=colours, text=[f"{p:.0%}" for p in probs],
                            textposition="outside", hovertemplate="%{y}: %{x:.2%}<extra></extra>"),
                     layout=dict(title=dict(text=title), xaxis=dict(range=[0, 1.15], tickformat=".0%"), height=360,
                                 margin=dict(l=10, r=10, t=40, b=10)))


@st.cache_resource(show_spinner=False, max_entries=64)
def card_lines(name: str, _curve: list[dict], series: dict[str, str], title: str = "") -> go.Figure:
    """epoch_lines of model `name`'s checkpoint curve, built once (see training_curves)."""
    return epoch_lines(_curve, series, title)


def epoch_lines(curve: list[dict], series: dict[str, str], title: str = "") -> go.Figure:
    """Per-epoch values from a checkpoint's curve: series maps a curve key to its label; each gets its own panel."""
    from plotly.subplots import make_subplots

    epochs = [row["epoch"] for row in curve]
    fig = make_subplots(rows=1, cols=len(series), subplot_titles=list(series.values()))
    for col, key in enumerate(series, start=1):
        fig.add_scatter(x=epochs, y=[row[key] for row in curve], mode="lines+markers", name=series[key],
                        line=dict(color=ACCENT), row=1, col=col)
    fig.update_xaxes(title="epoch", dtick=1 if len(epochs) <= 20 else None)
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=50, b=10), showlegend=False)
    return fig


# A qualitative palette that stays distinct on a projector (Plotly's "Bold", then "Safe").
GROUP_COLOURS = ["#7F3C8D", "#11A579", "#3969AC", "#F2B701", "#E73F74", "#80BA5A", "#E68310", "#008695",
                 "#CF1C90", "#f97b72", "#4b4b8f", "#88CCEE", "#CC6677", "#DDCC77", "#117733", "#332288",
                 "#AA4499", "#44AA99", "#999933", "#882255"]


# See training_curves. The embeddings page reruns for every widget (the analogy boxes too): the map is rebuilt
# only when what it shows changes.
@st.cache_resource(show_spinner=False, max_entries=16)
def word_map(view: tuple, _words: list[str], _xyz, _groups: list[str], focus: int | None = None, neighbours=(),
             height: int = 640, zoom: float = 0.35) -> go.Figure:
    """A 3D scatter of words, one trace per group (a legend entry each; "other" in grey).

    view: what identifies words, xyz and groups (the page's map settings), the cache key in their place:
    underscored arguments are not hashed (hashing 1,000 words and their groups took ~13 ms a call).

    focus: index of a highlighted word; the axes then centre on it, spanning `zoom` of the map.
    neighbours: indices drawn as lines from the focus word, labelled."""
    xyz = np.asarray(_xyz, dtype=np.float32)
    words, groups = np.asarray(_words), _groups
    fig = go.Figure()
    names = sorted(set(groups) - {"other"}, key=lambda g: (not g.startswith("cluster"), len(g) if g.startswith("cluster") else 0, g))
    groups_arr = np.asarray(groups)
    for i, name in enumerate(names + (["other"] if "other" in groups else [])):
        sel = np.flatnonzero(groups_arr == name)
        other = name == "other"
        fig.add_scatter3d(x=xyz[sel, 0], y=xyz[sel, 1], z=xyz[sel, 2], mode="markers", name=name,
                          text=words[sel], customdata=sel + 1,
                          hovertemplate="<b>%{text}</b><br>frequency rank %{customdata}<extra>" + name + "</extra>",
                          marker=dict(size=2.5 if other else 3.5, color=MUTED if other else GROUP_COLOURS[i % len(GROUP_COLOURS)],
                                      opacity=0.45 if other else 0.9))
    layout_scene = dict(xaxis=dict(title="", showticklabels=False), yaxis=dict(title="", showticklabels=False),
                        zaxis=dict(title="", showticklabels=False), aspectmode="cube")
    if focus is not None:
        lines = [[], [], []]
        for j in neighbours:
            for axis in range(3):
                lines[axis] += [xyz[focus, axis], xyz[j, axis], None]
        if neighbours:
            fig.add_scatter3d(x=lines[0], y=lines[1], z=lines[2], mode="lines", name="nearest neighbours",
                              line=dict(color=ACCENT, width=3), hoverinfo="skip")
            nb = np.asarray(list(neighbours))
            fig.add_scatter3d(x=xyz[nb, 0], y=xyz[nb, 1], z=xyz[nb, 2], mode="markers+text", text=words[nb],
                              textposition="top center", textfont=dict(size=13), name="neighbours on the map",
                              marker=dict(size=5, color=ACCENT, opacity=0.7), hovertemplate="<b>%{text}</b><extra></extra>")
        fig.add_scatter3d(x=[xyz[focus, 0]], y=[xyz[focus, 1]], z=[xyz[focus, 2]], mode="markers+text",
                          text=[f"<b>{words[focus]}</b>"], textposition="top center", textfont=dict(size=18, color=ACCENT),
                          name=str(words[focus]), marker=dict(size=9, color=ACCENT, symbol="diamond"),
                          hovertemplate="<b>%{text}</b><extra></extra>")
        half = zoom * float((xyz.max(0) - xyz.min(0)).max()) / 2
        for axis, key in enumerate(("xaxis", "yaxis", "zaxis")):
            layout_scene[key]["range"] = [float(xyz[focus, axis]) - half, float(xyz[focus, axis]) + half]
    fig.update_layout(scene=layout_scene, height=height, margin=dict(l=0, r=0, t=10, b=0),
                      legend=dict(itemsizing="constant", y=0.95), uirevision=None)
    return fig


def score_bars(pairs: list[tuple[str, float]], title: str, label: str = "cosine") -> go.Figure:
    """Words with a score each (cosine similarity), best on top."""
    names = [w for w, _ in pairs][::-1]
    scores = [s for _, s in pairs][::-1]
    return go.Figure(go.Bar(x=scores, y=names, orientation="h", marker_color=[MUTED] * (len(names) - 1) + [ACCENT],
                            text=[f"{s:.3f}" for s in scores], textposition="outside",
                            hovertemplate="%{y}: " + label + " %{x:.3f}<extra></extra>"),
                     layout=dict(title=dict(text=title), xaxis=dict(range=[0, 1.15], title=dict(text=label)),
                                 yaxis=dict(type="category"), height=60 + 28 * len(names),
                                 margin=dict(l=10, r=10, t=40, b=10)))


@functools.lru_cache(maxsize=1)
def _speech_layout() -> dict:
    """speech_figure's three stacked panels on one time axis: built once with make_subplots (slow), reused."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.2, 0.4, 0.4],
                        subplot_titles=("waveform", "log-mel spectrogram (what the network reads)",
                                        "network output per frame (CTC posteriors)"))
    fig.update_yaxes(visible=False, row=1, col=1)
    fig.update_yaxes(title="band", row=2, col=1)
    fig.update_yaxes(title="probability", range=[0, 1.18], row=3, col=1)
    fig.update_xaxes(title="seconds", row=3, col=1)
    fig.update_layout(height=620, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.12),
                      hovermode="x unified")
    return fig.layout.to_plotly_json()


def speech_figure(result, labels: list[str], hop_seconds: float) -> go.Figure:
    """Waveform, log-mel spectrogram and per-frame CTC posteriors of a transcript, on one time axis
    (panels: axes x/y, x2/y2, x3/y3 of _speech_layout)."""
    prepared = result.prepared
    wave = prepared.waveform
    step = max(1, len(wave) // 3000)  # a few thousand points are enough for the eye
    seconds_per_sample = prepared.features.shape[1] * hop_seconds / max(1, len(wave))  # the spectrogram's time axis
    t_wave = np.arange(0, len(wave), step) * seconds_per_sample
    mel = prepared.features.numpy()
    traces = [
        go.Scatter(x=t_wave, y=wave[::step], mode="lines", line=dict(color=MUTED, width=1), showlegend=False,
                   hoverinfo="skip", xaxis="x", yaxis="y"),
        go.Heatmap(z=mel, x=np.arange(mel.shape[1]) * hop_seconds, colorscale="Magma", showscale=False,
                   hovertemplate="%{x:.2f} s, band %{y}<extra></extra>", xaxis="x2", yaxis="y2"),
    ]
    layout = copy.deepcopy(_speech_layout())
    if len(result.posteriors):
        t = np.arange(len(result.posteriors)) * result.frame_seconds
        for k, label in enumerate(labels):
            colour = "#cccccc" if k == 0 else GROUP_COLOURS[(k - 1) % len(GROUP_COLOURS)]
            traces.append(go.Scatter(x=t, y=result.posteriors[:, k], mode="lines", name=label,
                                     line=dict(color=colour, width=2), hovertemplate=label + " %{y:.2f}<extra></extra>",
                                     xaxis="x3", yaxis="y3"))
        for (start, end), digit in zip(result.spans, result.digits.split()):
            layout["annotations"].append(dict(x=(start + end) / 2, y=1.08, text=f"<b>{digit}</b>", showarrow=False,
                                              font=dict(size=16, color=ACCENT), xref="x3", yref="y3"))
    return go.Figure(traces, layout=layout)


def attention_heatmap(attention, source_tokens: list[str], target_tokens: list[str]) -> go.Figure:
    """Attention weights, one row per target subword (top to bottom, as written) x source subwords."""
    def labels(tokens: list[str]) -> list[str]:
        # Plotly reads < > as its HTML-like markup ("</s>" would vanish, "<b>" would turn bold): show look-alikes.
        # Its category axes merge repeated labels: make each unique with zero-width spaces.
        shown = ["(end)" if t == "</s>" else t.replace("<", "‹").replace(">", "›") for t in tokens]
        return [t + "\u200b" * i for i, t in enumerate(shown)]

    side = 28  # pixels per token row
    return go.Figure(
        go.Heatmap(z=np.asarray(attention), x=labels(source_tokens), y=labels(target_tokens), zmin=0, zmax=1,
                   colorscale="Blues", colorbar=dict(title=dict(text="weight"), thickness=12),
                   hovertemplate="%{y} ← %{x}: %{z:.2f}<extra></extra>"),
        layout=dict(height=max(260, 90 + side * len(target_tokens)), margin=dict(l=10, r=10, t=30, b=10),
                    xaxis=dict(side="top", type="category", tickangle=-45),
                    yaxis=dict(autorange="reversed", type="category")),
    )
