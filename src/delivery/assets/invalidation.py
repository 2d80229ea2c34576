"""Every process drops what it cached of a changed row, through PostgreSQL `LISTEN/NOTIFY`.

Triggers on `assets` and `asset_names` (migration 011) bump an asset's version
and `NOTIFY promptpix_assets` at commit, whoever made the change (API, console,
CLI, sweep, a generation restoring a deleted asset). Each app process listens on
one dedicated connection (not a pooled one: a listener must stay on its session)
and forgets the asset's variants and master, so a change reaches every worker on
every machine sharing the database within a second. The process that made the
change also forgets at once (`forget_asset` in the route), so its own next
request never waits for the notification.

The same connection listens on `promptpix_lookups` (migration 017: projects,
keys, signing secrets, styles, presets, models) and drops those rows from the
lookup caches (delivery.assets.lookups), which also forget an asset or a moved
`@name` on `promptpix_assets`.

A notification sent while the listener was disconnected is lost, so on every
(re)connect the caches are emptied; `PROMPTPIX_CACHE_TTL` and
`PROMPTPIX_LOOKUP_CACHE_TTL` bound an entry's life should anything else go wrong. Listeners (`on_change`) also get each change,
which is how the edge purge learns of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TypeVar

import asyncpg
import msgspec

from delivery.assets.lookups import LOOKUP_CHANNEL, LookupChange
from delivery.images.variants import forget_asset
from delivery.services import Services

__all__ = ["CHANNEL", "LEADER_LOCK", "Change", "Invalidator"]

CHANNEL = "promptpix_assets"
LEADER_LOCK = 0x70707065  # "pppe": held by one listener connection of all processes sharing the database
log = logging.getLogger("promptpix.invalidation")


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One notification: an asset's row changed (`version` is its new one), or an `@name` moved away from `asset`."""

    project: int
    asset: str
    version: int | None = None
    name: str | None = None


ChangeListener = Callable[[Change], Awaitable[None] | None]
_decode = msgspec.json.Decoder(Change).decode
_decode_lookup = msgspec.json.Decoder(LookupChange).decode
T = TypeVar("T")


def _read(decode: Callable[[str], T], payload: object) -> T | None:
    """A notification's payload decoded, or None (logged) if unreadable. asyncpg types the payload `object`
    but hands over NOTIFY's text as a str, which `str()` returns as it is."""
    text = str(payload)
    try:
        return decode(text)
    except msgspec.DecodeError:
        log.warning("unreadable change notification", extra={"payload": text[:200]})
        return None


class Invalidator:
    """Listens on its own connection to `url` until `stop`; reconnects after `retry` seconds when the connection drops."""

    def __init__(self, services: Services, url: str, *, retry: float = 1.0, on_change: list[ChangeListener] | None = None) -> None:
        self._services = services
        self._url = url
        self._retry = retry
        self._listeners = list(on_change or [])
        self.connected = asyncio.Event()
        """Set while listening: tests wait on it before they change anything."""
        self.leader = False
        """This process holds the leader lock: it alone makes the purges one per change is enough of (Cloudflare)."""
        self.heard: LookupChange | None = None
        """The last notification on `promptpix_lookups`: one a caller sent itself marks every change before it as seen."""
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[None]] = set()

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="invalidation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down or restarting: caches stay (TTL-bounded) until it is back
                log.warning("change listener lost its connection", extra={"error": f"{type(exc).__name__}: {exc}"})
            self.connected.clear()
            await asyncio.sleep(self._retry)

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self._url)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        try:
            await conn.add_listener(CHANNEL, self._notified)
            await conn.add_listener(LOOKUP_CHANNEL, self._lookup_notified)
            # Anything sent before now (first start, or while disconnected) was missed: start empty.
            self._services.variants.clear()
            self._services.masters.clear()
            self._services.lookups.clear()
            self.leader = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK))
            self.connected.set()
            while not lost.is_set():
                # A dropped TCP connection is not always reported: a round trip every few seconds finds out,
                # and takes the leader lock if its holder is gone (the lock lives as long as its connection).
                with suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=5)
                if not lost.is_set():
                    self.leader = self.leader or bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK, timeout=5))
        finally:
            self.leader = False
            with suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=2)

    # Both listeners have asyncpg's listener signature (`Connection.add_listener`).
    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        change = _read(_decode, payload)
        if change is None:
            return
        if change.name is None:
            forget_asset(self._services, change.asset)  # its variants, master and lookups
        else:
            self._services.lookups.forget_name(change.project, change.name)
        for listener in self._listeners:
            result = listener(change)
            if result is not None:
                task = asyncio.ensure_future(result)
                self._pending.add(task)  # the loop holds tasks weakly
                task.add_done_callback(self._pending.discard)

    def _lookup_notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        change = _read(_decode_lookup, payload)
        if change is None:
            return
        self._services.lookups.changed(change)
        self.heard = change
