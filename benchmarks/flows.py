"""The pages' flows, one list for both load harnesses (benchmarks/load.py: real browsers; load_ws.py: Streamlit's
protocol): for the home page and each example of app_pages/registry.py, the text that says the page is ready,
and its main interaction's inputs, each with the answer it must bring; and the soak's order of pages.

Texts are regular expressions over what a viewer reads in one element (Markdown and HTML rendered: "It's a
**cat**" reads "It's a cat"), written so that both Python and JavaScript (Playwright) read them alike. Each
harness gives the inputs it can (Step.kind) and checks the answer; the answers were checked against the
shipped models (the words' neighbours in the 10 nearest, the sentences' French with the page's beam of 5,
the photos' classes, the clips' digits).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from app_pages.registry import EXAMPLES

SPEECH_EXAMPLES = json.loads((Path(__file__).resolve().parent.parent / "assets" / "speech" / "examples.json")
                             .read_text(encoding="utf-8"))  # what the speech page's example clips say


@dataclass(frozen=True)
class Step:
    """One input of a page's main interaction, and the answer it must bring."""
    kind: str  # how it is given: link (click it on the home page), draw, type, pick (a select box), upload, record
    value: object  # the example's name, the digit, the text typed, the option picked, the file, the words said
    expect: str | None  # what the answer must read; None: any answer (not a class the model knows)
    label: str = ""  # the widget's label, for type and pick


@dataclass(frozen=True)
class Flow:
    name: str  # "home", or the example's name: its URL path
    title: str  # its link on the home page and in the navigation ("" for home)
    ready: str  # what the page reads once its first result is there
    answer: str | None  # what any answer of its interaction reads, right or wrong (None: only the right one)
    steps: tuple[Step, ...]

    @property
    def path(self) -> str:
        return "" if self.name == "home" else self.name

    def steps_for(self, kinds) -> list[Step]:
        """The steps a harness giving `kinds` of input can do."""
        return [step for step in self.steps if step.kind in kinds]


def _speech() -> tuple:
    (_, first), *others = SPEECH_EXAMPLES.items()  # the page opens on the first clip; each pick changes it
    return rf"^{first['says']}$", r"^\d( \d)+$|^No speech detected|^Not sure what was said", (
        *(Step("pick", name, rf"^{clip['says']}$" if clip["says"] else r"^No speech detected", "Example clip")
          for name, clip in others),
        # with 0.5 s of silence before and 30 s after: Chromium loops the microphone's file
        Step("record", "three seven one", r"^3 7 1$"),
    )


_SENTENCES = {"I like apples.": "pommes", "The cat is sleeping on the sofa.": "chat", "I love my dog.": "chien",
              "Where is the station?": "gare", "The house is big.": "maison", "I drink water.": "eau",
              "We are going to the beach.": "plage", "The book is on the table.": "livre"}
# Consecutive words' neighbours differ, so that a search never reads the answer left by the one before.
_WORDS = {"germany": "austria", "france": "spain", "king": "queen", "music": "jazz", "river": "rivers",
          "computer": "software", "london": "manchester", "red": "blue", "city": "town", "war": "wars"}
_PAGES = {  # example name -> (ready, answer, steps)
    "digits": ("on the black square", r"^It's an? \d|^Not sure|^That doesn't look like a digit",
               tuple(Step("draw", d, rf"^It's an? {d}\b") for d in (7, 3, 1, 4, 2))),  # one stroke each
    # The page opens on Chelsea the cat; each pick changes the photo. The upload is benchmarks/load.py's own
    # photo (scikit-image's chelsea.png mirrored and cropped: not the example's bytes).
    "photos": (r"^It's a cat \(\d+%\)", r"^It's an? [a-z]+ \(\d+%\)|^Not sure|^This doesn't look like any", (
        # What the network fine-tuned on real photos says (issue 40): the silhouette "not sure" (dog 37 %, horse
        # 24 %), the astronaut "a dog" (people are not among the kinds it learned "none of the ten" from)
        Step("pick", "A horse (silhouette)", r"^Not sure\b", "Example photo"),
        Step("pick", "Falcon 9 rocket", r"^This doesn't look like any of the ten", "Example photo"),
        Step("pick", "Astronaut Eileen Collins", r"^It's a dog\b", "Example photo"),
        Step("upload", "my cat.jpg", r"^It's a cat\b"),
    )),
    "speech": _speech(),
    "translate": ("Je ne sais pas", None, tuple(Step("type", sentence, rf"\b{french}\b", "English sentence")
                                               for sentence, french in _SENTENCES.items())),
    # Part 1 opens first: ready when its last section (after every figure) is there; no interaction repeats.
    "live": ("^One hidden unit, larger$", None, ()),
    "faces": ("^The gallery's nearest faces$", None, ()),  # after the 400 ORL faces are embedded
    "embeddings": ("t-SNE of the 1,000 most frequent words", None, tuple(
        Step("type", word, rf"^Nearest: .*\b{neighbour} \(", "Find a word") for word, neighbour in _WORDS.items())),
}
# A new example without an entry in _PAGES is still loaded (ready when its title shows), with no interaction.
_examples = [Flow(example.name, example.title, *_PAGES.get(example.name, (re.escape(example.title), None, ())))
             for example in EXAMPLES]
# Home: click each example's link in turn, until that page is ready.
HOME = Flow("home", "", "Models run on", None, tuple(Step("link", flow.name, flow.ready) for flow in _examples))
FLOWS = {flow.name: flow for flow in [HOME, *_examples]}

SOAK = ("translate", "embeddings", "digits", "photos")  # the soak's pages, in order (those whose inputs repeat)
SOAK_VISIT = 10  # soak interactions per page visit


def check(expect: str | None, text: str | None) -> None:
    """AssertionError unless `text` (the answer read, None: none) reads as `expect` says."""
    if text is None or (expect is not None and not re.search(expect, text)):
        raise AssertionError(f"expected /{expect or 'an answer'}/, read {(text or 'nothing')[:100]!r}")
