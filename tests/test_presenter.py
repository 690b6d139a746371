"""Presenter mode and the guided tour, through Streamlit's AppTest: `?present=1` and its survival across pages,
explain()'s folding, the tours' data, `?tour=&step=`, Back / Next / End, hostile values. (In Chromium, with sizes
measured: tests/test_room.py.)"""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.registry import EXAMPLES
from conftest import ROOT
from ui import presenter, tour

TIMEOUT = 60
DIGITS_FIRST = "Draw a digit from 0 to 9."


def app(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(params)
    return at.run()


def markdown(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.markdown)


def bar_text(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.markdown if "tour-count" in str(m.value))


def page_title(at: AppTest) -> str:
    return at.title[0].value if at.title else ""


# ---- presenter mode -------------------------------------------------------------------------------------------

def test_present_1_turns_presenter_mode_on_and_it_survives_switching_pages():
    at = app(present="1")
    assert not at.exception
    assert at.session_state[presenter.STATE] is True
    css = [h.proto.body for h in at.get("html")]
    assert any(f"font-size: {presenter.BODY_PX}px" in body for body in css), "the presenter's CSS"
    # Navigating (the sidebar's links) drops the URL's parameters: the session keeps the mode, and puts it back.
    at.query_params.clear()
    at.switch_page("app_pages/digits.py").run()
    assert not at.exception
    assert at.session_state[presenter.STATE] is True and at.query_params.get("present") == "1"
    # The page's explanation is folded to its first sentence; the rest is one click away.
    assert DIGITS_FIRST in [e.label for e in at.expander]
    assert not any(str(m.value).startswith(DIGITS_FIRST) for m in at.markdown)  # not in full
    assert any("A **convolutional network**" in str(m.value) for e in at.expander if e.label == DIGITS_FIRST
               for m in e.markdown)
    # The switch in the page's top bar (the sidebar is collapsed) turns it off, and the URL follows.
    at.toggle(key=presenter.SWITCH_KEYS[1]).set_value(False).run()
    assert at.session_state[presenter.STATE] is False and "present" not in at.query_params
    assert any(str(m.value).startswith(DIGITS_FIRST + " A **convolutional") for m in at.markdown)
    assert not any(f"font-size: {presenter.BODY_PX}px" in h.proto.body for h in at.get("html"))


def test_the_sidebar_switch_turns_presenter_mode_on():
    at = app()
    assert at.session_state[presenter.STATE] is False
    at.toggle(key=presenter.SWITCH_KEYS[0]).set_value(True).run()
    assert at.session_state[presenter.STATE] is True and at.query_params.get("present") == "1"
    assert at.toggle(key=presenter.SWITCH_KEYS[1]).value is True  # and the one in the top bar shows it


@pytest.mark.parametrize("value", ["0", "no", "banana", "", "<script>alert(1)</script>", "1" * 5000])
def test_other_present_values_leave_presenter_mode_off(value):
    at = app(present=value)
    assert not at.exception and not at.session_state[presenter.STATE]


@pytest.mark.parametrize("text, first, rest", [
    ("One sentence only.", "One sentence only.", ""),
    ("Draw a digit from 0 to 9. A **network** reads it.", "Draw a digit from 0 to 9.", "A **network** reads it."),
    ("See Fig. 1a for this. Then more.", "See Fig. 1a for this.", "Then more."),
    ("Words (e.g. Paris) are vectors. Next.", "Words (e.g. Paris) are vectors.", "Next."),
    ("**Input:** the drawing. Is scaled. **Then** more.", "**Input:** the drawing.", "Is scaled. **Then** more."),
    ("**Bold across. Two sentences.** Then the rest.", "**Bold across. Two sentences.**", "Then the rest."),
    ("It reads *multiple levels. Of abstraction* here. Rest.", "It reads *multiple levels. Of abstraction* here.",
     "Rest."),
    ("Accuracy 99.71 % on MNIST. Next one.", "Accuracy 99.71 % on MNIST.", "Next one."),
])
def test_first_sentence(text, first, rest):
    assert presenter.first_sentence(text) == (first, rest)


def test_explain_is_the_whole_paragraph_outside_presenter_mode_and_folded_too_for_phones():
    """In full, in a container the phones' CSS hides; and folded, in the expander it shows them instead (which
    one a screen shows, measured in Chromium: tests/test_room.py)."""
    at = app()
    at.switch_page("app_pages/digits.py").run()
    full = [c for c in at.main.children.values() if (getattr(c, "key", "") or "").startswith("explained_")]
    assert full and str(full[0].markdown[0].value).startswith(DIGITS_FIRST + " A **convolutional")
    folded = [e for e in at.expander if e.label == DIGITS_FIRST]
    assert folded and any("A **convolutional network**" in str(m.value) for m in folded[0].markdown)
    css = "\n".join(h.proto.body for h in at.get("html"))
    assert "st-key-explained_" in css and "st-key-explain_" in css


def test_the_word_map_for_a_room_fills_the_screen_and_frames_the_whole_cloud():
    """In presenter mode the map is full width (no side column), presenter.MAP_HEIGHT_PX tall; its axes are not
    zoomed in (the whole cloud); the searched word and its neighbours are labelled in large type."""
    import json

    at = app(present="1")
    at.switch_page("app_pages/embeddings.py").run()
    at.text_input[0].set_value("france").run()
    assert not at.exception
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    spec = next(s for s in specs if "scene" in s["layout"])  # the 3-D map
    scene = spec["layout"]["scene"]
    assert spec["layout"]["height"] >= 700
    for axis, values in zip(("xaxis", "yaxis", "zaxis"), np.array(xyz_of(spec)).T):  # the whole cloud, not zoomed
        low, high = scene[axis]["range"]
        assert low <= values.min() and values.max() <= high and high - low <= 1.1 * np.ptp(values)
    # The camera frames the whole cloud: every word is inside the picture (as Plotly's camera projects it).
    from app_pages.figures.embeddings import FOVY, project, unit_box

    eye, centre = (np.array([scene["camera"][which][c] for c in "xyz"]) for which in ("eye", "center"))
    xyz = xyz_of(spec)
    slopes = project(unit_box(xyz), eye, 2.0, centre, normalised=True)
    assert len(xyz) >= 1000 and np.abs(slopes[:, 1]).max() <= np.tan(FOVY / 2)
    assert np.abs(slopes[:, 1]).max() >= 0.8 * np.tan(FOVY / 2)  # and fills most of its height: not far away
    labels = scene["annotations"]
    on_map = next(trace for trace in spec["data"] if trace.get("name") == "neighbours on the map")
    assert labels[0]["text"] == "<b>france</b>" and len(labels) == 1 + len(numbers(on_map["x"])) >= 4
    assert min(label["font"]["size"] for label in labels) >= 16
    assert not any(trace.get("mode") == "markers+text" for trace in spec["data"])  # no labels on the dots


def numbers(values) -> np.ndarray:
    """A Plotly JSON array: a list, or a typed array ({"dtype": "f4", "bdata": base64})."""
    import base64

    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).astype(float)
    return np.asarray(values, dtype=float)


def xyz_of(spec: dict) -> np.ndarray:
    """The word map's words' coordinates, from its traces of markers (the groups, the word and its neighbours)."""
    return np.concatenate([np.stack([numbers(trace[c]) for c in "xyz"], axis=1) for trace in spec["data"]
                           if trace.get("mode") == "markers"])


def test_room_labels_sit_in_two_columns_clear_of_each_other():
    """room_labels' own geometry, for many words: each column's labels a row apart, the columns either side."""
    from app_pages.figures.embeddings import ROOM_ROW_PX, project, room_camera, room_labels, unit_box

    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(500, 3)).astype(np.float32)
    words = np.array([f"w{i}" for i in range(500)])
    for focus in rng.choice(500, 20, replace=False):
        near = list(np.argsort(((xyz - xyz[focus]) ** 2).sum(1))[1:11])
        eye, centre = room_camera(xyz, int(focus))
        labels = room_labels(xyz, words, int(focus), near, eye, centre, 750)
        dots = [int(label["text"][1:]) for label in labels[1:]]  # the labels' words, in the labels' order
        at = project(unit_box(xyz)[[focus, *dots]], eye, 750, centre)
        spots = at[1:] + np.array([[label["ax"], label["ay"]] for label in labels[1:]]) - at[0]  # from the word
        left, right = spots[spots[:, 0] < 0], spots[spots[:, 0] > 0]
        assert len(left) == len(right) == 5
        for column in (left, right):
            assert np.allclose(np.diff(np.sort(column[:, 1])), ROOM_ROW_PX)
        # The eye looks at the searched word from its side: it is in the middle part of the picture, and so are
        # the labels (the word's own, up to 4 rows and a half above or below it).
        middle = project(unit_box(xyz)[[focus]], eye, 750, centre)[0]
        assert np.abs(middle[1]) + labels[0]["ay"] * np.sign(labels[0]["ay"]) < 375, (focus, middle)
        assert abs(middle[1] + labels[0]["ay"]) < 375 - 20


# ---- the tour -------------------------------------------------------------------------------------------------

def test_every_tour_is_valid():
    names = tour.names()
    assert tour.DEFAULT in names
    for name in names:
        assert tour.problems(tour.load(name)) == [], name
    review = tour.load(tour.DEFAULT)
    assert 10 <= len(review.steps) <= 14
    # Through all the pages of the review's ideas (a page added later gets its own step when someone writes it).
    assert {step.page for step in review.steps} >= {"home", "live", "digits", "photos", "faces", "speech", "translate",
                                                   "embeddings"}
    assert {step.idea for step in review.steps} == set(tour.IDEAS)  # all the review's ideas


def test_tour_problems_are_found():
    bad = tour.Tour("bad", "A tour", (
        tour.Step("nowhere", {}, "Say this.", "backpropagation"),
        tour.Step("digits", {"colour": "red"}, "Say this.", "backpropagation"),
        tour.Step("digits", {"pen": "400"}, "Say this.", "backpropagation"),
        tour.Step("photos", {"example": "chelsea"}, "Say this.", "magic"),
    ))
    found = "\n".join(tour.problems(bad))
    assert "step 1 (nowhere): no such page" in found
    assert "no parameter 'colour'" in found and "pen='400'" in found and "idea 'magic'" in found


def test_a_tour_link_opens_its_step():
    review = tour.load(tour.DEFAULT)
    at = app(tour="review", step="4")
    assert not at.exception
    step = review.steps[3]
    assert page_title(at).endswith(next(e.title for e in EXAMPLES if e.name == step.page))
    assert f"step 4 of {len(review.steps)}" in bar_text(at) and step.say in bar_text(at)
    assert at.query_params.get("tour") == "review" and at.query_params.get("step") == "4"
    for param, value in step.params.items():  # the page's state, in the URL for the page to read
        assert at.query_params.get(param) == value


def test_next_and_back_move_through_the_tour_and_end_closes_it():
    review = tour.load(tour.DEFAULT)
    at = app(tour="1", step="3")  # tour=1: the default tour
    assert at.session_state[tour.STEP_STATE] == 3 and f"step 3 of {len(review.steps)}" in bar_text(at)
    at.button(key="tour_next").click().run()
    assert not at.exception and at.session_state[tour.STEP_STATE] == 4
    assert f"step 4 of {len(review.steps)}" in bar_text(at) and review.steps[3].say in bar_text(at)
    assert page_title(at).endswith("Draw a digit") and at.query_params.get("step") == "4"
    at.button(key="tour_back").click().run()
    assert at.session_state[tour.STEP_STATE] == 3 and review.steps[2].say in bar_text(at)
    assert page_title(at).endswith("Watch a network learn")
    at.button(key="tour_end").click().run()
    assert not at.exception and not bar_text(at) and "tour" not in at.query_params


def test_the_tour_keeps_presenter_mode():
    at = app(present="1", tour="review", step="1")
    at.button(key="tour_next").click().run()
    assert at.query_params.get("present") == "1" and at.session_state[presenter.STATE] is True


def test_the_last_step_has_no_next_and_the_first_no_back():
    n = len(tour.load(tour.DEFAULT).steps)
    at = app(tour="review", step=str(n))
    assert at.button(key="tour_next").disabled and not at.button(key="tour_back").disabled
    at = app(tour="review", step="1")
    assert at.button(key="tour_back").disabled and not at.button(key="tour_next").disabled


@pytest.mark.parametrize("tour_value, step_value, note", [
    ("nosuchtour", "1", "There is no tour “nosuchtour”"),
    ("../../etc/passwd", "1", "There is no tour given"),
    ("<script>alert(1)</script>", "1", "There is no tour given"),
    ("REVIEW" * 100, "1", "There is no tour given"),
    ("review", "0", "not one of this tour's"),
    ("review", "99", "not one of this tour's"),
    ("review", "-1", "not one of this tour's"),
    ("review", "abc", "not one of this tour's"),
    ("review", "1e9", "not one of this tour's"),
    ("review", "³", "not one of this tour's"),
    ("review", "9" * 5000, "not one of this tour's"),
])
def test_hostile_tour_values_give_a_note_not_an_exception(tour_value, step_value, note):
    at = app(tour=tour_value, step=step_value)
    assert not at.exception
    shown = "\n".join(str(e.value) for kind in ("warning", "caption") for e in getattr(at, kind))
    assert note in shown, shown
    assert "<script>" not in shown and "passwd" not in shown
    if tour_value == "review":  # a bad step of a good tour: it starts at step 1
        assert at.session_state[tour.STEP_STATE] == 1 and "step 1 of" in bar_text(at)
    else:
        assert not bar_text(at) and "tour" not in at.query_params
