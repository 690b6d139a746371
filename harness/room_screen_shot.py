"""docs/room.png: the room's screen on a projector (1920x1080, ?present=1, the presenter's link) with a room of
simulated phones, after the presenter pressed *Fine-tune on the room's drawings*.

    python -m harness.room_screen_shot [--phones 40] [--out docs/room.png]

A server with Redis (started here, nothing on disk); the phones' events go into the room through the store, as the
pages send them: drawings read by the shipped network (a quarter of them turned on their side, which it often misreads,
as a room's odd hands), each tapped right or wrong; photos with their class and some thumbnails; PINs heard and meant;
live runs. The figures these make are only an illustration: the measured ones are in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
from pathlib import Path

import numpy as np

from harness.drawing import render
from harness.redis_server import RedisServer
from harness.server import ROOT, free_port, start_server, stop_server


PHOTOS = [("chelsea", "cat"), ("astronaut", "none of the ten"), ("coffee", "not sure"), ("rocket", "none of the ten"),
          ("cat", "cat")]


def simulate(store, code: str, phones: int, seed: int = 0) -> None:
    import skimage.data
    from PIL import Image

    from models import digits, live

    from ui import room_store

    room_store.RATE_EVENTS = 10  # simulated phones send their three events at once (a real one, at most 2 a second)
    rng = np.random.default_rng(seed)
    for i in range(phones):
        phone = f"simulated-{i:04d}"
        store.join(code, phone)
        for slot in range(2):
            truth = int(rng.integers(10))
            x = digits.preprocess(render(truth, int(rng.integers(30, 90)), int(rng.integers(20, 70)),
                                         int(rng.integers(150, 200)), int(rng.integers(10, 26))))
            if rng.random() < 0.25:
                x = np.rot90(x).copy()
            p = digits.predict(x)
            answer = -1 if p.not_digit else p.digit
            sure = p.p_not_digit if p.not_digit else p.confidence
            store.add_event(code, phone, {"kind": "digit", "slot": slot, "confidence": round(sure, 4),
                                          "drawing": base64.b64encode((x * 255).astype(np.uint8).tobytes()).decode(),
                                          "answer": answer, "right": answer == truth,
                                          "meant": None if answer == truth else truth})
        extra = {"kind": "photo", "slot": 9, "label": str(rng.choice(["cat", "dog", "automobile", "none of the ten",
                                                                      "not sure", "bird"])),
                 "confidence": round(float(rng.uniform(0.4, 0.99)), 3), "right": bool(rng.random() < 0.7)}
        if i % 8 == 0:  # a ticked box: scikit-image's sample photos stand in for the room's
            buffer = io.BytesIO()
            sample = PHOTOS[(i // 8) % len(PHOTOS)]
            Image.fromarray(getattr(skimage.data, sample[0])()).convert("RGB").resize((64, 64)).save(buffer, "JPEG")
            extra.update(label=sample[1], thumb=base64.b64encode(buffer.getvalue()).decode())
        if i % 3 == 1:
            meant = "".join(str(d) for d in rng.integers(0, 10, 4))
            heard = meant if rng.random() < 0.7 else meant[:3] + str((int(meant[3]) + 1) % 10)
            extra = {"kind": "speech", "slot": 9, "heard": " ".join(heard), "meant": " ".join(meant)}
        elif i % 3 == 2:
            preset = list(live.PRESETS.values())[i % 4]
            extra = {"kind": "live", "slot": 9, "network": preset.title, "seconds": 15.0,
                     "accuracy": round(float(rng.uniform(0.90, 0.985)), 4)}
        store.add_event(code, phone, extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "room.png")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from harness.browser import CHROMIUM, CHROMIUM_ARGS
    from ui.room_redis import RedisStore

    with RedisServer() as redis:
        os.environ["DLL_ROOM_REDIS"] = redis.url
        os.environ.setdefault("DLL_PUBLIC_URL", "http://192.168.1.20:8501")  # a room's address: the QR code shows
        port = free_port()
        server = start_server(port)
        try:
            store = RedisStore(redis.url)
            room = store.open()
            simulate(store, room.code, args.phones)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
                page.set_default_timeout(120_000)
                page.goto(f"http://127.0.0.1:{port}/room?code={room.code}&key={room.key}&present=1")
                page.get_by_role("button", name="Fine-tune on the room's drawings").click()
                page.get_by_text("Fine-tuned on").wait_for()
                # Streamlit scrolls its main area, not the page: a viewport as tall as that area shows all of it
                height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
                page.set_viewport_size({"width": 1920, "height": min(int(height) + 40, 6000)})
                page.wait_for_timeout(2500)
                page.screenshot(path=str(args.out))
                print(page.get_by_text("Fine-tuned on").inner_text())
                browser.close()
            print(f"saved {args.out}; {store.stats(room.code)}")
        finally:
            stop_server(server)


if __name__ == "__main__":
    main()
