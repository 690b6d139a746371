"""A room in Chromium: a projector opens it, two phones join by its link; what phone A draws and the PIN phone B says
into the fake microphone appear on the projector within 2 s of the phone's own answer (one server, the in-process
store). The screenshot goes to the test's temporary folder (docs/room.png: `python -m harness.room_screen_shot`)."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

from harness.browser import draw_digit
from harness.room import PHONE, ROOM

WITHIN_S = 2.0


@pytest.fixture
def mic_browser(playwright, tmp_path):
    """One Chromium (one at a time on a small machine) whose fake microphone says "four one five nine"."""
    from conftest import CHROMIUM, CHROMIUM_ARGS, espeak_wav

    wav = tmp_path / "pin.wav"
    wav.write_bytes(espeak_wav("four one five nine", voice="en-us", speed=140, lead=0.5, tail=5.0))
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}"])
    yield browser
    browser.close()


def tab(browser, size: dict, **options):
    page = browser.new_context(viewport=size, **options).new_page()
    page.set_default_timeout(60_000)
    return page


def seconds_until_shown(page, locator, start: float) -> float:
    locator.wait_for(timeout=15_000)
    return time.perf_counter() - start


def test_a_drawing_and_a_pin_from_two_phones_reach_the_projector_within_2_s(mic_browser, app_url, tmp_path):
    projector = tab(mic_browser, ROOM)
    projector.goto(f"{app_url}/room")
    projector.get_by_role("button", name="Open a room").click()
    projector.wait_for_url(re.compile(r"code="))
    query = parse_qs(urlparse(projector.url).query)
    code, key = query["code"][0], query["key"][0]
    projector.get_by_text(f"/digits?room={code}").wait_for()
    assert key not in projector.get_by_text(f"/digits?room={code}").inner_text()  # the phones' link has no key

    phone_a = tab(mic_browser, PHONE)
    phone_a.goto(f"{app_url}/digits?room={code}")
    phone_a.get_by_text(f"You're in room {code}").wait_for()
    draw_digit(phone_a, 7)
    phone_a.get_by_text(re.compile(r"It's a 7")).wait_for()
    drawn = time.perf_counter()
    # In a room too, the answer is on the phone's first screen (the room's line in two columns pushed it to y=883)
    answer = phone_a.get_by_text(re.compile(r"It's a 7")).bounding_box()
    assert phone_a.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTop") == 0
    assert answer["y"] + answer["height"] <= PHONE["height"], answer
    wall = seconds_until_shown(projector, projector.get_by_text(re.compile(r"^#\d+: 7 \d+%")).first, drawn)

    phone_b = tab(mic_browser, PHONE, permissions=["microphone"])
    phone_b.goto(f"{app_url}/speech?room={code}")
    phone_b.get_by_text(f"You're in room {code}").wait_for()
    phone_b.get_by_text("Record", exact=True).first.click()
    phone_b.get_by_role("button", name="Record").first.click()
    phone_b.wait_for_timeout(4500)
    phone_b.get_by_role("button", name="Stop recording").first.click()
    said = phone_b.get_by_label("The digits you said (for the room's screen)")
    said.wait_for(timeout=60_000)  # with the phone's answer: the digits it heard are sent
    answered = time.perf_counter()
    heard = seconds_until_shown(projector, projector.locator("td:nth-last-child(2)", has_text=re.compile(
        r"^\d( \d)*$")).first, answered)  # the speech table's columns: heard, meant
    said.fill("4159")
    said.press("Enter")
    typed = time.perf_counter()
    pin = seconds_until_shown(projector, projector.locator("td:last-child", has_text=re.compile(r"^4 1 5 9$")).first,
                              typed)

    print(f"on the projector after the phone's answer: drawing {wall:.2f} s, PIN heard {heard:.2f} s, "
          f"PIN meant (typed) {pin:.2f} s")
    assert wall <= WITHIN_S and heard <= WITHIN_S and pin <= WITHIN_S, (wall, heard, pin)
    assert projector.get_by_text("Phones joined").count() == 1
    projector.screenshot(path=str(tmp_path / "room.png"), full_page=True)
    assert projector.get_by_text("Traceback").count() == 0 and phone_a.get_by_text("Traceback").count() == 0
