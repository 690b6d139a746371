"""Screenshots of the app in front of a room, and what they measure: presenter mode at 1920x1080 (the digit page
with a 3 drawn, the word map searched for "france", the live page, the tour's bar), a phone at 390x844 (the digit
page with a 3, the home page, the photo page after an upload, the live page; where every page's answer is) and the
embeddings page's controls at 390 and 1400 px.

    python -m harness.room_screenshots [--out docs]

Needs Debian's Chromium and an emoji font, as harness.screenshots. Prints each measurement (CSS pixels, read in
the browser by harness/room.py, the functions tests/test_room.py asserts on).
"""
from __future__ import annotations

import json

from harness import room
from harness.browser import CHROMIUM, CHROMIUM_ARGS
from harness.screenshots import output_dir
from harness.server import free_port, start_server, stop_server

SHOTS = {  # file name -> (viewport, what it shows)
    "present_digits.png": (room.ROOM, "presenter mode: the digit page, a 3 drawn"),
    "present_embeddings.png": (room.ROOM, "presenter mode: the word map, 'france' searched"),
    "present_live.png": (room.ROOM, "presenter mode: the live page as it opens"),
    "present_tour.png": (room.ROOM, "presenter mode: the tour's step 5"),
    "phone_digits.png": (room.PHONE, "a phone: the digit page, a 3 drawn"),
    "phone_home.png": (room.PHONE, "a phone: the home page, whole"),
    "phone_embeddings.png": (room.PHONE, "a phone: the embeddings page's controls"),
    "phone_photos.png": (room.PHONE, "a phone: the photo page after an upload"),
    "phone_live.png": (room.PHONE, "a phone: the live page as it opens"),
}


def main() -> None:
    out = output_dir(__doc__)
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

            def page(size: dict, **options):
                context = browser.new_context(viewport=size, **options)
                new = context.new_page()
                new.set_default_timeout(120_000)
                return new

            results = {}
            present = page(room.ROOM)
            results["present_digits.png"] = room.presenter_digits(present, base, out / "present_digits.png")
            results["present_embeddings.png"] = room.presenter_embeddings(present, base, "france",
                                                                          out / "present_embeddings.png")
            results["present_live.png"] = room.presenter_live(present, base, out / "present_live.png")
            results["present_tour.png"] = room.tour_step(present, base, 5, out / "present_tour.png", present=True)
            phone = page(room.PHONE)
            results["phone_digits.png"] = room.phone_digits(phone, base, out / "phone_digits.png")
            results["phone_home.png"] = room.phone_home(phone, base, out / "phone_home.png")
            results["phone_embeddings.png"] = room.buttons_in_view(phone, base, "embeddings",
                                                                   out / "phone_embeddings.png")
            results["embeddings at 1400 px"] = room.buttons_in_view(page(room.DESKTOP), base, "embeddings")
            touch = page(room.PHONE, is_mobile=True, has_touch=True)
            for name in room.PHONE_HEADLINES:
                shot = out / "phone_live.png" if name == "live" else None
                results[f"phone: {name}"] = room.phone_page(touch, base, name, shot=shot)
            results["phone_photos.png"] = room.phone_page(touch, base, "photos", True, out / "phone_photos.png")
            browser.close()
    finally:
        stop_server(server)
    for name, measured in results.items():
        about = SHOTS.get(name, (None, ""))[1]
        measured = {k: v for k, v in measured.items() if k != "labels"}
        print(f"{out / name if name in SHOTS else name}: {about}\n    {json.dumps(measured, ensure_ascii=False)}")


if __name__ == "__main__":
    main()
