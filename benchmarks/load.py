"""Load test: N concurrent real browser sessions on one server, then a long single-session soak.

    python -m benchmarks.load [--sessions 1 5 10 20] [--rounds 1] [--soak 1000] [--port P] [--timeout 60]

Starts `streamlit run app.py` (headless, on --port or a free one) and one Chromium (Playwright, Debian's
/usr/bin/chromium, a fake microphone playing "three seven one"). A warm-up session first goes through every
page once (models loaded, caches filled; not measured). Then, for each N, N browser contexts run at once, each
through every page of benchmarks/flows.py (--rounds times), starting at different pages. Each page is loaded
until it reads the flow's "ready" text; then it gives one of the flow's inputs this way:

    link    home: click the example's link until that page is ready
    draw    draw the digit with the mouse (harness/drawing.py's strokes; Clear first if a drawing is there) once
            the drawing canvas is ready (BrowserViewer.canvas_box)
    type    type the sentence or the word (capitalised) and press Enter
    upload  switch the photo source to Upload and upload a photo of a cat (not the example's)
    record  switch to Record, record 3.5 s with the microphone, stop (skipped, and said so, when espeak-ng is
            missing: the speech page is then not visited)

Page load = goto until the page's first result is visible; interaction = from the input (mouse up, file set,
Enter, stop recording, click) until the answer is visible. Errors: exceptions and timeouts, wrong answers,
"Traceback", "...Error" or a lost connection on the page, JavaScript errors, and tracebacks in the server log.
The server's RSS and CPU (its process and children; 100 % = one core) are sampled every 0.5 s; "browser CPU"
is everything else this command started (Chromium and Playwright), which shares the machine's cores.

Soak (--soak K, 0 to skip): one session does K cheap interactions (flows.SOAK's pages whose input repeats
here: translate, search a word, draw), ten per page visit, then a fresh visit to the next page; the server's
RSS after --soak-warmup interactions is compared with its RSS at the end.

Targets, on the 2-core CPU machine: 10 concurrent sessions with zero errors and p95 interaction latency
<= 1 s; soak RSS growth <= 5 %. The browser runs on the same cores, so the numbers are pessimistic.
"""
from __future__ import annotations

import contextlib
import re
import tempfile
import time
from pathlib import Path

from benchmarks import loadtest
from benchmarks.flows import FLOWS, Flow, Step, check
from harness.browser import CANVAS_POLL, CANVAS_RECTS_JS, CANVAS_SELECTOR, CHROMIUM, CHROMIUM_ARGS, CanvasWatch
from harness.drawing import strokes_at
from harness.voices import EspeakMissing, espeak_wav

SERVER_LOG = Path(tempfile.gettempdir()) / "deep-learning-live-load.log"
# Case-sensitive on purpose: the speech page's "digit error rate" is fine, "ValueError" is not.
ERROR_TEXT = re.compile(r"Traceback|\w*Error\b|Connection error|Is Streamlit still running")


def make_files(folder: Path) -> dict[str, Path]:
    """The files the flows' uploads and recordings name, made in `folder` (no microphone without espeak-ng)."""
    from importlib import resources

    from PIL import Image, ImageOps

    chelsea = Image.open(resources.files("skimage") / "data" / "chelsea.png").convert("RGB")
    files = {"my cat.jpg": folder / "my cat.jpg"}
    ImageOps.mirror(chelsea).crop((20, 0, 451, 300)).save(files["my cat.jpg"], quality=90)
    (words,) = [step.value for flow in FLOWS.values() for step in flow.steps_for({"record"})]  # Chromium plays one
    try:  # 0.5 s of silence, the words, 30 s of silence: Chromium loops the file, and under load the stop click
        # can come late; the loop must not come round again
        wav = espeak_wav(words, voice="en-gb-x-rp", speed=140, lead=0.5, tail=30.0)
    except EspeakMissing as e:
        print(f"{e}: the speech flow is skipped")
    else:
        files["microphone"] = folder / "microphone.wav"
        files["microphone"].write_bytes(wav)
    return files


class BrowserViewer(loadtest.Viewer):
    """A browser context and its tab."""

    def __init__(self, browser, base: str, files: dict[str, Path], stats: loadtest.Stats, timeout: float):
        super().__init__(stats, timeout)
        self.browser, self.base, self.files = browser, base, files
        self.context = self.page = None

    async def open(self) -> None:
        self.context = await self.browser.new_context(
            viewport={"width": 1400, "height": 1000}, permissions=["microphone"] if "microphone" in self.files else [])
        self.page = await self.context.new_page()
        self.page.set_default_timeout(self.timeout * 1000)
        self.page.on("pageerror", lambda e: self.stats.error("javascript", str(e)))

    async def close(self) -> None:
        if self.context is not None:
            await self.context.close()

    def text(self, pattern: str):
        return self.page.get_by_text(re.compile(pattern)).first

    async def load(self, flow: Flow) -> float:
        t = time.perf_counter()
        await self.page.goto(f"{self.base}/{flow.path}")
        await self.text(flow.ready).wait_for()
        return time.perf_counter() - t

    async def act(self, flow: Flow, step: Step) -> float:
        """The input (each kind below), then until the answer is visible; the answer checked."""
        answer = self.text(flow.answer or step.expect)
        give = {"link": self.click, "draw": self.draw, "type": self.type_in, "upload": self.upload, "record": self.record}
        t = await give[step.kind](flow, step, answer)
        await answer.wait_for()
        seconds = time.perf_counter() - t
        try:
            check(step.expect, (await answer.inner_text()).strip())
        except AssertionError as e:
            raise loadtest.WrongAnswer(seconds, str(e)) from None
        return seconds

    # Each input: give it, and return the time of its last gesture (what the answer is timed from).

    async def click(self, flow: Flow, step: Step, answer) -> float:
        t = time.perf_counter()
        await self.page.get_by_role("link", name=FLOWS[step.value].title).first.click()
        return t

    async def draw(self, flow: Flow, step: Step, answer) -> float:
        page = self.page
        if await answer.count():  # a drawing from the last interaction: clear it
            await page.get_by_role("button", name=re.compile("Clear")).click()
            await self.text(flow.ready).wait_for()
        box = await self.canvas_box()
        (stroke,) = strokes_at(step.value, left=box["x"] + 60, top=box["y"] + 40, size=180)  # one stroke: one rerun
        await page.mouse.move(*stroke[0])
        await page.mouse.down()
        for x, y in stroke[1:]:
            await page.mouse.move(x, y, steps=4)
        t = time.perf_counter()
        await page.mouse.up()
        return t

    async def canvas_box(self) -> dict:
        """The drawing canvas's box, once it stays where the pen goes (see harness.browser)."""
        watch, looks = CanvasWatch(self.timeout), self.page.locator(CANVAS_SELECTOR)
        while (box := watch.settled(await looks.evaluate_all(CANVAS_RECTS_JS))) is None:
            await self.page.wait_for_timeout(CANVAS_POLL * 1000)
        return box

    async def type_in(self, flow: Flow, step: Step, answer) -> float:
        box = self.page.get_by_label(step.label)
        await box.fill(step.value[:1].upper() + step.value[1:])  # as a viewer types it: "Germany"
        t = time.perf_counter()
        await box.press("Enter")
        return t

    async def upload(self, flow: Flow, step: Step, answer) -> float:
        await self.page.get_by_text("Upload", exact=True).click()  # the segmented control
        await self.page.get_by_text("Choose a photo").first.wait_for()
        await answer.wait_for(state="hidden")  # the example's answer is gone
        t = time.perf_counter()
        await self.page.locator("input[type=file]").set_input_files(str(self.files[step.value]))
        return t

    async def record(self, flow: Flow, step: Step, answer) -> float:
        page = self.page
        await page.get_by_text("Record", exact=True).first.click()  # the segmented control
        await page.get_by_text("Say a few digits").first.wait_for()
        await page.get_by_role("button", name="Record").first.click()  # the main recorder
        await page.wait_for_timeout(3500)
        t = time.perf_counter()
        await page.get_by_role("button", name="Stop recording").first.click()
        return t

    async def inspect(self, where: str) -> None:
        """What the viewer would see as broken: an exception box, a traceback, an '...Error', a lost connection."""
        try:
            if await self.page.locator("[data-testid='stException']").count():
                self.stats.error(where, "an exception is shown on the page")
            found = ERROR_TEXT.search(await self.page.locator("body").inner_text())
            if found:
                self.stats.error(where, f"{found.group()!r} on the page")
        except Exception as e:  # noqa: BLE001 - the page itself may be gone
            self.stats.error(where, e)


@contextlib.asynccontextmanager
async def browsers(args):
    from playwright.async_api import async_playwright

    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as folder:
        files = make_files(Path(folder))
        kinds = {"link", "draw", "type", "upload"} | ({"record"} if "microphone" in files else set())
        fake_mic = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={files['microphone']}"] if "microphone" in files else []
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + fake_mic)
            try:
                yield loadtest.Harness(lambda stats, timeout: BrowserViewer(browser, base, files, stats, timeout),
                                       frozenset(kinds), frozenset({"type", "draw"}))
            finally:
                await browser.close()


def main() -> None:
    loadtest.main(__doc__, browsers, log=SERVER_LOG, client="browser", rounds=1, soak_warmup=50)


if __name__ == "__main__":
    main()
