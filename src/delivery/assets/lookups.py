"""Per-process caches of the rows an image request reads before its variant: a `/g/` hit makes no query.

Projects (by slug), keys (by id, revocation and expiry included: `active(now)`
is checked on every request), signing secrets (per key, their `retires_at`
checked on every request), styles, project presets, catalogue models, `@names`
and generation key -> asset are each kept in an entry-bounded LRU (`Bounded`) whose
entries live at most `PROMPTPIX_LOOKUP_CACHE_TTL` seconds.

Changes reach every process through PostgreSQL `LISTEN/NOTIFY`, on the one
listener connection per process of delivery.assets.invalidation: triggers on
the looked-up tables (migration 017) notify `promptpix_lookups`, and the asset
triggers (migration 011) notify `promptpix_assets`; each drops the matching
entries here. A listener that (re)connects clears everything, since it may
have missed notifications; the TTL bounds staleness should notifications stop
arriving without the connection being seen to drop, or when the listener is
off (`PROMPTPIX_CHANGE_LISTENER=false`).

A read that started before an invalidation does not store its (possibly old)
row: every invalidation bumps `epoch`, and a fill stores only if it is unchanged.
Absences are never cached: an unknown project, key or name asks the database
each time, so a row that appears is seen at once. The one list kept, a key's
signing secrets, is read again before a signature is refused, so a secret made
a moment ago (rotation) signs at once too.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType
from typing import Generic, TypeVar

import asyncpg
import msgspec

from delivery.db.api_keys import ApiKey
from delivery.db.assets import Asset
from delivery.db.models import CatalogueModel
from delivery.db.presets import Preset
from delivery.db.projects import Project
from delivery.db.reads import Fresh
from delivery.db.signing_secrets import SigningSecret
from delivery.db.styles import Style

__all__ = ["LOOKUP_CHANNEL", "Bounded", "LookupChange", "Lookups", "Reader"]

LOOKUP_CHANNEL = "promptpix_lookups"

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LookupChange(msgspec.Struct, frozen=True):
    """One notification on `promptpix_lookups`: a row of `table` keyed by `name` changed (project: its project id)."""

    table: str
    name: str | None = None
    project: str | None = None
    """Sent as text by the trigger (a JSON field extracted with `->>`)."""


class Bounded(Generic[K, V]):
    """An LRU of at most `entries` entries, each living at most `ttl` seconds; `entries` 0 keeps nothing.

    A plain OrderedDict rather than cachetools' TTLCache: a `/g/` hit makes
    half a dozen lookups, and TTLCache's per-get bookkeeping (a timer context,
    an expiry sweep, its own linked list) cost more than the rest of the hit's
    own work together (bench/hotpath-style measurement, in-process).
    """

    def __init__(self, entries: int, ttl: float = math.inf) -> None:
        self._entries = entries
        self._ttl = ttl
        self._data: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def get(self, key: K) -> V | None:
        held = self._data.get(key)
        if held is None:
            return None
        if held[1] <= time.monotonic():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return held[0]

    def put(self, key: K, value: V) -> None:
        if self._entries <= 0:
            return
        self._data[key] = (value, time.monotonic() + self._ttl)
        self._data.move_to_end(key)
        while len(self._data) > self._entries:
            self._data.popitem(last=False)

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def drop_where(self, holds: Callable[[V], bool]) -> None:
        for key in [k for k, (v, _) in self._data.items() if holds(v)]:
            del self._data[key]

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class Lookups:
    def __init__(self, *, entries: int, ttl: float) -> None:
        # Rows and what is derived from them (`remember`) each live half the TTL, so a derived value
        # made from a row just before the row expired is still gone within the TTL of that row's fill.
        ttl = ttl / 2
        self.projects: Bounded[str, Project] = Bounded(entries, ttl)
        self.keys: Bounded[str, ApiKey] = Bounded(entries, ttl)
        self.secrets: Bounded[str, tuple[SigningSecret, ...]] = Bounded(entries, ttl)
        self.styles: Bounded[tuple[int, str], Style] = Bounded(entries, ttl)
        self.presets: Bounded[tuple[int, str], Preset] = Bounded(entries, ttl)
        self.models: Bounded[str, CatalogueModel] = Bounded(entries, ttl)
        self.names: Bounded[tuple[int, str], Asset] = Bounded(entries, ttl)
        self.generated: Bounded[tuple[int, tuple[str, ...]], Asset] = Bounded(entries, ttl)
        self._derived: Bounded[Hashable, tuple[int, object]] = Bounded(entries, ttl)
        self.epoch = 0
        """Bumped by every invalidation: a fill that began under an older epoch is not stored."""

    def derived(self, key: Hashable) -> object | None:
        """What `remember` kept under `key`, unless any invalidation came since (or its TTL passed)."""
        held = self._derived.get(key)
        return held[1] if held is not None and held[0] == self.epoch else None

    def remember(self, key: Hashable, value: object, epoch: int) -> None:
        """Keep something computed from cached rows alone (read under `epoch`): any invalidation drops it."""
        if epoch == self.epoch:
            self._derived.put(key, (epoch, value))

    def reader(self, pool: asyncpg.Pool) -> Reader:
        return Reader(self, pool)

    def clear(self) -> None:
        self.epoch += 1
        caches = (self.projects, self.keys, self.secrets, self.styles, self.presets, self.models, self.names, self.generated, self._derived)
        for cache in caches:
            cache.clear()

    def forget_asset(self, asset_id: str) -> None:
        """The asset's row changed (or it is gone): drop every entry holding it."""
        self.epoch += 1
        self.names.drop_where(lambda asset: asset.id == asset_id)
        self.generated.drop_where(lambda asset: asset.id == asset_id)

    def forget_name(self, project_id: int, name: str) -> None:
        self.epoch += 1
        self.names.pop((project_id, name))

    def changed(self, change: LookupChange) -> None:
        """A notification from a trigger of migration 017."""
        self.epoch += 1
        name, project = change.name or "", int(change.project) if change.project else 0
        match change.table:
            case "projects":
                self.projects.pop(name)
            case "api_keys":
                self.keys.pop(name)
            case "signing_secrets":
                self.secrets.pop(name)
            case "styles":
                self.styles.pop((project, name))
            case "presets":
                self.presets.pop((project, name))
            case "models":
                self.models.pop(name)
            case _:  # a table this version does not cache from: nothing of it is held
                pass


class Reader:
    """The `Reads` of delivery.db.reads through the caches; a pooled connection is acquired only on a miss,
    then kept until the reader closes (one connection per request, however many misses)."""

    def __init__(self, lookups: Lookups, pool: asyncpg.Pool) -> None:
        self._lookups = lookups
        self._pool = pool
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None

    async def __aenter__(self) -> Reader:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._pool.release(conn)

    async def _fresh(self) -> Fresh:
        if self._conn is None:
            self._conn = await self._pool.acquire()
        return Fresh(self._conn)

    async def _through(self, cache: Bounded[K, V], key: K, read: Callable[[Fresh], Awaitable[V | None]]) -> V | None:
        found = cache.get(key)
        if found is None:
            epoch = self._lookups.epoch
            found = await read(await self._fresh())
            if found is not None and epoch == self._lookups.epoch:
                cache.put(key, found)
        return found

    async def project_by_slug(self, slug: str) -> Project | None:
        return await self._through(self._lookups.projects, slug, lambda fresh: fresh.project_by_slug(slug))

    async def api_key(self, id: str) -> ApiKey | None:
        return await self._through(self._lookups.keys, id, lambda fresh: fresh.api_key(id))

    async def live_signing_secrets(self, key_id: str, now: dt.datetime, *, refresh: bool = False) -> list[SigningSecret]:
        held = None if refresh else self._lookups.secrets.get(key_id)
        if held is None:
            epoch = self._lookups.epoch
            held = tuple(await (await self._fresh()).live_signing_secrets(key_id, now))
            if epoch == self._lookups.epoch:
                self._lookups.secrets.put(key_id, held)
        return [s for s in held if s.retires_at is None or s.retires_at > now]  # live at this request's `now`

    async def style(self, project_id: int, name: str) -> Style | None:
        return await self._through(self._lookups.styles, (project_id, name), lambda fresh: fresh.style(project_id, name))

    async def preset(self, project_id: int, name: str) -> Preset | None:
        return await self._through(self._lookups.presets, (project_id, name), lambda fresh: fresh.preset(project_id, name))

    async def model(self, name: str) -> CatalogueModel | None:
        return await self._through(self._lookups.models, name, lambda fresh: fresh.model(name))

    async def named_assets(self, project_id: int, names: list[str]) -> dict[str, Asset]:
        found: dict[str, Asset] = {}
        missing = []
        for name in names:
            asset = self._lookups.names.get((project_id, name))
            if asset is None:
                missing.append(name)
            else:
                found[name] = asset
        if missing:
            epoch = self._lookups.epoch
            fetched = await (await self._fresh()).named_assets(project_id, missing)
            if epoch == self._lookups.epoch:
                for name, asset in fetched.items():
                    self._lookups.names.put((project_id, name), asset)
            found.update(fetched)
        return found

    async def generated_asset(self, project_id: int, generation_keys: tuple[str, ...]) -> Asset | None:
        key = (project_id, generation_keys)
        return await self._through(self._lookups.generated, key, lambda fresh: fresh.generated_asset(project_id, generation_keys))
