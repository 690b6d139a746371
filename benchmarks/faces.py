"""The face model, measured: `embed` latency, and the card's numbers re-measured from the shipped weights beside the
eigenfaces baseline.

    python -m benchmarks.faces [--calls 300] [--threads 1]                 # embed latency on an ORL photo
    python -m benchmarks.faces --views "face + mirror, shifted 2 px"       # the latency of other test-time views
    python -m benchmarks.faces --data-dir ../shared/data --write           # + unseen people, eigenfaces, the page's map; into the card

Latency: one call of models.faces.embed on a 112x92 ORL photo (preprocessing, the card's views: the face and its
mirror image in one batch through the network), with the page's one inference thread (ui.loading.INFERENCE_THREADS).
Accuracy: people 30-39, never seen in training, from the data directory (the same protocol as train.faces: one-shot
over the 10 choices of gallery photo, equal-error rate over every pair, the open set at the card's threshold, with
the card's views), and eigenfaces (PCA of people 0-29's preprocessed photos, 100 components, nearest neighbour by
cosine). --write puts the latency (and the eigenfaces result) into the shipped card.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmarks.common import latency_parser, report, timed
from models import faces
from models.common import device_name, read_card, write_card
from train.common import default_data_dir

ASSET = Path(__file__).resolve().parents[1] / "assets" / "faces" / "orl.npz"


def main() -> None:
    parser = latency_parser(__doc__, calls=300, warmup=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--write", action="store_true", help="put the measured numbers into models/weights/faces.json")
    parser.add_argument("--views", choices=list(faces.VIEW_CANDIDATES),
                        help="time these test-time views instead of the card's (latency only: no accuracy, no --write)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, meta = faces.load()
    if args.views:
        model.views = faces.VIEW_CANDIDATES[args.views]
        args.write, args.data_dir = False, ""
    with np.load(ASSET) as d:
        image = faces.orl_image(d["x"][0])
    ms = timed(lambda i: faces.embed(image, model), args.calls, args.warmup, busy=args.busy_thread)
    hardware = f"{device_name()}"
    report(f"faces.embed on a 112x92 photo ({model.views.describe()}), {args.calls} calls, {hardware}, torch "
           f"{torch.__version__}", ms, args.busy_thread)
    card = read_card(faces.NAME)
    if args.write and not args.busy_thread:
        card["metrics"]["embed_ms"] = {"median": round(float(np.median(ms)), 2),
                                       "p95": round(float(np.percentile(ms, 95)), 2), "hardware": hardware,
                                       "command": f"python -m benchmarks.faces --threads {args.threads}"}

    data = Path(args.data_dir) / "vision" / "faces" / "orl.npz"
    if args.views:
        print("--views: latency only")
    elif data.exists():
        from train import faces as training

        pixels, y = training.load_orl(args.data_dir)
        x = faces.normalise(training.grey_inputs(pixels))[:, None]
        unseen = training.measure(model, x, y, training.FINAL["measure"], meta["threshold"]["value"])
        base = training.eigenfaces(x, y, training.FINAL["train"], training.FINAL["measure"])
        o = unseen["open_set"]
        print(f"unseen people 30-39: one-shot {unseen['one_shot']['accuracy']:.2%} (card "
              f"{meta['metrics']['unseen']['one_shot']['accuracy']:.2%}), EER {unseen['eer']:.2%}; open set at "
              f"{o['threshold']:.3f}: known accepted {o['known_accepted']:.1%} (and named {o['known_accepted_and_named']:.1%}),"
              f" strangers rejected {o['unknown_rejected']:.1%}")
        print(f"eigenfaces ({base['components']} components of people 0-29): one-shot {base['one_shot']['accuracy']:.2%},"
              f" EER {base['eer']:.2%}")
        if args.write:
            card["map"] = training.map_record(model, x)
            base["command"] = "python -m benchmarks.faces --data-dir DATA_DIR"
            card["metrics"]["eigenfaces"] = base
    else:
        print(f"{data} not found: accuracy not measured (set --data-dir or DATA_DIR)")
    if args.write:
        write_card(card, faces.NAME)
        print("written to models/weights/faces.json")


if __name__ == "__main__":
    main()
