"""Beam-5 BLEU (the page's default beam, the README's headline) on a fixed subset of the test sets: the first
--per-set sentences of Tatoeba's and of Multi30k's test sets, in the order train.translate's split gives them. The
whole sets take ~5 min on one CPU thread (train.translate --evaluate); the subset is what tests/test_translate.py
recomputes and compares with the card. --write records it on the card (metrics.beam5_subset).

    python -m benchmarks.translate_bleu --data-dir ../shared/data [--per-set 100] [--write]
"""
from __future__ import annotations

import argparse
import time

from models import translate as tr
from models.common import read_card, write_card
from train.common import default_data_dir

BEAM = 5


def subset(data_dir: str, per_set: int) -> dict:
    """{set name: [(English, [French references])]}: the first per_set sentences of each test set."""
    from train.translate import TrainConfig, datasets

    return {name: groups[:per_set] for name, groups in datasets(TrainConfig(data_dir=data_dir))["test"].items()}


def measure(model: tr.TranslateModel, data_dir: str, per_set: int) -> dict:
    from train.translate import evaluate_sets

    start = time.perf_counter()
    scored = evaluate_sets(model, subset(data_dir, per_set), beam_size=BEAM)
    return {"beam": BEAM, "per_set": per_set, "sets": {name: {"bleu": s["bleu"], "chrf": s["chrf"]}
                                                        for name, s in scored.items()},
            "signature": next(iter(scored.values()))["signature"], "seconds": round(time.perf_counter() - start, 1),
            "command": f"python -m benchmarks.translate_bleu --data-dir DATA_DIR --per-set {per_set} --write"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--per-set", type=int, default=100)
    parser.add_argument("--write", action="store_true", help="record the result on models/weights/translate.json")
    args = parser.parse_args()
    model = tr.load(device="cpu").model
    result = measure(model, args.data_dir, args.per_set)
    print(f"beam {BEAM}, first {args.per_set} test sentences of each set: " +
          ", ".join(f"{name} BLEU {s['bleu']:.2f} (chrF {s['chrf']:.2f})" for name, s in result["sets"].items()) +
          f"; {result['seconds']:.0f} s")
    if args.write:
        card = read_card(tr.NAME)
        card["metrics"]["beam5_subset"] = result
        write_card(card, tr.NAME)
        print("written to the card: metrics.beam5_subset")


if __name__ == "__main__":
    main()
