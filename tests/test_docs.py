"""The README's numbers are the model cards': every measured number of its table (percentages, bold numbers, parameter
counts) and every training time of "Retrain a model" is found on the page's card (models/weights/NAME.json), rounded
as the README writes it. Read from the cards at test time: a retrained model's card changes, and the README with it.

Issue 37: the README said face training took "12.6 min" (card 10.3), "437k parameters" (437,675), and "92.8 % of
unseen scribbles", which no command printed (now benchmarks.scribbles, on the digits card).
"""
from __future__ import annotations

import re
from statistics import mean

import pytest

from app_pages.registry import EXAMPLES
from conftest import ROOT
from models.common import read_card

README = (ROOT / "README.md").read_text(encoding="utf-8")
NUMBER = r"(\d[\d,]*(?:\.\d+)?)"


def numbers_of(card: dict) -> dict[str, float]:
    """Every number of a card by its path (lists and curves left out: a long list holds every value), and for each
    object of several objects (speakers, presets, rooms) the mean of each number they all have: "on average"."""
    found: dict[str, float] = {}

    def walk(node, path: str) -> dict[str, float]:
        here = {}
        if isinstance(node, dict):
            children = {}
            for key, value in node.items():
                if key == "curve" or isinstance(value, (list, str)):
                    continue
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    here[key] = float(value)
                elif isinstance(value, dict):
                    children[key] = walk(value, f"{path}.{key}")
                    here |= {f"{key}.{k}": v for k, v in children[key].items()}
            kids = list(children.values())
            if len(kids) >= 2:
                for common in set.intersection(*(set(k) for k in kids)):
                    found[f"{path}.mean({common})"] = mean(k[common] for k in kids)
        for key, value in here.items():
            found[f"{path}.{key}"] = value
        return here

    walk(card, "")
    return found


def shown_as(raw: str, unit: str) -> tuple[float, int, float]:
    """'99.71', '%' -> (99.71, 2 decimals, scale 100): what a card's value times the scale rounds to."""
    value = float(raw.replace(",", ""))
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    return value, decimals, {"%": 100.0, "k": 1e-3, "M": 1e-6}.get(unit, 1.0)


def on_card(raw: str, unit: str, card_numbers: dict[str, float]) -> list[str]:
    value, decimals, scale = shown_as(raw, unit)
    return [path for path, v in card_numbers.items() if round(v * scale, decimals) == value]


def table_rows() -> dict[str, list[str]]:
    """The README table's rows, by example name: [model, measured]."""
    titles = {e.title: e.name for e in EXAMPLES}
    rows = {}
    for line in README.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in titles:
            rows[titles[cells[0]]] = cells[1:]
    return rows


def test_the_table_has_a_row_for_every_example():
    assert set(table_rows()) == {e.name for e in EXAMPLES}


@pytest.mark.parametrize("name", [e.name for e in EXAMPLES])
def test_every_measured_number_of_the_readme_table_is_on_the_card(name):
    model, measured = table_rows()[name]
    card = read_card(name)
    card_numbers = numbers_of(card)
    checked, missing = [], []
    for raw, unit in re.findall(NUMBER + r"(k|M) parameters", model):  # "437k parameters"
        value, decimals, scale = shown_as(raw, unit)
        (checked if round(card["parameters"] * scale, decimals) == value else missing).append(f"{raw}{unit} parameters")
    # percentages, and bold numbers (BLEU, rho): measurements; other plain numbers say what was measured
    for bold, raw, unit in re.findall(r"(\*\*)?(?<![\w.,])" + NUMBER + r"(?:\s?(%))?", measured):
        if unit or (bold and f"**{raw}**" in measured):
            (checked if on_card(raw, unit, card_numbers) else missing).append(raw + (unit and " %"))
    assert not missing, f"README's {name} row: {missing} not on models/weights/{name}.json (checked: {checked})"
    assert checked, f"no measured number found in the README's {name} row"


def test_each_training_time_of_retrain_a_model_is_the_card_s():
    """`python -m train.NAME ...   # 18 min on ...`: the card's training time (training alone, or in all) in minutes,
    rounded as written; the CPU recipes' minutes are their cards' alternatives'."""
    section = README.split("## Retrain a model", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"python -m train\.(\w+)[^\n#]*#\s*" + NUMBER + r" min", section)
    assert {name for name, _ in lines} == {e.name for e in EXAMPLES}, lines
    for name, raw in lines:
        training = read_card(name)["training"]
        value, decimals, _ = shown_as(raw, "")
        minutes = [round(training[k] / 60, decimals) for k in ("seconds", "total_seconds")]
        assert value in minutes, f"README: {name} trains in {raw} min; its card: {minutes} (training, in all)"
    (cpu,) = re.findall(r"give a CPU recipe \(" + NUMBER + " and " + NUMBER + " min\\)", section)
    for name, raw in zip(("photos", "translate"), cpu):
        (alternative,) = [a for a in read_card(name).get("alternatives", []) if a["hardware"].startswith("CPU")]
        assert round(alternative["minutes"]) == float(raw), (name, raw, alternative["minutes"])
