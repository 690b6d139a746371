"""The examples, in one list: app.py's navigation, the home page's cards, the tests and the benchmarks read it.

Adding an example = a model module (models/NAME.py), its training script (train/NAME.py), its page
(app_pages/NAME.py) and one Example below. Kept free of torch: the home page imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Example:
    name: str  # the model's name (models/NAME.py, models/weights/NAME.*) and the page's URL path
    title: str
    icon: str  # a Material icon, ":material/...:"
    section: str  # the navigation section it is listed under
    summary: str  # what the page shows, for the home page's card
    review: str  # where it is in the review
    headline: Callable[[dict], str]  # the model card's JSON -> its measured result, in a few words

    @property
    def page(self) -> str:
        return f"app_pages/{self.name}.py"


def _speech(meta: dict) -> str:
    from models.speech import headline

    return headline(meta)


def _photos(meta: dict) -> str:
    from models.photos import headline

    return headline(meta)


def _translate(meta: dict) -> str:
    m = meta.get("metrics", {})
    if not m:
        return "not scored yet"
    return (f"BLEU {m['tatoeba']['beam5']['bleu']:.1f} on held-out Tatoeba sentences, "
            f"{m['multi30k']['beam5']['bleu']:.1f} on Multi30k test 2016")


def _live(meta: dict) -> str:
    table = meta["metrics"]["by_preset"]["default"]
    shortest, longest = min(table, key=float), max(table, key=float)
    return (f"a small CNN reaches {table[shortest]['test_accuracy']:.1%} of the MNIST test digits after "
            f"{shortest} s of training, {table[longest]['test_accuracy']:.2%} after {longest} s")


EXAMPLES = [
    Example("live", "Watch a network learn", ":material/model_training:", "Learning",
            "The review's Figure 1 as a playground: a small network bends the plane until two classes come apart, "
            "with every forward value and backward derivative shown. Then train a digit network in seconds, "
            "and test it on your own drawing.", "Backpropagation; learning representations (Figure 1)", _live),
    Example("digits", "Draw a digit", ":material/draw:", "Vision",
            "A convolutional network trained with backpropagation on MNIST reads your handwriting, "
            "and shows the feature maps of each layer.", "Backpropagation; convolutional neural networks",
            lambda meta: f"{meta['metrics']['test_accuracy']:.2%} on the {meta['metrics']['test_images']:,} MNIST test digits"),
    Example("photos", "Upload a photo", ":material/photo_camera:", "Vision",
            "A CNN trained from scratch on CIFAR-10 names the object in your photo, and Grad-CAM shows where "
            "it found the evidence.", "Convolutional neural networks; image understanding",
            _photos),
    Example("faces", "Recognise a face", ":material/face:", "Vision",
            "A CNN maps a face to an embedding; one photo of a person is enough to recognise them again. "
            "Try it on ten people it never saw, then add yourself with the camera.",
            "Convolutional neural networks; face recognition",
            lambda meta: f"{meta['metrics']['unseen']['one_shot']['accuracy']:.1%} of photos of 10 people it never saw, "
                         "named from one photo each"),
    Example("speech", "Record speech", ":material/mic:", "Speech and language",
            "Say a string of digits: a recurrent network trained with CTC transcribes it and shows, frame by frame, "
            "where it heard each digit. Teach it your voice in a few seconds.", "Recurrent neural networks; speech recognition",
            _speech),
    Example("translate", "Translate a sentence", ":material/translate:", "Speech and language",
            "An English sentence goes into a recurrent encoder–decoder and comes out in French; the attention "
            "map shows which English words it looked at for each French word.", "Recurrent neural networks; machine translation",
            _translate),
    Example("embeddings", "Explore word embeddings", ":material/scatter_plot:", "Speech and language",
            "Skip-gram word vectors learned from 22 million words of Wikipedia and books, in a 3D map you can "
            "rotate and search, with vector arithmetic (king − man + woman).", "Distributed representations and language processing",
            lambda meta: f"WordSim-353 ρ = {meta['metrics']['wordsim353_spearman']:.3f}, analogies "
                         f"{meta['metrics']['analogy_accuracy']:.1%}"),
]


def sections() -> dict[str, list[Example]]:
    """The examples grouped by section, in the order of first appearance."""
    grouped: dict[str, list[Example]] = {}
    for example in EXAMPLES:
        grouped.setdefault(example.section, []).append(example)
    return grouped
