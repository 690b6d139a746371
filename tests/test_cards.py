"""Model cards: every shipped checkpoint's JSON follows one schema (models.common.card_problems), and the
card writer refuses a card that doesn't."""
from __future__ import annotations

import json

import pytest

from app_pages.registry import EXAMPLES
from conftest import ROOT
from models.common import card_problems, read_card, record_alternative, write_card


@pytest.mark.parametrize("name", [e.name for e in EXAMPLES])
def test_every_shipped_card_follows_the_schema(name):
    meta = read_card(name)
    assert card_problems(meta, name) == []
    assert meta["training"]["command"].startswith(f"python -m train.{name}")
    assert meta["metrics"], "a shipped card has measured metrics"
    for alternative in meta.get("alternatives", []):
        assert alternative["command"].startswith(f"python -m train.{name}") and "--alternative" not in alternative["name"]


def test_the_writer_refuses_a_bad_card_and_records_alternatives(tmp_path):
    meta = read_card("photos")
    broken = {k: v for k, v in meta.items() if k != "training"}
    with pytest.raises(ValueError, match="training: missing"):
        write_card(broken, "photos", tmp_path)
    assert not (tmp_path / "photos.json").exists()
    write_card(meta, "photos", tmp_path)
    alternative = {"name": "tiny", "command": "python -m train.photos --widths 8,8,8 --alternative tiny",
                   "hardware": "CPU: test", "minutes": 1.0, "metrics": {"test_accuracy": 0.5, "test_accuracy_tta": 0.5},
                   "note": "a test"}
    record_alternative("photos", alternative, tmp_path)
    record_alternative("photos", alternative | {"minutes": 2.0}, tmp_path)  # replaces the one of the same name
    written = json.loads((tmp_path / "photos.json").read_text())
    assert [a["name"] for a in written["alternatives"]] == [a["name"] for a in meta.get("alternatives", [])] + ["tiny"]
    assert written["alternatives"][-1]["minutes"] == 2.0
    with pytest.raises(ValueError, match="minutes"):
        record_alternative("photos", {k: v for k, v in alternative.items() if k != "minutes"}, tmp_path)
