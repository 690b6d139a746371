"""Drawings that are not digits, for the digit network's "not a digit" class (training only).

Each drawing is made as the page's canvas returns it: a 280x280 RGBA image, transparent background,
white ink drawn with a round pen, at a random size, place, angle, slant and pen width (the page's
slider: 5 to 40 pixels). `make` puts them through `models.digits.preprocess`, exactly as the page does.

Six families (FAMILIES), picked with equal chance:
  tangle   one smooth stroke through 7-11 random points (a Catmull-Rom spline), turning >= 5 pi in all
  coil     a telephone cord: one stroke with 3-6 loops along a line
  zigzag   one stroke of 5-10 straight segments, back and forth (4 or more sharp reversals)
  hatch    4-7 roughly parallel strokes, or a grid of 2-4 + 2-4 crossing strokes
  strokes  4-6 short lines and arcs scattered in a box
  letters  one of LETTERS (capitals, lowercase and two Greek letters), or a shape of SHAPES

The rule for "not a digit" (the test generator, tests/scribbles.py, follows it too, with other families):
  * no single straight stroke (that is a 1) and no single smooth closed loop or oval (that is a 0);
  * a scribble is more tangled than any digit: total turning of 5 pi or more, or 3 loops or more, or
    4 sharp reversals or more (one-stroke digits turn through 4 pi at most: an 8 drawn in one go);
  * a drawing of 4 strokes or more (no digit takes more than 3: a 1 with flag and base, a 4, a crossed 7);
  * no letter written like a digit: O o Q D C c (0), I l i j L T t (1, 7), S s (5), Z z (2), B (8),
    b G (6), g q p d a (9), Y y h (4). Mirrored digits (E for 3, Σ) are not digits: they are allowed;
  * nothing that the network would see as a bar or a blob (`digit_like`, on the 28x28 image that `preprocess`
    makes): a thin coil or close hatching drawn with a thick pen becomes a textured bar, which is a 1, and a
    filled-in scribble becomes a blob. Such draws are drawn again.
The test generator uses other letters (H U V X k u Ψ Ш), other shapes, other stroke counts, sharp-cornered
scribbles, spirals, waves and words, so the test measures drawings this generator never makes.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280  # the page's canvas, in pixels
PEN_WIDTHS = (5, 40)  # the page's pen-width slider
SIZES = (60, 250)  # the drawing's longer side on the canvas, in pixels
MIN_TURNING = 5 * math.pi  # a one-stroke scribble turns at least this much in all (radians)

Stroke = np.ndarray  # (n, 2) points, x right, y down


def arc(cx: float, cy: float, r: float, start: float, end: float, n: int = 16, ry: float | None = None) -> Stroke:
    """Points on an ellipse from angle `start` to `end` (degrees; 90 = down, as y points down)."""
    a = np.radians(np.linspace(start, end, n))
    return np.stack([cx + r * np.cos(a), cy + (ry or r) * np.sin(a)], 1)


def line(*points) -> Stroke:
    return np.asarray(points, np.float64)


def joined(*parts) -> Stroke:
    return np.concatenate([np.atleast_2d(np.asarray(p, np.float64)) for p in parts])


# Letters as strokes in a unit box (x right, y down). None of them is written like a digit (see the rule).
LETTERS: dict[str, list[Stroke]] = {
    "A": [line((0.1, 0.95), (0.5, 0.05), (0.9, 0.95)), line((0.27, 0.6), (0.73, 0.6))],
    "E": [line((0.8, 0.05), (0.2, 0.05), (0.2, 0.95), (0.8, 0.95)), line((0.2, 0.5), (0.65, 0.5))],
    "F": [line((0.8, 0.05), (0.2, 0.05), (0.2, 0.95)), line((0.2, 0.48), (0.65, 0.48))],
    "K": [line((0.2, 0.05), (0.2, 0.95)), line((0.8, 0.05), (0.2, 0.58)), line((0.38, 0.45), (0.85, 0.95))],
    "M": [line((0.1, 0.95), (0.15, 0.05), (0.5, 0.65), (0.85, 0.05), (0.9, 0.95))],
    "N": [line((0.2, 0.95), (0.2, 0.05), (0.8, 0.95), (0.8, 0.05))],
    "R": [joined(line((0.2, 0.95), (0.2, 0.05), (0.5, 0.05)), arc(0.5, 0.275, 0.225, -90, 90), [(0.2, 0.5)]),
          line((0.4, 0.5), (0.8, 0.95))],
    "W": [line((0.05, 0.05), (0.27, 0.95), (0.5, 0.3), (0.73, 0.95), (0.95, 0.05))],
    "e": [joined(line((0.15, 0.55), (0.85, 0.55)), arc(0.5, 0.55, 0.35, 0, -320, 24))],
    "m": [line((0.1, 0.95), (0.1, 0.35)), joined(arc(0.3, 0.5, 0.2, 180, 360, 10), [(0.5, 0.95)]),
          joined(arc(0.7, 0.5, 0.2, 180, 360, 10), [(0.9, 0.95)])],
    "n": [line((0.2, 0.95), (0.2, 0.3)), joined(arc(0.5, 0.55, 0.3, 180, 360, 12), [(0.8, 0.95)])],
    "r": [line((0.3, 0.95), (0.3, 0.3)), joined([(0.3, 0.6)], arc(0.6, 0.6, 0.3, 180, 290, 8))],
    "π": [line((0.05, 0.2), (0.95, 0.2)), line((0.32, 0.2), (0.28, 0.95)),
          joined([(0.68, 0.2)], arc(0.83, 0.85, 0.15, 180, 90, 6, ry=0.65)[1:])],
    "Σ": [line((0.85, 0.05), (0.15, 0.05), (0.55, 0.5), (0.15, 0.95), (0.85, 0.95))],
    "λ": [line((0.2, 0.05), (0.9, 0.95)), line((0.55, 0.45), (0.1, 0.95))],
    "И": [line((0.2, 0.05), (0.2, 0.95), (0.8, 0.05), (0.8, 0.95))],
    "Ж": [line((0.5, 0.05), (0.5, 0.95)), line((0.1, 0.05), (0.5, 0.5), (0.1, 0.95)), line((0.9, 0.05), (0.5, 0.5), (0.9, 0.95))],
    "П": [line((0.2, 0.95), (0.2, 0.05), (0.8, 0.05), (0.8, 0.95))],
}

# Shapes: none is a smooth loop.
SHAPES: dict[str, list[Stroke]] = {
    "triangle": [line((0.5, 0.05), (0.95, 0.9), (0.05, 0.9), (0.5, 0.05))],
    "square": [line((0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9), (0.1, 0.1))],
    "crossed box": [line((0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9), (0.1, 0.1)), line((0.1, 0.1), (0.9, 0.9)),
                    line((0.9, 0.1), (0.1, 0.9))],
    "pentagram": [np.array([(0.5 + 0.45 * math.sin(math.radians(144 * k)), 0.52 - 0.45 * math.cos(math.radians(144 * k)))
                            for k in range(6)])],
    "star outline": [np.array([(0.5 + (0.47 if k % 2 == 0 else 0.2) * math.sin(math.radians(36 * k)),
                                0.52 - (0.47 if k % 2 == 0 else 0.2) * math.cos(math.radians(36 * k))) for k in range(11)])],
    "diamond with bar": [line((0.5, 0.02), (0.95, 0.5), (0.5, 0.98), (0.05, 0.5), (0.5, 0.02)), line((0.05, 0.5), (0.95, 0.5))],
    "triangle in box": [line((0.05, 0.05), (0.95, 0.05), (0.95, 0.95), (0.05, 0.95), (0.05, 0.05)),
                        line((0.5, 0.2), (0.8, 0.8), (0.2, 0.8), (0.5, 0.2))],
}

FAMILIES = ("tangle", "coil", "zigzag", "hatch", "strokes", "letters")


def catmull_rom(points: np.ndarray, samples: int = 8) -> Stroke:
    """A smooth curve through `points` (Catmull-Rom spline, `samples` points per segment)."""
    p = np.concatenate([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, samples, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(p[-2:-1])
    return np.concatenate(out)


def turning(stroke: Stroke) -> float:
    """Total absolute turning of a polyline, in radians (a circle: 2 pi)."""
    d = np.diff(stroke, axis=0)
    d = d[np.hypot(d[:, 0], d[:, 1]) > 1e-9]
    a = np.arctan2(d[:, 1], d[:, 0])
    return float(np.abs((np.diff(a) + np.pi) % (2 * np.pi) - np.pi).sum())


def tangle(rng: np.random.Generator) -> list[Stroke]:
    while True:
        curve = catmull_rom(rng.uniform(0, 1, (rng.integers(7, 12), 2)))
        if turning(curve) >= MIN_TURNING:
            return [curve]


def coil(rng: np.random.Generator) -> list[Stroke]:
    loops = rng.integers(3, 7)
    t = np.linspace(0, 2 * math.pi * loops, 24 * loops)
    r, ry = rng.uniform(0.35, 0.8), rng.uniform(0.6, 1.4)
    x = t / (2 * math.pi) + r * np.sin(t) * rng.choice([-1, 1])
    y = -ry * r * np.cos(t)
    return [np.stack([x, y], 1)]


def zigzag(rng: np.random.Generator) -> list[Stroke]:
    n = rng.integers(6, 12)  # 5-10 segments
    x = np.arange(n) + rng.uniform(-0.3, 0.3, n)
    y = np.where(np.arange(n) % 2 == 0, 0, rng.uniform(1.5, 4.0)) + rng.uniform(-0.4, 0.4, n)
    return [np.stack([x, y], 1)]


def hatch(rng: np.random.Generator) -> list[Stroke]:
    def parallel(n: int, angle: float) -> list[Stroke]:
        c, s = math.cos(angle), math.sin(angle)
        out = []
        for k in range(n):
            off = (k - (n - 1) / 2) * rng.uniform(0.15, 0.3)
            a, b = rng.uniform(-0.5, -0.3), rng.uniform(0.3, 0.5)
            out.append(line((a * c - off * s, a * s + off * c), (b * c - off * s, b * s + off * c)) + rng.normal(0, 0.02, (2, 2)))
        return out

    angle = rng.uniform(0, math.pi)
    if rng.random() < 0.5:
        return parallel(int(rng.integers(4, 8)), angle)
    return parallel(int(rng.integers(2, 5)), angle) + parallel(int(rng.integers(2, 5)), angle + rng.uniform(1.0, 2.1))


def strokes(rng: np.random.Generator) -> list[Stroke]:
    out = []
    for _ in range(rng.integers(4, 7)):
        centre, length, angle = rng.uniform(0.15, 0.85, 2), rng.uniform(0.15, 0.5), rng.uniform(0, 2 * math.pi)
        if rng.random() < 0.5:
            d = 0.5 * length * np.array([math.cos(angle), math.sin(angle)])
            out.append(line(centre - d, centre + d))
        else:
            span = rng.uniform(60, 200)
            out.append(arc(*centre, length / 2, math.degrees(angle), math.degrees(angle) + span, 10))
    return out


def letters(rng: np.random.Generator) -> list[Stroke]:
    table = LETTERS if rng.random() < 0.6 else SHAPES
    glyph = [s.copy() for s in table[list(table)[rng.integers(len(table))]]]
    # A hand's wobble: each point moves a little.
    return [s + rng.normal(0, 0.025, s.shape) for s in glyph]


def transform(strokes_: list[Stroke], rng: np.random.Generator, family: str) -> list[Stroke]:
    """Random rotation (any angle for scribbles, +/-15 degrees for letters), slant and aspect."""
    angle = rng.uniform(-15, 15) if family == "letters" else rng.uniform(0, 360)
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    shear, aspect = rng.uniform(-0.3, 0.3), rng.uniform(0.7, 1.3)
    m = np.array([[c, -s], [s, c]]) @ np.array([[aspect, shear], [0, 1]])
    return [p @ m.T for p in strokes_]


def place(strokes_: list[Stroke], rng: np.random.Generator, max_pen: float = 1 / 6) -> tuple[list[Stroke], int]:
    """Scale the drawing to a random size (its longer side) and put it somewhere on the canvas; -> (strokes in
    canvas pixels, pen width, at most `max_pen` of the size: thick enough to fill some drawings in)."""
    pts = np.concatenate(strokes_)
    lo, hi = pts.min(0), pts.max(0)
    size = rng.uniform(*SIZES)
    scale = size / max(hi - lo)
    width = int(min(rng.integers(PEN_WIDTHS[0], PEN_WIDTHS[1] + 1), max(PEN_WIDTHS[0], size * max_pen)))
    extent = (hi - lo) * scale
    margin = width / 2 + 1
    corner = np.array([rng.uniform(margin, max(margin, CANVAS - margin - e)) for e in extent])
    return [(p - lo) * scale + corner for p in strokes_], width


def draw(strokes_: list[Stroke], width: int, canvas: int = CANVAS) -> np.ndarray:
    """-> (canvas, canvas, 4) uint8 RGBA as the page's canvas returns it: white ink, alpha = ink, transparent
    elsewhere; a round pen (round joints and caps)."""
    ink = Image.new("L", (canvas, canvas), 0)
    pen = ImageDraw.Draw(ink)
    r = width / 2
    for stroke in strokes_:
        points = [tuple(p) for p in stroke.tolist()]
        pen.line(points, fill=255, width=width, joint="curve")
        for x, y in (points[0], points[-1]):
            pen.ellipse((x - r, y - r, x + r, y + r), fill=255)
    rgba = np.zeros((canvas, canvas, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = np.asarray(ink)
    return rgba


GENERATORS = {"tangle": tangle, "coil": coil, "zigzag": zigzag, "hatch": hatch, "strokes": strokes, "letters": letters}


def scribble(rng: np.random.Generator, family: str | None = None) -> tuple[np.ndarray, str]:
    """One canvas drawing that is not a digit -> (280x280 RGBA, its family)."""
    family = family or FAMILIES[rng.integers(len(FAMILIES))]
    max_pen = 1 / 9 if family in ("tangle", "coil", "zigzag") else 1 / 6
    strokes_, width = place(transform(GENERATORS[family](rng), rng, family), rng, max_pen)
    return draw(strokes_, width), family


def _hull_area(points: np.ndarray) -> float:
    """Area of the convex hull of (n, 2) points (Andrew's monotone chain, then the shoelace formula)."""
    pts = sorted(set(map(tuple, points.tolist())))
    if len(pts) < 3:
        return 0.0

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    h = np.array(half(pts) + half(pts[::-1]), float)
    return 0.5 * abs(float(np.dot(h[:, 0], np.roll(h[:, 1], 1)) - np.dot(h[:, 1], np.roll(h[:, 0], 1))))


BAR_SOLIDITY, BAR_ELONGATION = 0.6, 0.5  # a bar: ink fills >= 60 % of its hull, minor/major axes < 0.5 (a 1)
BLOB_SOLIDITY = 0.8  # a blob: ink fills >= 80 % of its hull, whatever its shape


def digit_like(x28: np.ndarray, threshold: float = 0.2) -> bool:
    """Would the network see this 28x28 image as a bar (a 1) or a blob? (See the rule in the module's docstring.)"""
    r, c = np.nonzero(x28 > threshold)
    if len(r) < 3:
        return True
    corners = np.concatenate([np.stack([r + dr, c + dc], 1) for dr in (0, 1) for dc in (0, 1)])
    solidity = len(r) / max(_hull_area(corners), 1.0)
    eigen = np.linalg.eigvalsh(np.cov(np.stack([r, c]).astype(float)))
    elongation = math.sqrt(max(eigen[0], 0.0) / max(eigen[1], 1e-9))
    return solidity >= BLOB_SOLIDITY or (solidity >= BAR_SOLIDITY and elongation < BAR_ELONGATION)


def drawing(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """One not-a-digit drawing -> (280x280 RGBA, what `models.digits.preprocess` makes of it, family); drawn
    again while `digit_like`."""
    from models import digits

    while True:
        rgba, family = scribble(rng)
        x28 = digits.preprocess(rgba)
        if not digit_like(x28):
            return rgba, x28, family


def make(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """n drawings through `models.digits.preprocess` (as the page does) -> ((n, 28, 28) float32, families)."""
    rng = np.random.default_rng(seed)
    images, families = np.zeros((n, 28, 28), np.float32), []
    for i in range(n):
        _, images[i], family = drawing(rng)
        families.append(family)
    return images, families
