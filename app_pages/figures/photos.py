"""The photo page's figure: the photo with its Grad-CAM evidence laid over it."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ui.charts import image_uri


# Evidence heatmaps: no evidence is see-through, strong evidence glows yellow-white.
HEAT_COLOURS = [[0.0, "rgba(0,0,0,0)"], [0.25, "rgba(120,20,160,0.35)"], [0.5, "rgba(230,60,60,0.7)"],
                [0.75, "rgba(255,160,0,0.85)"], [1.0, "rgba(255,255,170,0.95)"]]
PHOTO_DISPLAY_SIDE = 640  # pixels sent to the browser for a photo (it is shown smaller than that)


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
