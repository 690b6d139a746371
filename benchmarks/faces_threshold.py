"""Does a threshold chosen on the validation networks carry over to a network that learned more people? People
30-39 are never read here. Two rules compared, each chosen on some networks and applied to others:

- "as chosen": the balanced threshold (as many of the gallery's photos accepted as strangers rejected, the card's
  open sets) used as it is;
- "same share" (shipped): that threshold as the share of pairs of different people, among the choosing networks'
  own training people, that reach it; each network it is applied to gets the similarity that the same share of its
  own training people's pairs reaches (models.faces.threshold_for_share).

Two checks:
1. fewer people -> more: chosen on networks trained on 13 of each fold's 20 people (trained here once, ~5 min on one
   thread, kept in runs/faces/size13-foldK), applied to the folds' 20-people networks: the shipped situation
   (chosen on 20, applied to 30), one step down;
2. leave one fold out: chosen on two folds' networks, applied to the third's.
Printed: each applied network's open set (accepted / rejected, both ways round averaged) and the mean over them of
the smaller of the two rates.

    python -m train.faces --data-dir ../shared/data --threads 1 --validation-only   # trains or reuses the folds
    python -m benchmarks.faces_threshold --data-dir ../shared/data
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from models import faces
from train import faces as training
from train.common import default_data_dir

VIEWS = faces.Views(mirror=True)  # the shipped model's views
SMALL = 13  # of each fold's 20 training people, the first


def fold_network(folder: Path, cfg: training.TrainConfig) -> faces.FaceNet:
    model = faces.FaceNet(training.model_config(cfg))
    model.load_state_dict(load_file(str(folder / "faces.safetensors")))
    return model.eval()


def small_network(g, x, y, cfg, k: int) -> faces.FaceNet:
    """Fold k's recipe trained on the first SMALL of its training people (kept in runs/faces/size13-fold{k+1})."""
    folder = Path(f"runs/faces/size{SMALL}-fold{k + 1}")
    if (folder / "faces.safetensors").is_file():
        return fold_network(folder, cfg)
    fold = training.VALIDATION_FOLDS[k]
    split = {"train": fold["train"][:SMALL], "measure": fold["measure"]}
    model, _, _ = training.train_ensemble(g, x, y, split, cfg, f"{SMALL} people, fold {k + 1}")
    folder.mkdir(parents=True, exist_ok=True)
    save_file({n: v.detach().contiguous() for n, v in model.state_dict().items()}, str(folder / "faces.safetensors"))
    return model


def network_record(model, x, y, trained: list[int], measured: list[int]) -> dict:
    """What the rules need of one network: its measured people's embeddings and its training people's."""
    return {"measured": training.embed_people(model, x, y, measured, VIEWS), "people": measured,
            "trained": training.embed_people(model, x, y, trained, VIEWS)}


def problems(r: dict) -> list[tuple]:
    (e, labels), people = r["measured"], r["people"]
    half = len(people) // 2
    return [(e, labels, people[:half], people[half:]), (e, labels, people[half:], people[:half])]


def applied(chosen_on: list[dict], to: dict, rule: str) -> tuple[float, float]:
    """The open set of network `to` at the threshold the rule takes from networks `chosen_on`: (accepted,
    rejected), its two open sets averaged."""
    t = faces.choose_threshold_pooled([p for r in chosen_on for p in problems(r)])
    if rule == "same share":
        share = float(np.mean([faces.share_reaching(*r["trained"], t) for r in chosen_on]))
        t = faces.threshold_for_share(*to["trained"], share)
    rs = [faces.open_set(e, labels, known, unknown, t) for e, labels, known, unknown in problems(to)]
    return float(np.mean([r["known_accepted"] for r in rs])), float(np.mean([r["unknown_rejected"] for r in rs]))


def report(name: str, results: list[tuple[float, float]]) -> None:
    each = ", ".join(f"{a:.1%} / {r:.1%}" for a, r in results)
    print(f"  {name}: {each}; mean of the smaller {np.mean([min(a, r) for a, r in results]):.1%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=default_data_dir())
    args = parser.parse_args()
    torch.set_num_threads(1)
    pixels, y = training.load_orl(args.data_dir)
    g = training.grey_inputs(pixels)
    x = faces.normalise(g)[:, None]
    cfg = training.TrainConfig(data_dir=args.data_dir)
    big, small = [], []
    for k, fold in enumerate(training.VALIDATION_FOLDS):
        big.append(network_record(fold_network(training.fold_dir(cfg, k), cfg), x, y, fold["train"], fold["measure"]))
        small.append(network_record(small_network(g, x, y, cfg, k), x, y, fold["train"][:SMALL], fold["measure"]))
    for rule in ("as chosen", "same share"):
        print(f"{rule}:")
        report(f"chosen on the {SMALL}-people networks, applied to the 20-people ones",
               [applied(small, to, rule) for to in big])
        report("leave one fold out", [applied([r for j, r in enumerate(big) if j != k], big[k], rule) for k in range(3)])


if __name__ == "__main__":
    main()
