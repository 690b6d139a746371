"""The answer a page shows, read from the answer's own element (its headline), never from all of the page's text.

All of a page's text holds what the page says when it is wrong ("Wrong: it is person 33.", the example's known
answer "The clip says: …", the best guess in a caption): a check on it passed with a wrong model. Each reader here
returns the headline's answer, or what the headline says instead ("not sure", "not a digit", …), and `check`
fails with "wrong answer on the NAME page", which tests/test_wrong_models.py looks for under each wrong model.
"""
from __future__ import annotations

import html
import re

from streamlit.testing.v1 import AppTest

NOT_SURE = "not sure"


def _markdown(at_or_block) -> list[str]:
    return [m.value for m in at_or_block.markdown]


def _one(values: list[str], page: str) -> str | None:
    assert len(values) <= 1, f"more than one answer on the {page} page: {values}"
    return values[0] if values else None


def digits(at: AppTest) -> str | None:
    """The digit page: "2", "not a digit", "not sure", or None (nothing drawn yet)."""
    for value in _markdown(at):
        if value == "### That doesn't look like a digit":
            return "not a digit"
        if m := re.fullmatch(r"### It's an? \*\*(\d)\*\* \(\d+% sure\)", value):
            return m.group(1)
    return NOT_SURE if any(w.value.startswith("**Not sure.**") for w in at.warning) else None


def photos(at: AppTest) -> str | None:
    """The photo page: the class of "It's a **cat** (97%)", else the first line of the headline shown instead
    ("not sure", or another "### …" heading, lower case), or None."""
    for value in _markdown(at):
        if m := re.fullmatch(r"### It's an? \*\*([^*]+)\*\* \(\d+%\)", value):
            return m.group(1)
    heads = [v for v in _markdown(at) if v.startswith("### ")]
    if heads:
        return re.sub(r"[*#]", "", heads[0]).strip().lower()
    return NOT_SURE if any(w.value.startswith("**Not sure.**") for w in at.warning) else None


def speech(at: AppTest) -> str | None:
    """The speech page's headline (the top level, not the "Teach it your voice" trials): "4 1 5 9", "not sure",
    "no speech", or None."""
    heads = [v for v in _markdown(at) if v.startswith("## ")]
    value = _one(heads, "speech")
    if value is not None:
        m = re.fullmatch(r"## <span style='color:[^']*'>([\d ]*)</span>", value)
        return m.group(1) if m else NOT_SURE if value.startswith("## Not sure") else value
    return "no speech" if any("**No speech detected.**" in w.value for w in at.warning) else None


def trials(block) -> list[str]:
    """The "Teach it your voice" trial's headlines, one per model ("2 8 6", "Not sure", "(no digits)")."""
    return [v[4:] for v in _markdown(block) if v.startswith("### ")]


def translation(at: AppTest) -> str | None:
    """The translation in the answer's type (text only), "not sure" when the heading is the doubt, or None."""
    shown = [v for v in _markdown(at) if "class='translation'" in v]
    value = _one(shown, "translate")
    if value is not None:
        return html.unescape(re.sub(r"<[^>]+>", "", value)).strip()
    return NOT_SURE if "## Not sure what this says" in _markdown(at) else None


def faces(at: AppTest, section: str = "unseen") -> str | None:
    """The face page's answer: "person 33" (or a name added by the viewer), "not in the gallery", or None.
    section: "unseen" (ORL's ten people, the page's first answer) or "yours" (a photo under "Who is this?")."""
    values = _markdown(at)
    start = values.index("#### Who is this?") + 1 if section == "yours" and "#### Who is this?" in values else 0
    stop = values.index("#### Who is this?") if section == "unseen" and "#### Who is this?" in values else len(values)
    if section == "yours" and start == 0:
        return None
    for value in values[start:stop]:
        if m := re.fullmatch(r"### It's \*\*(.+)\*\* \(similarity -?\d\.\d\d\)", value):
            return m.group(1)
        if value == "### Not sure: **not in the gallery**":
            return "not in the gallery"
    return None


READERS = {"digits": digits, "photos": photos, "speech": speech, "translate": translation, "faces": faces}


def check(page: str, shown: str | None, expected: str | None, contains: bool = False) -> None:
    """shown == expected (or, contains=True, expected is a phrase of shown: a few words in their order)."""
    right = shown is not None and expected in shown if contains else shown == expected
    assert right, f"wrong answer on the {page} page: the headline says {shown!r}, expected {expected!r}"


def expect(at: AppTest, page: str, expected: str | None, contains: bool = False, **kw) -> str | None:
    """Read the page's headline and check it; returns it."""
    shown = READERS[page](at, **kw)
    check(page, shown, expected, contains)
    return shown
