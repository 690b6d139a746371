"""When the translator says "Not sure": the rule chosen on the validation sentences, measured on the test sentences.

    python -m benchmarks.translate_sure --data-dir ../shared/data [--per-set 500] [--write]

The translator always writes French, whatever it is given: "ok" became "C'est un imbécile", German "Ich bin müde."
"Marche ménagère." Its own score says when: the best translation's log-probability per subword (beam search's
ranking) is lower for text unlike its training sentences. The page says "Not sure" above the translation when that
score is below models.translate.NOT_SURE_SCORE, chosen here as the 1st percentile of the validation sentences'
scores at the page's default beam (--per-set of Tatoeba's and of Multi30k's validation sentences: about 1 in 100
real sentences flagged), rounded down to 0.01. Then measured, never chosen on: the test sentences (the same number of
each set, at beams 1 and 5) and NOT_SENTENCES, inputs of the kind visitors type (a word, "ok", another language, key
mashing). --write puts the numbers into the shipped card (metrics.not_sure).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from models import translate as tr
from models.common import read_card, write_card
from train.common import default_data_dir

NOT_SENTENCES = ["ok", "Ok!", "ok.", "lol", "hmm", "yes", "no", "hello", "a", "The", "of", "test", "banana", "zzz",
                 "xyz", "12345", "!!!", "aaaaaaa", "asdf qwer", "qwertyuiop", "kjh lkj lkj", "foo bar baz",
                 "blah blah", "the the the the", "Je suis fatigué.", "Ich bin müde.", "Hallo wie geht's?",
                 "¿Dónde está la estación?", "Buongiorno a tutti", "Wo ist der Bahnhof?"]


def scores(model: tr.TranslateModel, sentences: list[str], beam: int) -> np.ndarray:
    """Each sentence's best translation's log-probability per subword (-inf for input refused with a message, such as
    symbols alone: no translation is shown, as for a flagged one)."""
    out = []
    for sentence in sentences:
        try:
            out.append(model.translate(sentence, beam).candidates[0].score)
        except tr.InputError:
            out.append(-np.inf)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--per-set", type=int, default=500, help="sentences of each of Tatoeba and Multi30k")
    parser.add_argument("--beam", type=int, default=5, help="the beam the rule is chosen at (the page's default)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="put the numbers into models/weights/translate.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from train import translate as training

    sets = training.datasets(training.TrainConfig(data_dir=args.data_dir))
    pick = lambda split: [en for name in ("tatoeba", "multi30k") for en, _ in sets[split][name][: args.per_set]]  # noqa: E731
    model = tr.load().model
    val = scores(model, pick("val"), args.beam)
    chosen = float(np.floor(np.percentile(val, 1) * 100) / 100)
    print(f"validation ({len(val)} sentences, beam {args.beam}): 1st percentile {np.percentile(val, 1):.3f} -> "
          f"threshold {chosen:.2f} (models.translate.NOT_SURE_SCORE = {tr.NOT_SURE_SCORE})")
    threshold = tr.NOT_SURE_SCORE
    test = pick("test")
    result = {"threshold": threshold, "chosen_on": f"validation sentences ({args.per_set} Tatoeba + {args.per_set} "
              f"Multi30k), 1st percentile at beam {args.beam}, rounded down: {chosen:.2f}",
              "validation_flagged": round(float(np.mean(val < threshold)), 4)}
    for beam in sorted({1, args.beam}):
        s = scores(model, test, beam)
        junk = scores(model, NOT_SENTENCES, beam)
        result[f"beam_{beam}"] = {"test_flagged": round(float(np.mean(s < threshold)), 4), "test_sentences": len(s),
                                  "not_sentences_flagged": round(float(np.mean(junk < threshold)), 4),
                                  "not_sentences": len(junk)}
        print(f"beam {beam}: test sentences flagged {np.mean(s < threshold):.1%} of {len(s)}; "
              f"not sentences flagged {np.mean(junk < threshold):.1%} of {len(junk)} "
              f"(let through: {[t for t, v in zip(NOT_SENTENCES, junk) if v >= threshold]})")
    if args.write:
        card = read_card(tr.NAME)
        card["metrics"]["not_sure"] = result | {
            "command": f"python -m benchmarks.translate_sure --data-dir DATA_DIR --per-set {args.per_set}"}
        write_card(card, tr.NAME)
        print("written to the card")


if __name__ == "__main__":
    main()
