"""When each key was last used, recorded in memory and written in batches: a link hit makes no write.

`record` is a dict store; `flush` writes every key used since the last flush
in one statement, and the app's lifespan calls it every
`PROMPTPIX_KEY_USE_FLUSH` seconds and once at shutdown. `last_used_at` is so
at most that many seconds behind (plus a crash's loss of one interval), and a
hot key costs one write per interval per process, whatever its traffic.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import asyncpg

from delivery.db.api_keys import record_key_use

__all__ = ["KeyUse", "flushing"]

log = logging.getLogger("promptpix.keys")


class KeyUse:
    def __init__(self) -> None:
        self._used: dict[str, dt.datetime] = {}

    def record(self, key_id: str, now: dt.datetime) -> None:
        self._used[key_id] = now

    def pending(self) -> int:
        return len(self._used)

    async def flush(self, pool: asyncpg.Pool) -> int:
        """Write what was recorded; what a failed write held is kept for the next flush. The number of keys written."""
        if not self._used:
            return 0
        used, self._used = self._used, {}
        try:
            async with pool.acquire() as conn:
                await record_key_use(conn, used=used)
        except BaseException:
            for key_id, at in used.items():  # newer uses recorded meanwhile win
                self._used.setdefault(key_id, at)
            raise
        return len(used)


@asynccontextmanager
async def flushing(key_use: KeyUse, pool: asyncpg.Pool, interval: float) -> AsyncIterator[None]:
    """Flush every `interval` seconds while open, and once more on the way out (shutdown)."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await key_use.flush(pool)
            except Exception as exc:  # the database is down: the uses are kept for the next flush
                log.warning("writing keys' last use failed", extra={"error": f"{type(exc).__name__}: {exc}"})

    task = asyncio.create_task(loop(), name="key-use")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        try:
            await key_use.flush(pool)
        except Exception as exc:
            log.warning("writing keys' last use at shutdown failed", extra={"error": f"{type(exc).__name__}: {exc}"})
