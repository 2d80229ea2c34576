"""In-process byte-bounded LRUs (variants, masters) and single-flight for identical concurrent misses.

Single-flight here coalesces within one process; generation additionally takes
a PostgreSQL advisory lock so that processes on other machines wait too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import msgspec
from cachetools import Cache, LRUCache, TTLCache

from delivery.images.transform.limits import Source

__all__ = ["ByteLRU", "Master", "SingleFlight", "Variant"]

T = TypeVar("T")
_ENTRY_OVERHEAD = 512  # bytes of bookkeeping per entry, so tiny values still count


class Variant(msgspec.Struct, frozen=True):
    data: bytes
    mime: str
    width: int
    height: int
    etag: str
    timings: dict[str, float] = {}
    vary_accept: bool = False
    """The format was negotiated from `Accept`; responses say `Vary: Accept`."""
    project_id: int = 0
    """The asset's project, for the `Cache-Tag` of a response served from the LRU without the row."""


class Master(msgspec.Struct, frozen=True):
    """A master's bytes with its checked header, so a cached master is neither fetched nor inspected again."""

    data: bytes
    source: Source


class ByteLRU(Generic[T]):
    """An LRU bounded by the bytes its values hold; a bound of 0 keeps nothing.

    With `ttl` (seconds) an entry also expires that long after it was put: the
    backstop for a change notification that never arrived (delivery.ops.invalidation).
    """

    def __init__(self, max_bytes: int, size_of: Callable[[T], int], ttl: float | None = None) -> None:
        self._size_of = size_of
        maxsize = max(max_bytes, 1)

        def getsizeof(value: T) -> int:
            return size_of(value) + _ENTRY_OVERHEAD

        self._entries: Cache[str, T] = (
            LRUCache(maxsize=maxsize, getsizeof=getsizeof) if ttl is None else TTLCache(maxsize=maxsize, ttl=ttl, getsizeof=getsizeof)
        )

    def get(self, key: str) -> T | None:
        return self._entries.get(key)

    def put(self, key: str, value: T) -> None:
        if self._size_of(value) + _ENTRY_OVERHEAD <= self._entries.maxsize:
            self._entries[key] = value

    def forget(self, matches: Callable[[str], bool]) -> int:
        """Drop every entry whose key `matches`; the number dropped."""
        keys = [k for k in list(self._entries.keys()) if matches(k)]
        for key in keys:
            self._entries.pop(key, None)
        return len(keys)

    def clear(self) -> None:
        self._entries.clear()

    @property
    def size(self) -> int:
        return int(self._entries.currsize)


class SingleFlight(Generic[T]):
    """One call per key at a time; callers that arrive meanwhile share its result or error."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[T]] = {}

    async def run(self, key: str, call: Callable[[], Awaitable[T]]) -> T:
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            result = await call()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters may be gone
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._running[key]
