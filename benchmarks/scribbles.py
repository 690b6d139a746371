"""How often the digit network says "not a digit" on drawings of a generator that training never used
(tests/scribbles.py: polylines, spirals, waves, doodles, letters, shapes), per family, through the page's `predict`.
--write puts it on the digits card (metrics.unseen_scribbles), which the README quotes and tests/test_digits.py
checks against a fresh measurement.

    python -m benchmarks.scribbles [--per-family 60] [--write]
"""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

from models import digits
from models.common import read_card, write_card

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python -m benchmarks.scribbles --write"


def test_generator():
    """tests/scribbles.py, the test-only generator (loaded from its file: it is not a package module)."""
    spec = importlib.util.spec_from_file_location("test_scribbles", ROOT / "tests" / "scribbles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(model, per_family: int = 60) -> dict:
    """-> {"flagged": share of all drawings, "by_family": {family: share}, "drawings", "per_family", "command"}."""
    flagged = {family: [digits.predict(rgba, model).not_digit for rgba in drawings]
               for family, drawings in test_generator().scribbles(per_family).items()}
    return {"flagged": round(float(np.mean(sum(flagged.values(), []))), 4),
            "by_family": {family: round(float(np.mean(f)), 4) for family, f in flagged.items()},
            "drawings": sum(map(len, flagged.values())), "per_family": per_family, "command": COMMAND}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-family", type=int, default=60)
    parser.add_argument("--write", action="store_true", help="record the result on models/weights/digits.json")
    args = parser.parse_args()
    model, _ = digits.load(device="cpu")
    result = measure(model, args.per_family)
    print(f"not a digit: {result['flagged']:.1%} of {result['drawings']} drawings; " +
          ", ".join(f"{family} {share:.1%}" for family, share in result["by_family"].items()))
    if args.write:
        card = read_card(digits.NAME)
        card["metrics"]["unseen_scribbles"] = result
        write_card(card, digits.NAME)
        print("written to the card: metrics.unseen_scribbles")


if __name__ == "__main__":
    main()
