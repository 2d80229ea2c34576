"""Waiting for something to happen: poll a condition until a deadline, and fail saying what never happened."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

__all__ = ["until"]


async def until(check: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 60, interval: float = 0.01) -> None:
    """Return as soon as `check()` is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting until {what}"
        await asyncio.sleep(interval)
