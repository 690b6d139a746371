"""Latency of translating a 10-word English sentence with beam search (median and p95 of many calls).

    python -m benchmarks.translate [--calls 100] [--beam 5]

Each call is what the page does: normalise, tokenise, encode, beam search, attention matrix.
Sentences are cycled so that no call repeats the one before it.
"""
from __future__ import annotations

import torch

from benchmarks.common import latency_parser, report, timed
from models import translate
from models.common import device_name

SENTENCES = [  # ten words each
    "My brother bought a new car for his wife yesterday.",
    "The children were playing in the garden after school today.",
    "I would like to know where the train station is.",
    "A woman in a red dress is walking her dog.",
]


def main() -> None:
    parser = latency_parser(__doc__, calls=100)
    parser.add_argument("--beam", type=int, default=5)
    args = parser.parse_args()
    assert all(len(s.split()) == 10 for s in SENTENCES)

    model, _ = translate.load()
    ms = timed(lambda i: model.translate(SENTENCES[i % len(SENTENCES)], args.beam), args.calls, args.warmup, busy=args.busy_thread)
    result = model.translate(SENTENCES[0], args.beam)
    report(f"translate, 10-word sentences, beam {args.beam}: {args.calls} calls, {device_name(model.device)}, "
           f"torch {torch.__version__}; e.g. {result.text!r}", ms, args.busy_thread)


if __name__ == "__main__":
    main()
