"""The README's screenshots: each example page in Chromium, at 1400x1000, once its first answer is shown.

    python -m harness.screenshots [--out docs]

Needs Debian's Chromium and an emoji font (apt-get install -y chromium fonts-noto-color-emoji: without the font
the page titles' icons show as boxes). The digit page gets a 3 drawn with the mouse, the others open on their
first example.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from app_pages.registry import EXAMPLES
from benchmarks.flows import FLOWS
from harness.browser import CHROMIUM, CHROMIUM_ARGS, draw_digit
from harness.server import ROOT, free_port, start_server, stop_server

EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")


def output_dir(doc: str) -> Path:
    """A screenshot script's --out folder (default docs/), once the emoji font the page titles need is there."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args()
    if not EMOJI_FONT.exists():
        raise SystemExit(f"no emoji font ({EMOJI_FONT}): apt-get install -y fonts-noto-color-emoji")
    return Path(args.out)


def main() -> None:
    out = output_dir(__doc__)
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_server(port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            for example in EXAMPLES:
                page.goto(f"http://127.0.0.1:{port}/{example.name}")
                page.get_by_text(re.compile(FLOWS[example.name].ready)).first.wait_for()
                if example.name == "digits":
                    draw_digit(page, 3)
                    page.get_by_text(re.compile(r"It's a 3")).first.wait_for()
                page.wait_for_timeout(1500)  # charts finish drawing
                path = out / f"{example.name}.png"
                page.screenshot(path=str(path))
                print(f"{path}: {example.title}")
            browser.close()
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
