"""The embeddings page's figure: the 3D word map."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.charts import ACCENT, GROUP_COLOURS, MUTED


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
