"""Real-browser tests: Chromium, driven by Playwright, uses each page's main flow as a person would."""
from __future__ import annotations

import re

from playwright.sync_api import expect

import pytest

from harness.browser import draw_digit


def test_home_lists_the_examples(page, app_url):
    page.goto(app_url)
    page.get_by_role("heading", name=re.compile("Deep Learning Live")).wait_for()
    page.get_by_text("Models run on").wait_for()
    page.get_by_role("link", name=re.compile("Draw a digit")).first.click()
    page.get_by_text("on the black square").wait_for()


@pytest.mark.parametrize("digit", [7, 3])
def test_draw_a_digit_with_the_mouse(page, app_url, digit):
    page.goto(f"{app_url}/digits")
    page.get_by_text("on the black square").wait_for()  # the empty-canvas state
    draw_digit(page, digit)
    answer = page.get_by_text(re.compile(r"It's an? \d"))
    answer.wait_for()
    assert re.search(r"It's an? (\d)", answer.inner_text()).group(1) == str(digit)
    # What the network sees and the feature maps are shown for the drawing.
    page.get_by_text("What the network sees").wait_for()
    page.get_by_text("128 maps, 7×7").wait_for()  # conv5's feature maps

    # Clear empties the canvas and the prediction goes away.
    page.get_by_role("button", name=re.compile("Clear")).click()
    page.get_by_text("on the black square").wait_for()
    assert page.get_by_text(re.compile(r"It's an? \d")).count() == 0


def test_upload_a_photo(page, app_url, tmp_path):
    from importlib import resources

    from PIL import Image, ImageOps

    # Chelsea the cat, mirrored and cropped: a file the page has not seen as an example.
    chelsea = Image.open(resources.files("skimage") / "data" / "chelsea.png").convert("RGB")
    photo = tmp_path / "my cat.jpg"
    ImageOps.mirror(chelsea).crop((20, 0, 451, 300)).save(photo, quality=90)

    page.goto(f"{app_url}/photos")
    page.get_by_text("It's a").wait_for()  # the first example is classified at once
    page.get_by_text("Upload", exact=True).click()  # the segmented control
    page.get_by_text("Choose a photo").wait_for()
    page.locator("input[type=file]").set_input_files(str(photo))
    answer = page.get_by_text(re.compile(r"It's an? [a-z]+ \(\d+%\)"))
    answer.wait_for()
    assert re.search(r"It's an? ([a-z]+)", answer.inner_text()).group(1) == "cat"
    page.get_by_text(re.compile("Grad-CAM: where the evidence")).wait_for()

    # A file that is not an image: a clear message, no traceback.
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"definitely not a PNG")
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_text("Can't use this file").wait_for()
    assert page.get_by_text("Traceback").count() == 0


def test_search_a_word_and_read_its_neighbours(page, app_url):
    page.goto(f"{app_url}/embeddings")
    page.get_by_text("t-SNE of the 1,000 most frequent words").wait_for()
    box = page.get_by_label("Find a word")
    box.fill("Germany")
    box.press("Enter")
    page.get_by_text("Nearest to “germany”").wait_for()
    neighbours = page.get_by_text(re.compile("^Nearest: "))
    neighbours.wait_for()
    words = re.findall(r"([a-z]+) \(0\.\d+\)", neighbours.inner_text())
    assert len(words) == 10
    assert {"france", "austria", "italy", "poland", "german", "prussia", "berlin"} & set(words), words
    assert page.get_by_text("Traceback").count() == 0


def test_type_a_sentence_and_read_the_french(page, app_url):
    page.goto(f"{app_url}/translate")
    page.get_by_text("Je ne sais pas").wait_for()  # the first example, translated at once
    box = page.get_by_label("English sentence")
    box.fill("I like apples.")
    box.press("Enter")
    answer = page.locator(".translation")
    answer.filter(has_text="pommes").wait_for()
    assert "J'aime les pommes" in answer.inner_text()  # the answer's element, its words in their order
    assert page.get_by_text("Traceback").count() == 0


@pytest.fixture
def microphone_wav(tmp_path_factory):
    """Spoken digits for Chromium's fake microphone: 0.5 s of silence, "three seven one", then 5 s of silence
    (longer than the recording, so the looping file does not start again while recording)."""
    from conftest import espeak_wav

    path = tmp_path_factory.mktemp("mic") / "digits.wav"
    path.write_bytes(espeak_wav("three seven one", voice="en-gb-x-rp", speed=140, lead=0.5, tail=5.0))
    return path


@pytest.fixture
def microphone_page(playwright, microphone_wav):
    """A Chromium whose microphone plays `microphone_wav` (and that may use it without asking)."""
    from conftest import CHROMIUM, CHROMIUM_ARGS

    fake_mic = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone_wav}"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + fake_mic)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["microphone"])
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    browser.close()


def test_record_spoken_digits_with_the_microphone(microphone_page, app_url):
    page = microphone_page
    page.goto(f"{app_url}/speech")
    page.get_by_text("The clip says").wait_for()  # the first example is transcribed at once
    page.get_by_text("Record", exact=True).first.click()  # the segmented control
    page.get_by_text("Say a few digits").wait_for()
    page.get_by_role("button", name="Record").first.click()  # the main recorder (the enrolment ones come later)
    page.wait_for_timeout(3500)
    page.get_by_role("button", name="Stop recording").first.click()
    page.get_by_text("3 7 1", exact=True).wait_for(timeout=60_000)
    page.get_by_text("three seven one").wait_for()
    assert page.get_by_text("Traceback").count() == 0


def speech_seconds(wav, tail: float) -> float:
    """Seconds from the start of a WAV file to the end of its speech (`tail` seconds of silence follow it)."""
    import soundfile as sf

    return sf.info(str(wav)).duration - tail


def test_teach_it_your_voice_then_take_the_voice_profile_to_a_new_session(microphone_page, microphone_wav, app_url,
                                                                          tmp_path):
    """Enrol with the microphone (nine prompts), adapt, read the errors on the test prompt, download the voice
    profile; then, in a new session (the page reloaded), load it and say a new string to both models.

    What is faked: the voice and the microphone. Chromium's fake device plays one file, and reads it again at each
    recording: the test rewrites it before each prompt with espeak-ng saying that prompt (the slow ones one digit at a
    time), so that each prompt gets its own audio, as its status line shows (what the shared model hears in it).

    It also keeps the regression of the expander's place: after adapting it stays open on its result, and its
    recorders still hold their recordings. Before, the "Use my adapted model" toggle that appears above it moved it
    down a place: the browser rebuilt it collapsed, and each rebuilt recorder said "An error has occurred".
    The whole flow takes 40-60 s (25 s of recording; the fine-tuning: 120 steps of the GRU and output layers)."""
    from conftest import espeak_wav
    from models import speech
    from test_voice_profile import say

    page = microphone_page
    page.goto(f"{app_url}/speech")
    page.get_by_text("The clip says").wait_for()
    teach = page.get_by_test_id("stExpander").filter(has=page.locator("summary", has_text="Teach it your voice"))
    teach.locator("summary").click()
    prompts = speech.ENROLMENT_PROMPTS + [speech.HELD_BACK_PROMPT]
    teach.get_by_text(f"0 of {len(prompts)} recorded").wait_for()
    recorders = teach.locator("[data-testid=stAudioInput]")
    recorders.nth(len(prompts) - 1).get_by_role("button", name="Record").wait_for()  # their code loads on demand
    assert recorders.count() == len(prompts)
    heard = []
    for i, prompt in enumerate(prompts):
        microphone_wav.write_bytes(say(prompt, tail=8.0))  # read again when this recording starts
        box = teach.locator(f".st-key-prompt_{i}")
        box.get_by_role("button", name="Record").click()
        page.wait_for_timeout(1000 * speech_seconds(microphone_wav, tail=8.0) + 700)
        box.get_by_role("button", name="Stop recording").click()
        teach.get_by_text(f"{i + 1} of {len(prompts)} recorded").wait_for()
        heard.append(re.search(r"the shared model hears “([^”]*)”", box.inner_text()).group(1))
    assert sum(h == p.digits for h, p in zip(heard, prompts)) >= 5, heard  # each prompt had its own audio
    teach.get_by_role("button", name="Adapt the model to my voice").click()
    page.get_by_text("by your adapted copy").wait_for(timeout=180_000)  # the page's answer, after the rerun
    page.wait_for_timeout(2000)  # a rebuilt recorder fails at once: give it time to show it
    result = teach.get_by_text("On the test prompt (not learned from):")
    assert result.is_visible()  # no click needed: the expander stayed open
    assert re.search(r"\d/6 → \d/6 digit errors", result.inner_text())
    assert page.locator(".st-key-adapt_curve").is_visible()  # the loss curve
    assert page.get_by_text("An error has occurred").count() == 0
    assert page.locator("[data-testid=stAlertContentError]").count() == 0 and page.get_by_text("Traceback").count() == 0
    for i in range(len(prompts)):  # each recording can still be played
        assert recorders.nth(i).get_by_role("button", name="Play").is_visible()
        assert recorders.nth(i).get_by_test_id("stAudioInputWaveformTimeCode").inner_text() != "00:00"
    with page.expect_download() as download:
        teach.get_by_role("button", name="Download my voice profile").click()
    assert download.value.suggested_filename == "voice-profile.safetensors"
    profile = tmp_path / download.value.suggested_filename
    download.value.save_as(profile)  # under its name: the uploader takes .safetensors files only
    assert 0 < profile.stat().st_size <= 3 * 10**6

    page.reload()  # a new session: nothing adapted
    page.get_by_text("The clip says").wait_for()
    assert page.get_by_text("by the shared model").count() == 1
    teach.locator("summary").click()
    teach.locator("input[type=file]").set_input_files(str(profile))
    teach.get_by_text("Loaded from voice-profile.safetensors").wait_for()
    page.get_by_text("by your adapted copy").wait_for()
    microphone_wav.write_bytes(espeak_wav("seven two eight one", voice="en-us+m3", tail=8.0))
    trial = teach.locator(".st-key-try_new")
    trial.get_by_role("button", name="Record").click()
    page.wait_for_timeout(1000 * speech_seconds(microphone_wav, tail=8.0) + 700)
    trial.get_by_role("button", name="Stop recording").click()
    answers = teach.locator(".st-key-try_result").get_by_role("heading")
    answers.nth(1).wait_for()
    assert [answers.nth(k).inner_text() for k in range(2)] == ["7 2 8 1", "7 2 8 1"]  # shared, adapted
    assert page.locator("[data-testid=stAlertContentError]").count() == 0 and page.get_by_text("Traceback").count() == 0


def test_train_a_digit_network_watch_it_learn_stop_and_compare_on_a_drawing(page, app_url):
    page.goto(f"{app_url}/live?part=digits")  # Part 2, by its link
    page.get_by_text("Press Start: a network").wait_for()
    main = page.get_by_test_id("stMain")  # not the header's own Stop, shown while a script runs
    main.get_by_role("button", name=re.compile("Start")).click()
    # Part 2's metric, "Test accuracy (1,000 digits)": Part 1's "Test accuracy" can linger for a moment after the switch
    accuracy = page.get_by_test_id("stMetric").filter(has_text="Test accuracy (").get_by_test_id("stMetricValue")
    accuracy.wait_for()
    seen = []
    for _ in range(60):  # it streams: the accuracy on the watched test digits rises while it trains
        seen.append(float(accuracy.inner_text().rstrip("%")))
        if len(set(seen)) >= 3 and seen[-1] > seen[0]:
            break
        page.wait_for_timeout(300)
    assert len(set(seen)) >= 3 and seen[-1] > seen[0], seen
    main.get_by_role("button", name=re.compile("Stop")).click()
    page.get_by_text("Draw a digit: your network against the shipped one").wait_for()
    page.get_by_text("Stopped before its time budget").wait_for()
    draw_digit(page, 7)
    mine = page.get_by_text("Your network", exact=True)
    mine.wait_for()
    answers = page.get_by_role("heading", name=re.compile(r"^(It's an? \d|Not sure)"))
    answers.nth(1).wait_for()
    texts = [answers.nth(i).inner_text() for i in range(answers.count())]
    assert len(texts) == 2 and texts[1].startswith("It's a 7"), texts  # the shipped network reads it
    assert page.get_by_text("Traceback").count() == 0


def test_add_a_person_from_two_uploads_and_recognise_a_third_photo(page, app_url, tmp_path):
    """Recognise a face: two photos of someone the network never saw (ORL person 36), uploaded under a name, make a
    gallery; a third photo of them is recognised. A file that is not an image gets a message."""
    import numpy as np
    from PIL import Image

    from conftest import ROOT

    with np.load(ROOT / "assets" / "faces" / "orl.npz") as d:
        photos = d["x"][d["y"] == 36]
    files = []
    for k in (0, 1, 2):
        path = tmp_path / f"me_{k}.png"
        Image.fromarray(photos[k]).convert("RGB").resize((184, 224)).save(path)  # a larger colour file
        files.append(str(path))

    page.goto(f"{app_url}/faces")
    page.get_by_text("Add yourself", exact=True).wait_for()
    page.get_by_label("Name").fill("Grace")
    page.get_by_label("Name").press("Enter")
    page.get_by_text("Upload", exact=True).first.click()  # the add section's "Photo from"
    page.locator("input[type=file]").first.set_input_files(files[:2])
    page.get_by_text("me_1.png").wait_for()
    page.get_by_role("button", name="Add to the gallery").click()
    page.get_by_text("Added 2 photos of Grace").wait_for()
    page.get_by_text("me_1.png").wait_for(state="detached")  # the uploader starts empty for the next person
    page.get_by_text("A new photo to recognise").wait_for()  # the probe's camera, by default
    page.locator(".st-key-probe_source").get_by_text("Upload", exact=True).click()
    probe = page.locator(".st-key-probe_upload input[type=file]")
    probe.set_input_files(files[2])
    page.get_by_role("heading", name=re.compile("It's Grace")).wait_for()
    # "Upload" clicked again stays selected (it used to deselect, and the camera replaced the photo)
    page.locator(".st-key-probe_source").get_by_text("Upload", exact=True).click()
    page.wait_for_timeout(1500)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")  # no run going on
    assert probe.count() == 1 and page.get_by_role("heading", name=re.compile("It's Grace")).is_visible()

    bad = tmp_path / "notes.png"
    bad.write_bytes(b"definitely not a PNG")
    probe.set_input_files(str(bad))
    page.get_by_text("Can't use this file").wait_for()
    assert page.get_by_text("Traceback").count() == 0


def test_a_link_sets_the_view_and_the_view_sets_the_link(page, app_url):
    """ui/share.py in a real browser: the URL's parameters set the controls and the answer; a control moved
    changes the browser's URL; the share control shows that link."""
    page.goto(f"{app_url}/translate?text=Where+is+the+station%3F&beam=5")
    page.locator(".translation").filter(has_text="Où est la gare").wait_for()
    # the input is filled by the same run that shows the answer; the browser may draw it a moment later: retried
    expect(page.get_by_label("English sentence")).to_have_value("Where is the station?", timeout=20_000)
    beam = page.get_by_role("slider")  # the beam size: the page's only slider
    beam.focus()
    beam.press("ArrowLeft")  # 5 -> 3
    page.wait_for_url(re.compile(r"[?&]beam=3(&|$)"))
    assert "text=Where+is+the+station%3F" in page.url
    page.get_by_role("button", name=re.compile("Share this view")).click()
    link = page.get_by_test_id("stCode").filter(has_text="beam=3")
    link.wait_for()
    assert link.inner_text().strip() == page.url
    # This server listens on 127.0.0.1 only: no phone could open the link, so no QR code of it, but the command
    # that opens the server to the room (ui/room_address.py; the code itself: tests/test_room_link.py)
    page.get_by_text("--server.address 0.0.0.0").wait_for()
    assert page.get_by_test_id("stImage").count() == 0
    page.keyboard.press("Escape")

    page.goto(f"{app_url}/embeddings?word=king&map=pca")
    page.get_by_text("Nearest to “king”").wait_for()
    page.get_by_text("PCA of the 1,000 most frequent words").wait_for()
    assert page.get_by_text("Traceback").count() == 0
    with page.expect_download() as download:  # made when pressed (a callable), not at every run of the page
        page.get_by_role("button", name="Download these coordinates (CSV)").click()
    assert download.value.suggested_filename == "words_pca_1000.csv"
    rows = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert rows[0] == "rank,word,x,y,z,group" and rows[1].startswith("1,the,") and len(rows) == 1001
