"""Run a coroutine to completion from any thread, even one whose event loop is already running.

pytest runs the Chromium tests in the same process: Playwright's sync API keeps an event loop running on the main
thread for as long as the session's browser lives, and `asyncio.run` then refuses ("cannot be called from a running
event loop"). The load harnesses and the replica tests run their viewers in a fresh thread with its own loop instead.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Coroutine


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """asyncio.run(coro) on a new thread; returns its result or raises its exception (SystemExit included)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # no loop here: the ordinary way
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coro)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="run_async")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
