"""Shareable views (ui/share.py): every page's state from the URL and back into it, hostile links, and the share
control's QR code decoded back to its link."""
from __future__ import annotations

import io
import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from answers import expect
from conftest import ROOT
from ui import share

TIMEOUT = 60
NOTE = "Ignored from the link"


def open_page(page: str, params: dict | None = None, url: str | None = None, timeout: float = TIMEOUT) -> AppTest:
    """The app opened at /page?params (AppTest: the home page first, then the page with the query string)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout).run()
    for name, value in (params or {}).items():
        at.query_params[name] = value
    if url is not None:
        at.context["url"] = url
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def note(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption if c.value.startswith(NOTE))


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def all_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "warning", "error")
                     for e in getattr(at, kind))


def translation(at: AppTest) -> str:
    """The French shown: the answer, or (text unlike its sentences) the small "best guess" under "Not sure"."""
    (shown,) = [m.value for m in at.markdown if "class='translation'" in m.value or "class='translation-guess'" in m.value]
    return shown


# ---- the mechanism alone ---------------------------------------------------------------------------------------
def test_parsers_take_the_pages_values_and_refuse_the_rest():
    beam = share.one_of([1, 2, 3, 5, 8, 10])
    assert beam("5") == 5 and beam(" 8 ") == 8 and beam("5.0") == 5
    lr = share.one_of([0.001, 0.03], lambda v: f"{v:g}")
    assert lr("0.03") == 0.03 and lr("3e-2") == 0.03
    maps = share.one_of({"tsne": "t-SNE", "pca": "PCA"})
    assert maps("PCA") == "PCA" and maps("pca") == "PCA" and share.name_of({"pca": "PCA"})("PCA") == "pca"
    for parse, raw in [(beam, "999"), (beam, "abc"), (beam, "nan"), (beam, "inf"), (beam, ""), (maps, "<script>"),
                       (share.integer(5, 40), "-1"), (share.integer(5, 40), "1e3"), (share.integer(5, 40), "9" * 50),
                       (share.text(10), "x" * 11), (share.text(10), "a\x00b"), (share.text(10), "\ufffd\ufffd")]:
        with pytest.raises(share.Invalid):
            parse(raw)
    assert share.text(300)("<b>\"Hi\" & 'you'</b>") == "<b>\"Hi\" & 'you'</b>"  # shown escaped by the page
    assert share.slug("Fig. 1a: moons straightened") == "fig-1a-moons-straightened"
    assert share.slug("Spirals, 2×8 tanh") == "spirals-2x8-tanh"


def test_the_note_shows_text_from_a_link_as_text():
    shown = share.escape("<script>alert('x')</script> **b** [a](javascript:x) $x$ :red[y]\nz")
    assert "<" not in shown.replace("\\<", "") and "**" not in shown and "](" not in shown and "\n" not in shown
    assert shown.startswith("\\<script\\>alert\\(\\'x\\'\\)")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8501/translate?text=Where+is+the+station%3F&beam=1",
                                 "https://example.org/embeddings?word=" + "a" * 100 + "&words=2000&map=pca"
                                 + "&a=man&b=king&c=queen"])
def test_the_qr_code_decodes_to_the_link_and_is_large(url):
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(share.qr_png(url)))
    assert image.width == image.height >= 400
    (code,) = zxingcpp.read_barcodes(image)
    assert code.text == url and code.format == zxingcpp.BarcodeFormat.QRCode


# ---- each page: the link sets the controls, the controls set the link -------------------------------------------
def test_digits_pen():
    at = open_page("digits", {"pen": "24"})
    assert at.slider(key="pen").value == 24 and at.query_params.get("pen") == "24" and not note(at)
    at.slider(key="pen").set_value(30).run()
    assert at.query_params["pen"] == "30"
    at.slider(key="pen").set_value(18).run()  # the default: left out of the link
    assert "pen" not in at.query_params


def cam_box(at: AppTest):
    (box,) = [s for s in at.selectbox if s.label == "Evidence for"]
    return box


@pytest.mark.answers("photos")
def test_photos_example_and_grad_cam_class():
    at = open_page("photos", {"example": "chelsea", "cam": "cat"})  # the tour's step: defaults, a short link
    assert expect(at, "photos", "cat") == cam_box(at).value
    assert "example" not in at.query_params and "cam" not in at.query_params and not note(at)

    at = open_page("photos", {"example": "horse", "cam": "frog"})
    assert at.selectbox(key="example").value == "A horse (silhouette)" and cam_box(at).value == "frog"
    assert "Grad-CAM: where the evidence for “frog” lies" in chart_titles(at)
    assert (at.query_params.get("example"), at.query_params.get("cam")) == ("horse", "frog")
    at.selectbox(key="example").set_value("Falcon 9 rocket").run()
    assert at.query_params["example"] == "rocket" and "cam" not in at.query_params  # its own top class
    cam_box(at).set_value("truck").run()
    assert at.query_params["cam"] == "truck"
    at.selectbox(key="example").set_value("Chelsea the cat").run()
    assert "example" not in at.query_params and "cam" not in at.query_params  # the page as it opens


def test_photos_upload_mode_from_the_link():
    at = open_page("photos", {"source": "upload", "cam": "cat"})
    assert at.segmented_control(key="source").value == "Upload" and "Choose a photo" in at.info[0].value
    assert at.query_params.get("source") == "upload" and "cam" not in at.query_params
    assert share.escape("cam=cat") + " (not for what the page shows)" in note(at)  # no example photo, no class
    at.segmented_control(key="source").set_value("Example").run()
    assert "source" not in at.query_params


@pytest.mark.answers("speech")
def test_speech_example():
    at = open_page("speech", {"example": "phone"})
    assert at.selectbox(key="example").value == "A phone number, Scottish voice, fast"
    expect(at, "speech", "8 6 7 5 3 0 9")  # the headline (a caption prints the clip's known answer)
    assert at.query_params["example"] == "phone"
    at.selectbox(key="example").set_value("Silence (no speech)").run()
    assert at.query_params["example"] == "silence"
    expect(at, "speech", "no speech")
    at.segmented_control(key="source").set_value("Record").run()
    assert at.query_params["source"] == "record" and "example" not in at.query_params


@pytest.mark.answers("translate")
def test_translate_text_and_beam():
    at = open_page("translate", {"text": "The cat is sleeping on the sofa.", "beam": "1"})
    assert at.text_input(key="sentence").value == "The cat is sleeping on the sofa."
    assert at.select_slider(key="beam").value == 1
    expect(at, "translate", "Le chat dort sur le canapé", contains=True)
    assert at.pills(key="example").value == "The cat is sleeping on the sofa."  # one of the examples
    at.select_slider(key="beam").set_value(3).run()
    assert at.query_params["beam"] == "3" and at.query_params["text"] == "The cat is sleeping on the sofa."
    at.text_input(key="sentence").set_value("I like apples.").run()
    assert at.query_params["text"] == "I like apples."
    expect(at, "translate", "J'aime les pommes", contains=True)
    at.pills(key="example").set_value("I don't know what to do.").run()  # the first example: the default
    assert "text" not in at.query_params and at.query_params["beam"] == "3"


def test_translate_a_sentence_with_html_and_quotes_is_shown_as_typed():
    text = "<b>\"Hello\"</b> & 'goodbye' <script>alert(1)</script>"
    at = open_page("translate", {"text": text})
    assert at.text_input(key="sentence").value == text and not note(at)
    assert "<script" not in translation(at).split(">", 1)[1] and "<b>" not in translation(at).split(">", 1)[1]
    assert at.query_params["text"] == text


def test_typed_text_the_link_could_not_bring_back_is_left_out():
    at = open_page("translate", {"beam": "3"})
    at.text_input(key="sentence").set_value("x" * 10_000).run()
    assert not at.exception and "takes up to 300" in all_text(at)
    assert "text" not in at.query_params and at.query_params["beam"] == "3"


def test_a_link_too_long_for_a_qr_code_says_so():
    at = open_page("translate", {"text": "€" * 300})  # 2,700 characters once %-escaped
    assert at.text_input(key="sentence").value == "€" * 300 and not at.exception
    assert "This link is too long for a QR code: copy it instead." in [c.value for c in at.caption]


def test_embeddings_word_size_map_and_analogy():
    at = open_page("embeddings", {"word": "king", "words": "2000", "map": "pca"})
    assert at.text_input(key="query").value == "king" and at.select_slider(key="words").value == 2000
    assert at.segmented_control(key="method").value == "PCA"
    assert "Nearest to “king”" in chart_titles(at) and "PCA of the 2,000 most frequent words" in all_text(at)
    at.segmented_control(key="method").set_value("t-SNE").run()
    assert "map" not in at.query_params and at.query_params["words"] == "2000"
    at.pills(key="example_word").set_value("france").run()
    assert at.text_input(key="query").value == "france" and at.query_params["word"] == "france"
    at.selectbox(key="analogy_example").set_value("paris − france + italy").run()
    assert (at.query_params["a"], at.query_params["b"], at.query_params["c"]) == ("france", "paris", "italy")

    at = open_page("embeddings", {"a": "france", "b": "paris", "c": "italy"})  # an example's words: that example
    assert at.selectbox(key="analogy_example").value == "paris − france + italy"
    assert "france : paris :: italy : ?" in chart_titles(at)
    at = open_page("embeddings", {"c": "girl"})  # other words: in the first example's boxes
    assert at.text_input(key="c_king − man + woman").value == "girl" and "man : king :: girl : ?" in chart_titles(at)
    assert at.query_params["c"] == "girl" and "a" not in at.query_params


@pytest.mark.answers("faces")
def test_faces_person_photos_and_map():
    at = open_page("faces", {"person": "35", "gallery": "2", "photo": "7", "map": "pca"})
    state = at.session_state
    assert (state["person"], state["gallery_photo"], state["probe_photo"], state["map_method"]) == (35, 2, 7, "PCA")
    expect(at, "faces", "person 35")  # the link's view is answered (photos 7 and 4 of person 35 are named right)
    at.slider(key="probe_photo").set_value(4).run()
    assert dict(at.query_params) == {"person": "35", "gallery": "2", "photo": "4", "map": "pca"}
    expect(at, "faces", "person 35")
    at.segmented_control(key="map_method").set_value("t-SNE").run()
    assert "map" not in at.query_params  # the default is left out
    hostile = open_page("faces", {"person": "3", "photo": "<b>0</b>", "map": "umap"})
    assert hostile.session_state["person"] == 33 and hostile.session_state["probe_photo"] == 5
    text = note(hostile)  # Markdown-escaped: shown as typed, never as HTML
    assert "person\\=3 (not one of 30" in text and "umap" in text and "\\<b\\>" in text and "<b>" not in text


def test_live_part_1_preset_and_settings():
    at = open_page("live", {"preset": "xor-with-plain-sgd", "lr": "0.1"})
    state = at.session_state
    assert (state["pg_dataset"], state["pg_optimizer"], state["pg_lr"]) == ("xor", "sgd", 0.1)
    assert "XOR with plain SGD" in " ".join(i.value for i in at.info)  # the preset's notice
    assert at.query_params["preset"] == "xor-with-plain-sgd" and at.query_params["lr"] == "0.1"
    assert not state["pg_running"]  # a link sets the view; Train starts it
    at.select_slider(key="pg_batch").set_value(500).run()
    assert at.query_params["batch"] == "all"
    at.selectbox(key="pg_dataset").set_value("circles").run()  # another dataset: the preset's notice goes
    assert "preset" not in at.query_params
    assert dict(at.query_params) == {"dataset": "circles", "noise": "0.2", "hidden": "4", "lr": "0.1", "batch": "all",
                                     "opt": "sgd"}  # the settings that differ from the page's defaults

    at = open_page("live", {"part": "figure1", "dataset": "circles", "noise": "0.3", "hidden": "4,6,2", "act": "relu",
                            "lr": "0.003", "batch": "all", "l2": "0.001", "opt": "sgd"})
    assert [at.slider(key=f"pg_units_{k}").value for k in range(3)] == [4, 6, 2]
    assert (at.slider(key="pg_noise").value, at.segmented_control(key="pg_activation").value) == (0.3, "relu")
    assert (at.select_slider(key="pg_lr").value, at.select_slider(key="pg_batch").value,
            at.select_slider(key="pg_l2").value) == (0.003, 500, 0.001)
    assert not note(at)
    assert dict(at.query_params) == {"dataset": "circles", "noise": "0.3", "hidden": "4,6,2", "act": "relu",
                                     "lr": "0.003", "batch": "all", "l2": "0.001", "opt": "sgd"}

    at = open_page("live", {"part": "figure1", "preset": "Fig. 1a: moons straightened"})  # the name works too
    assert at.session_state["pg_preset"] == "Fig. 1a: moons straightened"
    assert at.query_params["preset"] == "fig-1a-moons-straightened"


def test_live_part_2_settings():
    at = open_page("live", {"part": "digits", "net": "lenet", "width": "wide", "dlr": "0.004", "seconds": "30"})
    assert at.segmented_control(key="part").value == "Train a digit network"
    assert (at.selectbox(key="live_preset").value, at.segmented_control(key="live_width").value,
            at.select_slider(key="live_rate").value, at.select_slider(key="live_budget").value) == (
        "lenet", "wide", 0.004, 30)
    assert dict(at.query_params) == {"part": "digits", "net": "lenet", "width": "wide", "dlr": "0.004",
                                     "seconds": "30"}
    at.selectbox(key="live_preset").set_value("mlp").run()  # its own learning rate: left out
    assert at.query_params["net"] == "mlp" and "dlr" not in at.query_params
    at.segmented_control(key="part").set_value("Figure 1, to play with").run()
    assert dict(at.query_params) == {}  # Part 1 as it opens


# ---- when the link is applied --------------------------------------------------------------------------------------
def test_a_viewers_changes_stay_and_a_new_link_or_coming_back_applies_the_link():
    at = open_page("translate", {"beam": "1"})
    at.select_slider(key="beam").set_value(8).run()
    at.run()
    assert at.select_slider(key="beam").value == 8 and at.query_params["beam"] == "8"
    at.query_params["beam"] = "2"  # another link, in the same session (a tour's next step, the browser's Back)
    at.run()
    assert at.select_slider(key="beam").value == 2
    at.switch_page("app_pages/home.py").run()
    at.query_params.clear()
    at.query_params["beam"] = "2"  # the same link again, after another page
    at.switch_page("app_pages/translate.py").run()
    assert at.select_slider(key="beam").value == 2 and at.query_params["beam"] == "2"
    at.switch_page("app_pages/home.py").run()
    at.query_params.clear()
    at.switch_page("app_pages/translate.py").run()  # from the sidebar: no parameters, the page as it opens
    assert at.select_slider(key="beam").value == 5 and "beam" not in at.query_params


def test_a_control_moved_faster_than_the_browser_updates_the_url_keeps_its_value():
    """Arrow keys held on a slider: each press reruns the page with the URL the browser had, which can be older than
    the last one the page wrote. The viewer's move wins (the slider used to jump back to the old URL's value, then
    the URL followed); a link that changes the URL without a move still applies."""
    at = open_page("faces")
    at.slider(key="probe_photo").set_value(6).run()
    assert at.query_params["photo"] == "6"
    at.query_params.pop("photo")  # the browser's URL, still without photo=6 (5, the default, is left out) ...
    at.slider(key="probe_photo").set_value(7).run()  # ... as the next press arrives
    assert at.slider(key="probe_photo").value == 7 and at.query_params["photo"] == "7"
    at.query_params["photo"] = "2"  # a link, no control moved
    at.run()
    assert at.slider(key="probe_photo").value == 2


@pytest.mark.parametrize("part", ["figure1", "digits"])
def test_coming_back_to_a_page_whose_controls_streamlit_dropped(part):
    """Another page, then back (the sidebar, a card): Streamlit has dropped the page's widget values by then, and
    restore() runs before the widgets. It read every parameter to see whether the viewer had moved one, and the
    playground's noise (st.session_state.pg_noise) raised: the page was only an error box until a reload (Chromium)."""
    at = open_page("live", {"part": part})
    for page in ("digits", "live", "faces", "live", "live"):
        at.query_params.clear()
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
    assert at.segmented_control(key="part").value == "Figure 1, to play with"  # from the sidebar: as it opens
    at.slider(key="pg_noise").set_value(0.35).run()
    assert not at.exception and at.query_params["noise"] == "0.35"


def test_coming_back_while_the_digit_network_trains_shows_it():
    """Start a training, look at another page, come back from the sidebar: Part 2 with the run (it opened on Part 1,
    the run hidden behind the Part control although it was still training: Chromium)."""
    import time

    at = open_page("live", {"part": "digits", "seconds": "30"})
    next(b for b in at.button if b.label == "Start").click().run()
    at.query_params.clear()
    at.switch_page("app_pages/translate.py").run()
    at.switch_page("app_pages/live.py").run()
    assert not at.exception and at.session_state["live_run"].active
    assert at.segmented_control(key="part").value == "Train a digit network"
    assert at.query_params["part"] == "digits"  # the URL says so too
    next(b for b in at.button if b.label == "Stop").click().run()
    deadline = time.monotonic() + 30
    while at.session_state["live_run"].active and time.monotonic() < deadline:
        time.sleep(0.1)
        at.run()
    at.query_params.clear()
    at.switch_page("app_pages/translate.py").run()
    at.switch_page("app_pages/live.py").run()
    assert at.segmented_control(key="part").value == "Figure 1, to play with"  # no run going on: as it opens


def test_parameters_of_others_are_kept_and_left_out_of_the_shared_link(monkeypatch):
    at = open_page("digits", {"pen": "30", "step": "3", "ref": "slides"}, url="http://room.example:8501/digits")
    assert at.query_params.get("step") == "3" and at.query_params.get("ref") == "slides"
    at.slider(key="pen").set_value(12).run()
    assert (at.query_params["step"], at.query_params["ref"], at.query_params["pen"]) == ("3", "slides", "12")
    (code,) = at.code
    assert code.value == "http://room.example:8501/digits?pen=12&ref=slides"  # no presenter or tour state


# ---- hostile links -------------------------------------------------------------------------------------------
HOSTILE = [
    ("digits", {"pen": "-1"}, ["pen=-1 (not from 5 to 40)"]),
    ("digits", {"pen": ["20", "30"]}, ["pen=20 (given 2 times)", "pen=30 (given 2 times)"]),
    ("photos", {"example": "../../etc/passwd", "cam": "<img src=x onerror=alert(1)>"},
     ["example=../../etc/passwd", "cam=<img src=x onerror=alert(1)>"]),
    ("speech", {"example": "unknown", "source": "microphone"}, ["example=unknown", "source=microphone"]),
    ("translate", {"beam": "999", "text": "x" * 10_000}, ["beam=999", "text=" + "x" * 40 + "…",
                                                            "10,000 characters, at most 300"]),
    ("translate", {"beam": ["3", "5"]}, ["beam=3 (given 2 times)", "beam=5"]),
    ("translate", {"text": b"\xff\xfe\xc3("}, ["text=\ufffd\ufffd\ufffd( (not valid UTF-8)"]),
    ("embeddings", {"words": "-1", "map": "<script>alert(1)</script>", "word": "y" * 101, "a": "\x00"},
     ["words=-1", "map=<script>alert(1)</script>", "101 characters, at most 100", "a=\x00 (control characters)"]),
    ("live", {"part": "figure9", "preset": "nope", "hidden": "8,8,8,8", "lr": "1e9", "noise": "nan",
              "batch": "0", "l2": "-1", "act": "<b>", "dataset": "mnist", "opt": "sgd;drop"},
     ["part=figure9", "preset=nope", "hidden=8,8,8,8", "lr=1e9", "noise=nan", "batch=0", "l2=-1", "act=<b>",
      "dataset=mnist", "opt=sgd;drop"]),
    ("live", {"part": "digits", "net": "resnet", "width": "huge", "dlr": "abc", "seconds": "100000"},
     ["net=resnet", "width=huge", "dlr=abc", "seconds=100000"]),
]


@pytest.mark.parametrize("page,params,expected", HOSTILE, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(HOSTILE)])
def test_hostile_links_are_ignored_with_a_note(page, params, expected):
    at = open_page(page, params)
    assert not at.exception and not at.error
    shown = note(at)
    assert shown.startswith(NOTE), all_text(at)
    for fragment in expected:  # each value named, as text: Markdown and HTML escaped; "(why)" after it
        value, _, why = fragment.partition(" (")
        assert share.escape(value) in shown and share.escape(why.rstrip(")")) in shown, (fragment, shown)
    assert not re.search(r"(?<!\\)[<>\[\]*_`]", shown) and "\n" not in shown  # no markup left unescaped
    valid = {"part"} if params.get("part") == "digits" else set()
    assert not {name for name in params if name in at.query_params} - valid, dict(at.query_params)  # defaults
    at.run()
    assert note(at) == shown  # the note stays while the view is the link's


@pytest.mark.answers("translate")
def test_hostile_values_leave_the_defaults():
    at = open_page("translate", {"beam": "999", "text": "x" * 10_000})
    assert at.select_slider(key="beam").value == 5 and at.text_input(key="sentence").value == "I don't know what to do."
    expect(at, "translate", "Je ne sais pas quoi faire", contains=True)
    at.select_slider(key="beam").set_value(3).run()
    assert not note(at)  # the viewer changed the view: the note goes
    at = open_page("embeddings", {"words": "-1", "map": "<script>", "word": "y" * 101})
    assert at.select_slider(key="words").value == 1000 and at.segmented_control(key="method").value == "t-SNE"
    assert at.text_input(key="query").value == ""
    at = open_page("live", {"part": "figure9", "hidden": "8,8,8,8", "lr": "1e9"})
    assert at.slider(key="pg_layers").value == 2 and at.select_slider(key="pg_lr").value == 0.03


# ---- the share control -----------------------------------------------------------------------------------------
def test_the_share_control_shows_the_link_and_a_qr_code_of_it(monkeypatch):
    import zxingcpp
    from PIL import Image
    from streamlit.runtime.media_file_manager import MediaFileManager

    images = []
    add = MediaFileManager.add

    def recording_add(self, content, mimetype, *args, **kwargs):
        if mimetype == "image/png":
            images.append(content)
        return add(self, content, mimetype, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", recording_add)
    url = "http://192.168.1.20:8501/translate"
    at = open_page("translate", {"text": "Where is the station?", "beam": "3", "present": "1"}, url=url)
    (popover,) = at.get("popover")
    assert popover.proto.popover.label == "Share this view"
    (code,) = at.code
    assert code.value == url + "?text=Where+is+the+station%3F&beam=3"
    qr = Image.open(io.BytesIO(images[-1]))
    assert qr.width >= 400
    (decoded,) = zxingcpp.read_barcodes(qr)
    assert decoded.text == code.value
