"""Generic figures every page may use (bars, images, feature maps), the colours, and the answers' words."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

# One colour for "the answer" everywhere, one for everything else: readable on a projector.
ACCENT = "#e4572e"
MUTED = "#9aa5b1"


# A qualitative palette that stays distinct on a projector (Plotly's "Bold", then "Safe").
GROUP_COLOURS = ["#7F3C8D", "#11A579", "#3969AC", "#F2B701", "#E73F74", "#80BA5A", "#E68310", "#008695",
                 "#CF1C90", "#f97b72", "#4b4b8f", "#88CCEE", "#CC6677", "#DDCC77", "#117733", "#332288",
                 "#AA4499", "#44AA99", "#999933", "#882255"]


def article(word) -> str:
    """The English article before a class name or a digit: "a" cat, "an" airplane, "an" 8."""
    return "an" if str(word)[:1].lower() in "aeiou8" else "a"


# Figures are built in one go (layout given to go.Figure) rather than by update_layout/update_xaxes calls:
# each of those re-validates through Plotly's "magic underscore" paths, and figure building was the server's
# largest cost under load (py-spy on benchmarks/load_ws.py); built this way they are ~5x faster, same JSON.
PLAIN_AXIS = dict(visible=False)
IMAGE_Y_AXIS = dict(autorange="reversed", visible=False, scaleanchor="x")  # row 0 on top, square pixels


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


def ranking_bars(ranking: list[tuple[str, float]], title: str) -> go.Figure:
    """Horizontal bars, most probable on top, the top one in the accent colour."""
    names = [name for name, _ in ranking][::-1]
    probs = [p for _, p in ranking][::-1]
    colours = [MUTED] * (len(names) - 1) + [ACCENT]
    return go.Figure(go.Bar(x=probs, y=names, orientation="h", marker_color=colours, text=[f"{p:.0%}" for p in probs],
                            textposition="outside", hovertemplate="%{y}: %{x:.2%}<extra></extra>"),
                     layout=dict(title=dict(text=title), xaxis=dict(range=[0, 1.15], tickformat=".0%"), height=360,
                                 margin=dict(l=10, r=10, t=40, b=10)))


def score_bars(pairs: list[tuple[str, float]], title: str, label: str = "cosine",
               threshold: float | None = None) -> go.Figure:
    """Words with a score each (cosine similarity, -1 to 1), best on top; the axis reaches below 0 when a score
    does (a 0-1 axis hid negative bars). `threshold`: a dashed line, e.g. where a face counts as recognised."""
    names = [w for w, _ in pairs][::-1]
    scores = [s for _, s in pairs][::-1]
    lowest = min([0.0, *scores])
    low = lowest - 0.25 if lowest < 0 else 0.0  # room for a negative bar's label
    figure = go.Figure(go.Bar(x=scores, y=names, orientation="h", marker_color=[MUTED] * (len(names) - 1) + [ACCENT],
                              text=[f"{s:.3f}" for s in scores], textposition="outside",
                              hovertemplate="%{y}: " + label + " %{x:.3f}<extra></extra>"),
                       layout=dict(title=dict(text=title), xaxis=dict(range=[low, 1.15], title=dict(text=label)),
                                   # the axis title needs its own room below the ticks (with one bar it sat on them)
                                   yaxis=dict(type="category"), height=40 + 50 + 28 * len(names),
                                   margin=dict(l=10, r=10, t=40, b=50)))
    if threshold is not None:
        figure.add_vline(x=threshold, line_dash="dash", line_color=ACCENT, annotation_text=f"threshold {threshold:.3g}",
                         annotation_position="bottom right")
    return figure


# feature_grid's colours: Viridis over the levels 0-254 of a map, and the level GAP (between maps) transparent.
GAP = 255
_VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b",
            "#fde725"]
GRID_COLOURS = ([[i / (len(_VIRIDIS) - 1) * (GAP - 1) / GAP, colour] for i, colour in enumerate(_VIRIDIS)]
                + [[(GAP - 0.5) / GAP, "rgba(0,0,0,0)"], [1.0, "rgba(0,0,0,0)"]])


def feature_grid(maps, count: int, columns: int = 8, title: str = "") -> go.Figure:
    """The `count` most active feature maps of one layer, tiled into one heatmap.

    maps: (C, H, W) array of activations. Each map is scaled to its own [0, 1] so that weak
    and strong maps are both visible; the hover tells the channel.

    Sent as 8-bit levels (255 of them for a map, one for the gaps), not float32: the faces page's 32 maps of
    64×52 were 0.8 MB of chart at every run of the page (hashed, serialised and compressed by Streamlit for
    each viewer); a quarter of that now, and no visible difference on a colour scale of 255 levels.
    """

    strongest = np.argsort(-maps.mean(axis=(1, 2)))[:count]
    c, h, w = len(strongest), maps.shape[1], maps.shape[2]
    rows = -(-c // columns)
    gap = 1
    mosaic = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), GAP, np.uint8)
    channel = np.full(mosaic.shape, strongest[-1] if c else 0)  # each gap hovers as its map's (no NaN to skip)
    for k, ch in enumerate(strongest):
        m = np.asarray(maps[ch], np.float32)
        m = (m - m.min()) / (np.ptp(m) or 1.0)
        r, q = divmod(k, columns)
        mosaic[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = np.rint(m * (GAP - 1))
        channel[r * (h + gap) : (r + 1) * (h + gap), q * (w + gap) : (q + 1) * (w + gap)] = ch
    return go.Figure(
        go.Heatmap(z=mosaic, customdata=channel, colorscale=GRID_COLOURS, zmin=0, zmax=GAP, showscale=False,
                   hovertemplate="channel %{customdata}<extra></extra>"),
        layout=dict(title=dict(text=title), height=60 + rows * 40, margin=dict(l=0, r=0, t=50, b=0),
                    plot_bgcolor="rgba(0,0,0,0)", xaxis=PLAIN_AXIS, yaxis=IMAGE_Y_AXIS),
    )


def image_heatmap(image, title: str = "", height: int = 300) -> go.Figure:
    """A small grey image (H, W) in [0, 1] drawn pixel by pixel, values on hover."""
    return go.Figure(go.Heatmap(z=image, colorscale="gray", zmin=0, zmax=1, showscale=False,
                                hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>"),
                     layout=dict(title=dict(text=title), height=height, margin=dict(l=0, r=0, t=40, b=0),
                                 xaxis=PLAIN_AXIS, yaxis=IMAGE_Y_AXIS))


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


def image_uri(image) -> str:
    """A PIL image as a JPEG data URI."""
    import base64
    import io

    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
