"""Two questions about the face model's "not in the gallery" decision, measured on the validation networks
(trained on people 0-19 by train.faces; people 20-29 measured; people 30-39 never read):

    python -m train.faces --data-dir ../shared/data --threads 1 --validation-only   # trains or reuses them
    python -m benchmarks.faces_room --data-dir ../shared/data [--validation-dir runs/faces/validation]

1. Scores normalised against look-alikes (S-norm, as in speaker verification): each cosine minus the mean of the
   `--top` training photos most like each face, over their standard deviation, averaged over probe and gallery
   photo. Printed: the open set at its balanced threshold (as many accepted as rejected), gallery 20-24 and
   strangers 25-29 (the card's protocol) and the other way round, plain cosine against S-norm.
2. "One room": one change of light, contrast, blur and framing applied to every face of people 20-29, as a camera
   in one room does to everyone it photographs. Printed: the share of same-person pairs that reach the threshold
   and of different-person pairs that reach it too (strangers let in), each scoring at its threshold from 1.

`--shipped`: the shipped networks instead, on people 30-39 in the same rooms, at the card's threshold (plain
cosine: what the page does); `--write` puts that into the card (metrics.one_room). Nothing is chosen by this
script; docs/experiments.md reports what it printed.
"""
from __future__ import annotations

import argparse
import math

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from models import faces
from models.common import write_card
from train.common import default_data_dir

ROOMS = {  # gamma, contrast, blur sigma (px), zoom (>1: the face smaller in the box), side light, shift
    "as photographed": None,
    "room 1: darker, flat, soft, further": dict(gamma=1.6, contrast=0.6, blur=1.0, zoom=1.25, ramp=0.5, dx=0.05),
    "room 2: bright, very flat, far, side light": dict(gamma=0.6, contrast=0.5, blur=1.0, zoom=1.4, ramp=0.8, dx=-0.08),
    "room 3: blurred and far": dict(gamma=1.0, contrast=1.0, blur=1.8, zoom=1.5, ramp=0.0, dx=0.0),
}


def one_room(g: torch.Tensor, gamma: float, contrast: float, blur: float, zoom: float, ramp: float,
             dx: float) -> torch.Tensor:
    """(N, H, W) grey faces in [0, 1] -> (N, 1, H, W) network inputs, all changed the same way."""
    n, h, w = g.shape
    theta = torch.tensor([[zoom, 0, dx], [0, zoom, 0]], dtype=torch.float32).expand(n, 2, 3)
    x = F.grid_sample(g[:, None], F.affine_grid(theta, (n, 1, h, w), align_corners=False), padding_mode="border",
                      align_corners=False)
    x = x.clamp(1e-3, 1) ** gamma * (1 + ramp * torch.linspace(-1, 1, w).view(1, 1, 1, w))
    x = 0.5 + (x - 0.5) * contrast
    r = torch.arange(-2, 3, dtype=torch.float32)
    k = torch.exp(-(r**2) / (2 * blur**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), (k[:, None] * k[None])[None, None])
    return faces.normalise(x)


def room_inputs(g: torch.Tensor, change: dict | None) -> torch.Tensor:
    """(N, H, W) grey faces -> (N, 1, H, W) network inputs, as photographed (None) or in one of ROOMS."""
    return faces.normalise(g)[:, None] if change is None else one_room(g, **change)


def s_norm(e: np.ndarray, cohort: np.ndarray, top: int) -> np.ndarray:
    """(N, D) unit embeddings -> (N, N) S-norm scores against the `top` most similar cohort photos of each."""
    look = np.sort(e @ cohort.T, axis=1)[:, -top:]
    mean, std = look.mean(1), look.std(1)
    c = e @ e.T
    return 0.5 * ((c - mean[None]) / std[None] + (c - mean[:, None]) / std[:, None])


def open_set_scores(s: np.ndarray, labels: np.ndarray, known: list[int], unknown: list[int]):
    """Best gallery score of each known probe and each stranger, for each of the 10 choices of gallery photo."""
    people = faces.by_person(labels)
    strangers = np.concatenate([people[p] for p in unknown])
    accepted, rejected = [], []
    for k in range(10):
        gallery = np.array([people[p][k] for p in known])
        probes = np.array([i for p in known for j, i in enumerate(people[p]) if j != k])
        accepted.append(s[np.ix_(probes, gallery)].max(1))
        rejected.append(s[np.ix_(strangers, gallery)].max(1))
    return accepted, rejected


def rates(scores, t: float) -> tuple[float, float]:
    accepted, rejected = scores
    return float(np.mean([(a >= t).mean() for a in accepted])), float(np.mean([(r < t).mean() for r in rejected]))


def balanced(scores) -> tuple[float, float, float]:
    """-> (threshold, accepted, rejected) where the two rates are closest."""
    best = min(np.unique(np.concatenate(scores[0] + scores[1])), key=lambda t: abs(np.subtract(*rates(scores, t))))
    return (float(best), *rates(scores, best))


def pair_rates(s: np.ndarray, labels: np.ndarray, t: float) -> tuple[float, float]:
    same = labels[:, None] == labels[None]
    off = ~np.eye(len(labels), dtype=bool)
    return float((s[same & off] >= t).mean()), float((s[~same] >= t).mean())


def one_room_of_the_shipped(model: faces.FaceNet, g: torch.Tensor, y: np.ndarray, threshold: float) -> dict:
    """People 30-39 in each of ROOMS (every photo changed the same way), plain cosine at `threshold`: {room:
    {"same_person": share of same-person pairs reaching it, "different_people": share of other pairs reaching it}}."""
    measured = torch.from_numpy(y >= 30)
    rooms = {}
    for name, change in ROOMS.items():
        e = faces.embed_inputs(room_inputs(g, change)[measured], model)
        same, others = pair_rates(e @ e.T, y[y >= 30], threshold)
        rooms[name] = {"same_person": round(same, 4), "different_people": round(others, 4)}
    return rooms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--validation-dir", default="runs/faces/validation")
    parser.add_argument("--top", type=int, default=50)
    parser.add_argument("--shipped", action="store_true")
    parser.add_argument("--write", action="store_true", help="with --shipped: into models/weights/faces.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from train import faces as training

    pixels, y = training.load_orl(args.data_dir)
    g = training.grey_inputs(pixels)
    if args.shipped:
        loaded = faces.load(device="cpu")
        rooms = one_room_of_the_shipped(loaded.model, g, y, loaded.meta["threshold"]["value"])
        for name, r in rooms.items():
            print(f"shipped, people 30-39, {name}: same person {r['same_person']:.1%} reach the threshold, different "
                  f"people {r['different_people']:.1%}")
        if args.write:
            loaded.meta["metrics"]["one_room"] = {"rooms": rooms, "command": "python -m benchmarks.faces_room "
                                                  "--data-dir ../shared/data --shipped --write"}
            write_card(loaded.meta, faces.NAME)
            print("written to models/weights/faces.json")
        return
    keep = y < 30
    g, y = g[torch.from_numpy(keep)], y[keep]
    cfg = training.TrainConfig(data_dir=args.data_dir)
    model = faces.FaceNet(training.model_config(cfg))
    model.load_state_dict(load_file(f"{args.validation_dir}/faces.safetensors"))
    model.eval().views = faces.Views(mirror=True)
    measured, labels = y >= 20, y[y >= 20]
    thresholds = {}
    e_all = faces.embed_inputs(faces.normalise(g)[:, None], model)
    cohort, e = e_all[y < 20], e_all[measured]
    for scoring, s in (("cosine", e @ e.T), (f"S-norm (top {args.top})", s_norm(e, cohort, args.top))):
        a = open_set_scores(s, labels, list(range(20, 25)), list(range(25, 30)))
        b = open_set_scores(s, labels, list(range(25, 30)), list(range(20, 25)))
        (ta, aa, ra), (_, ab, rb) = balanced(a), balanced(b)
        thresholds[scoring] = ta
        print(f"{scoring}: balanced open set, gallery 20-24: {aa:.1%} accepted / {ra:.1%} rejected at {ta:.3f}; "
              f"gallery 25-29: {ab:.1%} / {rb:.1%}", flush=True)
    for name, change in ROOMS.items():
        e = faces.embed_inputs(room_inputs(g, change)[torch.from_numpy(measured)], model)
        line = []
        for scoring, s in (("cosine", e @ e.T), (f"S-norm (top {args.top})", s_norm(e, cohort, args.top))):
            same, others = pair_rates(s, labels, thresholds[scoring])
            line.append(f"{scoring}: same person {same:.1%}, strangers let in {others:.1%}")
        print(f"{name}: " + "; ".join(line), flush=True)


if __name__ == "__main__":
    main()
