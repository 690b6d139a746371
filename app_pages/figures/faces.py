"""The face page's figures: a photo with the box the network sees, the map of all 400 embeddings, the saliency
over the network's input, and the ROC of the model card (CNN and eigenfaces)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ui.charts import ACCENT, GROUP_COLOURS, MUTED, PLAIN_AXIS, image_uri

PHOTO_DISPLAY_SIDE = 480


def photo_with_box(image, box, title: str = "", height: int = 320) -> go.Figure:
    """The photo with the box the network sees drawn on it (the camera's guide)."""
    w, h = image.size
    shown = image.copy()
    shown.thumbnail((PHOTO_DISPLAY_SIDE, PHOTO_DISPLAY_SIDE))
    scale = w / shown.width
    shapes = [dict(type="rect", x0=box[0], y0=box[1], x1=box[2], y1=box[3], line=dict(color=ACCENT, width=3, dash="dash"))]
    return go.Figure(go.Image(source=image_uri(shown), dx=scale, dy=scale, hoverinfo="skip"),
                     layout=dict(title=dict(text=title), height=height, shapes=shapes, margin=dict(l=0, r=0, t=40, b=0),
                                 xaxis=dict(visible=False, range=[0, w]),
                                 yaxis=dict(visible=False, range=[h, 0], scaleanchor="x")))


def embedding_map(coords: np.ndarray, labels: np.ndarray, seen: np.ndarray, method: str,
                  highlight: int | None = None, extra: list[tuple[str, np.ndarray]] = ()) -> go.Figure:
    """All photos' embeddings in 2-D, one colour per person; people the network trained on as circles, the unseen
    ones as diamonds; `highlight`: the chosen photo's index, ringed; `extra`: (name, (2,) point) of added faces."""
    traces = []
    for person in np.unique(labels):
        idx = np.flatnonzero(labels == person)
        unseen = not seen[idx[0]]
        traces.append(go.Scatter(
            x=coords[idx, 0], y=coords[idx, 1], mode="markers", name=f"person {person}" + (" (unseen)" if unseen else ""),
            legendgroup="unseen" if unseen else "seen",
            marker=dict(color=GROUP_COLOURS[int(person) % len(GROUP_COLOURS)], size=10 if unseen else 7,
                        symbol="diamond" if unseen else "circle", line=dict(width=1.2 if unseen else 0, color="black")),
            hovertemplate=f"person {person}" + (" (never seen in training)" if unseen else " (trained on)")
                          + ", photo %{customdata}<extra></extra>",
            customdata=np.arange(1, len(idx) + 1)))
    if highlight is not None:
        traces.append(go.Scatter(x=[coords[highlight, 0]], y=[coords[highlight, 1]], mode="markers", name="the chosen photo",
                                 marker=dict(size=22, color="rgba(0,0,0,0)", line=dict(width=3, color=ACCENT)),
                                 hoverinfo="skip"))
    for name, point in extra:
        traces.append(go.Scatter(x=[point[0]], y=[point[1]], mode="markers+text", text=[name], textposition="top center",
                                 name=name, marker=dict(size=14, symbol="star", color=ACCENT), hoverinfo="name"))
    return go.Figure(traces, layout=dict(
        title=dict(text=f"All 400 photos' embeddings ({method}):<br>◆ the 10 people never seen in training, "
                        "● the 30 it trained on"),  # two lines: one was cut on a narrow screen
        height=560, margin=dict(l=10, r=10, t=70, b=10), legend=dict(font=dict(size=10)),
        xaxis=PLAIN_AXIS, yaxis=dict(visible=False, scaleanchor="x")))


def saliency_overlay(grey: np.ndarray, heat: np.ndarray, title: str = "") -> go.Figure:
    """The network's input (H, W) in grey with the saliency (H, W) in [0, 1] over it."""
    shown = (grey - grey.min()) / (np.ptp(grey) or 1.0)
    return go.Figure(
        [go.Heatmap(z=shown, colorscale="gray", showscale=False, hoverinfo="skip"),
         go.Heatmap(z=np.where(heat > 0.15, heat, np.nan), colorscale="Hot", reversescale=True, zmin=0, zmax=1,
                    opacity=0.6, showscale=False, hoverongaps=False, hovertemplate="saliency %{z:.2f}<extra></extra>")],
        layout=dict(title=dict(text=title), height=340, margin=dict(l=0, r=0, t=40, b=0), xaxis=PLAIN_AXIS,
                    yaxis=dict(autorange="reversed", visible=False, scaleanchor="x")))


def roc_figure(curves: dict[str, dict]) -> go.Figure:
    """ROC curves {label: {"fpr": [...], "tpr": [...]}}: the share of same-person pairs accepted against the share
    of different-person pairs accepted, every threshold."""
    colours = [ACCENT, MUTED, "#3969AC"]
    traces = [go.Scatter(x=c["fpr"], y=c["tpr"], mode="lines", name=label, line=dict(color=colours[i % 3], width=3))
              for i, (label, c) in enumerate(curves.items())]
    traces.append(go.Scatter(x=[0, 1], y=[1, 0], mode="lines", name="equal error", line=dict(color="#bbb", dash="dot")))
    return go.Figure(traces, layout=dict(
        title=dict(text="Verification (ROC):<br>the unseen people's photo pairs"), height=380,
        xaxis=dict(title=dict(text="different people accepted (false accepts)"), range=[0, 0.5], tickformat=".0%"),
        yaxis=dict(title=dict(text="same person accepted"), range=[0.5, 1.0], tickformat=".0%"),
        margin=dict(l=10, r=10, t=70, b=10), legend=dict(orientation="h", y=-0.25)))


def training_curve(curve: list[dict]) -> go.Figure:
    """Each member network's training loss every epoch and, every few epochs, its one-shot accuracy on the unseen
    people alone (recorded to be seen; nothing was chosen by it)."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "one-shot, unseen"))
    members = sorted({r.get("member", 1) for r in curve})
    for i, member in enumerate(members):
        rows = [r for r in curve if r.get("member", 1) == member]
        marked = [r for r in rows if "unseen_one_shot" in r]
        style = dict(color=ACCENT if i == 0 else "#3969AC")
        fig.add_scatter(x=[r["epoch"] for r in rows], y=[r["train_loss"] for r in rows], mode="lines", line=style,
                        name=f"network {member}", legendgroup=str(member), row=1, col=1)
        fig.add_scatter(x=[r["epoch"] for r in marked], y=[r["unseen_one_shot"] for r in marked], mode="lines+markers",
                        line=style, name=f"network {member}", legendgroup=str(member), showlegend=False, row=1, col=2)
    fig.update_xaxes(title="epoch")
    # labelled ticks (plotly's own minor labels read "5 4 3 2" for 0.5-0.2)
    fig.update_yaxes(type="log", tickvals=[0.1, 0.2, 0.5, 1, 2, 5, 10, 20], row=1, col=1)
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.3))
    return fig
