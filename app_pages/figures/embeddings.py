"""The embeddings page's figure: the 3D word map, for a screen or for a room (presenter mode)."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.charts import ACCENT, GROUP_COLOURS, MUTED

# For a room: the map frames the whole cloud, seen from the side of the searched word (which then sits in the middle
# of the picture, in front of the cloud), and the word and its neighbours are labelled in large type, in two columns
# either side of it with a line to each dot: in the whole cloud the ten neighbours are a few dozen pixels apart, and
# labels on the dots themselves would cover each other. Other words have no label (hover shows them).
ROOM_LABEL_PX = 20  # the neighbours' labels
ROOM_FOCUS_PX = 30  # the searched word's label
ROOM_COLUMN_GAP_PX = 150  # from the word to each column of labels
ROOM_ROW_PX = 40  # between two labels of a column (a label is 32 px tall; the projection is within a few pixels)
ROOM_MARGIN_TOP_PX = 10
ROOM_MARKER_SCALE = 1.4  # the words' dots, larger: seen from the back of a room
# Plotly's 3-D camera: a perspective of vertical field of view pi/4 (gl-plot3d's fovy); with aspectmode "cube"
# each axis's data range is scaled to [-0.5, 0.5]. The default eye, (1.25, 1.25, 1.25), stands this far from the
# centre; at that distance the whole cube fits the picture from any direction, but the cloud, rounder than the
# cube, fills half of it: for a room the camera comes closer (room_camera).
FOVY = math.pi / 4
EYE_DISTANCE = 1.25 * math.sqrt(3)
ROOM_PAD = 0.02  # the axes' ranges: the cloud's extent and this much more on each side
ROOM_PULL = 0.5  # the camera looks at the point this far from the cloud's centre to the searched word
ROOM_FILL = 0.9  # the cloud's height in the picture, at most: the camera comes this close
ROOM_MIN_ASPECT = 1.3  # the picture's width over its height, at least (wider with the screen; the legend takes some)
MAX_EYE_ELEVATION = 0.75  # the eye's z, as a share of its distance: never from straight above (the up axis is z)


# See training_curves. The embeddings page reruns for every widget (the analogy boxes too): the map is rebuilt
# only when what it shows changes.
@st.cache_resource(show_spinner=False, max_entries=16)
def word_map(view: tuple, _words: list[str], _xyz, _groups: list[str], focus: int | None = None, neighbours=(),
             height: int = 640, zoom: float = 0.35, room: bool = False) -> go.Figure:
    """A 3D scatter of words, one trace per group (a legend entry each; "other" in grey).

    view: what identifies words, xyz and groups (the page's map settings), the cache key in their place:
    underscored arguments are not hashed (hashing 1,000 words and their groups took ~13 ms a call).

    focus: index of a highlighted word; the axes then centre on it, spanning `zoom` of the map.
    neighbours: indices drawn as lines from the focus word, labelled.
    room: for a projector (presenter mode): the whole cloud in view, seen from the focus word's side, its
    neighbourhood labelled in large type without overlaps (see ROOM_*); `zoom` is not used."""
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
                          marker=dict(size=(2.5 if other else 3.5) * (ROOM_MARKER_SCALE if room else 1), color=MUTED if other else GROUP_COLOURS[i % len(GROUP_COLOURS)],
                                      opacity=0.45 if other else 0.9))
    layout_scene = dict(xaxis=dict(title="", showticklabels=False), yaxis=dict(title="", showticklabels=False),
                        zaxis=dict(title="", showticklabels=False), aspectmode="cube")
    if focus is not None:
        lines = [[], [], []]
        for j in neighbours:
            for axis in range(3):
                lines[axis] += [xyz[focus, axis], xyz[j, axis], None]
        labelled = "markers" if room else "markers+text"  # for a room: the labels are annotations (below)
        if neighbours:
            fig.add_scatter3d(x=lines[0], y=lines[1], z=lines[2], mode="lines", name="nearest neighbours",
                              line=dict(color=ACCENT, width=4 if room else 3), hoverinfo="skip")
            nb = np.asarray(list(neighbours))
            fig.add_scatter3d(x=xyz[nb, 0], y=xyz[nb, 1], z=xyz[nb, 2], mode=labelled, text=words[nb],
                              textposition="top center", textfont=dict(size=13), name="neighbours on the map",
                              marker=dict(size=8 if room else 5, color=ACCENT, opacity=0.9 if room else 0.7),
                              hovertemplate="<b>%{text}</b><extra></extra>")
        fig.add_scatter3d(x=[xyz[focus, 0]], y=[xyz[focus, 1]], z=[xyz[focus, 2]], mode=labelled,
                          text=[f"<b>{words[focus]}</b>"], textposition="top center", textfont=dict(size=18, color=ACCENT),
                          name=str(words[focus]), marker=dict(size=12 if room else 9, color=ACCENT, symbol="diamond"),
                          hovertemplate="<b>%{text}</b><extra></extra>")
        if room:
            eye, centre = room_camera(xyz, focus)
            layout_scene["camera"] = dict(eye=dict(zip("xyz", eye)), center=dict(zip("xyz", centre)),
                                          up=dict(x=0, y=0, z=1))
            for key, span in zip(("xaxis", "yaxis", "zaxis"), room_ranges(xyz)):
                layout_scene[key]["range"] = [float(v) for v in span]  # the whole cloud: see room_ranges
                layout_scene[key]["visible"] = False  # no box or grid: a cloud of words, from the back of a room
            layout_scene["annotations"] = room_labels(xyz, words, focus, list(neighbours), eye, centre,
                                                      height - ROOM_MARGIN_TOP_PX)
        else:
            half = zoom * float((xyz.max(0) - xyz.min(0)).max()) / 2
            for axis, key in enumerate(("xaxis", "yaxis", "zaxis")):
                layout_scene[key]["range"] = [float(xyz[focus, axis]) - half, float(xyz[focus, axis]) + half]
    legend = dict(itemsizing="constant", y=0.95, font=dict(size=16) if room else None)
    fig.update_layout(scene=layout_scene, height=height,
                      margin=dict(l=0, r=0, t=ROOM_MARGIN_TOP_PX if room else 10, b=0),
                      legend=legend, hoverlabel=dict(font_size=18) if room else None, uirevision=None)
    return fig


def room_ranges(xyz: np.ndarray) -> np.ndarray:
    """The axes' ranges for a room, (3, 2): the whole cloud and ROOM_PAD more. Set, not left to Plotly's autorange,
    which pads by an amount of its own: the labels' layout (room_labels) needs the scene's exact scale."""
    low, high = xyz.min(0).astype(np.float64), xyz.max(0).astype(np.float64)
    pad = ROOM_PAD * np.where(high > low, high - low, 1.0)
    return np.stack([low - pad, high + pad], axis=1)


def unit_box(xyz: np.ndarray) -> np.ndarray:
    """The points in the scene's own coordinates (aspectmode "cube"): each axis's range (room_ranges) scaled to
    [-0.5, 0.5]."""
    ranges = room_ranges(xyz)
    return (xyz - ranges.mean(1)) / (ranges[:, 1] - ranges[:, 0])


def room_camera(xyz: np.ndarray, focus: int) -> tuple[np.ndarray, np.ndarray]:
    """The camera for a room, (eye, centre) in the scene's coordinates (unit_box): it looks from the focus word's
    side of the cloud, at a point ROOM_PULL of the way from the cloud's centre to the word (the word then sits in
    the middle of the picture, in front of most of the cloud), never from higher or lower than MAX_EYE_ELEVATION
    (a word at the very centre is seen from Plotly's default direction); and from as close as it can with the
    whole cloud in the picture: within ROOM_FILL of its height (and of ROOM_MIN_ASPECT times that across)."""
    box = unit_box(xyz).astype(np.float64)
    direction = box[focus].copy()
    if np.linalg.norm(direction) < 0.05:
        direction = np.ones(3)
    direction /= np.linalg.norm(direction)
    if abs(direction[2]) > MAX_EYE_ELEVATION:  # lower the eye, keeping its compass direction
        flat = direction[:2] if np.linalg.norm(direction[:2]) > 1e-6 else np.ones(2)
        flat = flat / np.linalg.norm(flat) * math.sqrt(1 - MAX_EYE_ELEVATION ** 2)
        direction = np.array([*flat, math.copysign(MAX_EYE_ELEVATION, direction[2])])
    centre = ROOM_PULL * box[focus]
    half = math.tan(FOVY / 2) * ROOM_FILL  # the picture's half-height, as a slope from the eye

    def fits(distance: float) -> bool:
        seen = project(box, centre + direction * distance, 2.0, centre, normalised=True)  # (right, down) / depth
        return bool(np.isfinite(seen).all() and (np.abs(seen[:, 0]) <= half * ROOM_MIN_ASPECT).all()
                    and (np.abs(seen[:, 1]) <= half).all())

    near, far = 0.5, 4 * EYE_DISTANCE  # bisection: from `far` a cloud of unit size always fits
    for _ in range(30):
        middle = (near + far) / 2
        near, far = (near, middle) if fits(middle) else (middle, far)
    return centre + direction * far, centre


def project(points: np.ndarray, eye: np.ndarray, height_px: float, centre=(0.0, 0.0, 0.0),
            normalised: bool = False) -> np.ndarray:
    """Pixel offsets (right, down) of points in the scene's coordinates from the picture's centre, as Plotly's
    camera draws them: looking from `eye` at `centre`, z up, a perspective of vertical field of view FOVY.
    normalised: the slopes instead (offset / depth), and inf for a point behind the eye."""
    forward = np.asarray(centre, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    seen = points - eye
    depth = seen @ forward
    slopes = np.stack([seen @ right, -(seen @ up)], axis=1) / np.where(depth > 1e-6, depth, np.nan)[:, None]
    if normalised:
        return np.nan_to_num(slopes, nan=np.inf)
    return slopes * (height_px / 2) / math.tan(FOVY / 2)


def room_labels(xyz: np.ndarray, words, focus: int, neighbours: list[int], eye: np.ndarray, centre: np.ndarray,
                height_px: float) -> list[dict]:
    """Scene annotations: the focus word's label above it, and its neighbours' in two columns either side of it
    (the left half of the neighbours, as the camera sees them, on the left; each column top to bottom in the
    order of the dots, so that the lines do not cross), each with a line to its dot."""
    box = unit_box(xyz)
    at = project(box[[focus, *neighbours]], eye, height_px, centre)
    dots = at[1:] - at[0]  # the dots' pixel offsets from the focus word
    order = list(np.argsort(dots[:, 0], kind="stable")) if neighbours else []
    half = (len(order) + 1) // 2
    columns = [(-1, order[:half]), (1, order[half:])]
    rows = max(half, 1)
    # Each column clear of the dots on its side (a spread-out neighbourhood pushes it further out).
    gap = max([ROOM_COLUMN_GAP_PX, *(abs(dots[:, 0]) + ROOM_ROW_PX)]) if neighbours else ROOM_COLUMN_GAP_PX
    # The word's own label above it (below it when that would leave the picture), clear of the columns.
    rise = (rows / 2 + 1) * ROOM_ROW_PX + ROOM_FOCUS_PX / 2
    above = at[0, 1] - rise - ROOM_FOCUS_PX > -height_px / 2
    labels = [dict(x=float(xyz[focus, 0]), y=float(xyz[focus, 1]), z=float(xyz[focus, 2]), text=f"<b>{words[focus]}</b>",
                   showarrow=True, arrowcolor=ACCENT, arrowwidth=2, arrowhead=0, ax=0, ay=-rise if above else rise,
                   font=dict(size=ROOM_FOCUS_PX, color=ACCENT), bgcolor="rgba(255,255,255,0.9)", borderpad=2)]
    for side, members in columns:
        members = sorted(members, key=lambda i: dots[i, 1])  # top to bottom
        top = -(len(members) - 1) / 2 * ROOM_ROW_PX
        for row, i in enumerate(members):
            target = np.array([side * gap, top + row * ROOM_ROW_PX])  # from the focus word
            ax, ay = target - dots[i]
            j = neighbours[i]
            labels.append(dict(x=float(xyz[j, 0]), y=float(xyz[j, 1]), z=float(xyz[j, 2]), text=str(words[j]),
                               showarrow=True, arrowcolor=ACCENT, arrowwidth=1.5, arrowhead=0, ax=float(ax),
                               ay=float(ay), xanchor="right" if side < 0 else "left",
                               font=dict(size=ROOM_LABEL_PX, color="#000"), bgcolor="rgba(255,255,255,0.85)",
                               borderpad=2))
    return labels
