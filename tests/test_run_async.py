"""harness.run_async: the load harnesses and the replica tests run their viewers even when the calling thread already
runs an event loop, as the main thread does in CI once the Chromium tests' Playwright browser is alive (CI failed on
test_load_ws and test_deploy with "asyncio.run() cannot be called from a running event loop")."""
from __future__ import annotations

import asyncio

import pytest

from harness.run_async import run


async def answer(value):
    await asyncio.sleep(0)
    return value


async def leave(code):
    await asyncio.sleep(0)
    raise SystemExit(code)


def test_runs_without_a_loop():
    assert run(answer(42)) == 42


def test_runs_where_a_loop_is_already_running_and_asyncio_run_refuses():
    async def inside_a_running_loop():
        plain = answer(1)
        with pytest.raises(RuntimeError, match="running event loop"):
            asyncio.run(plain)
        plain.close()
        return run(answer(7)), run(answer(8))

    assert run(inside_a_running_loop()) == (7, 8)  # (run: pytest may already run a loop here)


def test_the_coroutines_exit_status_reaches_the_caller():
    async def inside_a_running_loop():
        with pytest.raises(SystemExit) as exit_:
            run(leave(1))
        return exit_.value.code

    assert run(inside_a_running_loop()) == 1


def test_runs_while_the_chromium_tests_playwright_is_alive(playwright):
    """The situation CI met: the session's sync Playwright keeps a loop running on this thread."""
    plain = answer(1)
    with pytest.raises(RuntimeError, match="running event loop"):
        asyncio.run(plain)
    plain.close()
    assert run(answer(3)) == 3
