"""Digits drawn as pen strokes, the way a person draws on the canvas (tests and benchmarks).

Each digit is a list of strokes; a stroke is a polyline in a unit box (x right, y down).
`render` draws them as the canvas returns them (RGBA, transparent background, white ink);
the browser test replays the same strokes with the mouse.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw


def _ellipse(cx, cy, rx, ry, start=0.0, end=360.0, n=24):
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(start, end, n)]


STROKES = {
    0: [_ellipse(0.5, 0.5, 0.3, 0.45)],
    1: [[(0.5, 0.05), (0.5, 0.95)]],
    2: [[(0.2, 0.25), (0.3, 0.1), (0.5, 0.05), (0.7, 0.1), (0.78, 0.25), (0.72, 0.42), (0.2, 0.95), (0.82, 0.95)]],
    3: [[(0.2, 0.1), (0.5, 0.05), (0.75, 0.15), (0.75, 0.35), (0.45, 0.48), (0.78, 0.62), (0.78, 0.85),
         (0.5, 0.95), (0.2, 0.88)]],
    4: [[(0.6, 0.95), (0.6, 0.05), (0.15, 0.65), (0.85, 0.65)]],
    5: [[(0.8, 0.05), (0.25, 0.05), (0.2, 0.45), (0.5, 0.38), (0.75, 0.5), (0.78, 0.75), (0.55, 0.95),
         (0.2, 0.88)]],
    6: [[(0.7, 0.05), (0.4, 0.25), (0.25, 0.55), (0.25, 0.8), (0.45, 0.95), (0.7, 0.85), (0.75, 0.65),
         (0.55, 0.5), (0.3, 0.6)]],
    7: [[(0.15, 0.05), (0.85, 0.05), (0.4, 0.95)]],
    8: [_ellipse(0.5, 0.27, 0.22, 0.22), _ellipse(0.5, 0.72, 0.27, 0.23)],
    9: [_ellipse(0.5, 0.3, 0.25, 0.25), [(0.75, 0.3), (0.65, 0.95)]],
}


def strokes_at(digit: int, left: float, top: float, size: float) -> list[list[tuple[float, float]]]:
    """The digit's strokes in canvas pixels, inside the square (left, top, size)."""
    return [[(left + x * size, top + y * size) for x, y in stroke] for stroke in STROKES[digit]]


def render(digit: int, left: float, top: float, size: float, width: int, canvas: int = 280) -> np.ndarray:
    """-> (canvas, canvas, 4) uint8 RGBA: white strokes, alpha = ink, transparent elsewhere."""
    ink = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(ink)
    for stroke in strokes_at(digit, left, top, size):
        draw.line(stroke, fill=255, width=width, joint="curve")
        r = width / 2  # round caps, as a pen leaves
        for x, y in (stroke[0], stroke[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    alpha = np.asarray(ink)
    rgba = np.zeros((canvas, canvas, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = alpha
    return rgba
