"""Waiting for something to happen: poll a condition until a deadline, and fail saying what never happened."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

__all__ = ["heard_up_to_now", "until"]


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


async def heard_up_to_now(app: Any, database_url: str) -> None:
    """Wait until `app`'s change listener has heard every change committed before this call.

    Notifications arrive in commit order, so once the listener hears one sent
    now (a `promptpix_lookups` notification of no table it caches), every
    earlier change has reached the app's caches. For tests that change rows and
    then expect the very next request to see it, rather than within the second
    the product promises.
    """
    token = uuid.uuid4().hex
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_notify('promptpix_lookups', $1)", json.dumps({"table": "barrier", "name": token}))
    finally:
        await conn.close()
    invalidator = app.state.invalidator
    await until(lambda: invalidator.heard is not None and invalidator.heard.name == token, "the app hears its barrier", timeout=10)
