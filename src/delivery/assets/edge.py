"""Purging the caches in front of the app when an asset changes: nginx by URL, Cloudflare by cache tag.

Every image response carries `Cache-Tag: asset-{id},project-{id}` (Cloudflare
reads it and strips it before the browser). Changes arrive here from the change
listener (delivery.assets.invalidation), in every process:

- **nginx** (Debian's `libnginx-mod-http-cache-purge`, exact keys only): each
  process remembers the image URLs it served per asset (with the `Accept` that
  chose their format class), in memory and bounded, and on a change sends
  `PURGE /purge{url}` for each to every nginx in `PROMPTPIX_NGINX_PURGE_URLS`. nginx
  computes the cache key from the `PURGE` request exactly as from the `GET`, so
  what this process put in nginx is what it removes; an entry whose process has
  since restarted is refreshed by `X-Accel-Expires` (`PROMPTPIX_EDGE_TTL`)
  revalidation instead.
- **Cloudflare** (`purge_cache` by tags): only the process holding the
  listener's leader lock purges, so one change is one purge whatever the
  number of processes. Tags are batched (`PROMPTPIX_CLOUDFLARE_PURGE_BATCH`
  per request), requests spaced by `PROMPTPIX_CLOUDFLARE_PURGE_INTERVAL`
  (Cloudflare rate-limits purges), and a 429 or 5xx is retried with backoff
  up to `PROMPTPIX_CLOUDFLARE_PURGE_ATTEMPTS` times before the batch is logged
  and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

import httpx
from cachetools import LRUCache

from delivery.settings import Settings

__all__ = ["EdgePurger", "ServedUrls", "cache_tags"]

log = logging.getLogger("promptpix.edge")
_URLS_PER_ASSET = 256
"""Remembered URLs of one asset per process; past it the oldest is forgotten (its nginx entry expires by TTL)."""
_NGINX_CONCURRENCY = 8


def cache_tags(asset_id: str, project_id: int) -> str:
    return f"asset-{asset_id},project-{project_id}" if project_id else f"asset-{asset_id}"


class ServedUrls:
    """Per asset, the (raw path and query, Accept) of image responses this process served, newest last."""

    def __init__(self, assets: int = 100_000) -> None:
        self._by_asset: LRUCache[str, dict[tuple[str, str], None]] = LRUCache(maxsize=assets)

    def remember(self, asset_id: str, url: str, accept: str) -> None:
        urls = self._by_asset.get(asset_id)
        if urls is None:
            urls = self._by_asset[asset_id] = {}
        urls[(url, accept[:300])] = None
        if len(urls) > _URLS_PER_ASSET:
            del urls[next(iter(urls))]

    def take(self, asset_id: str) -> list[tuple[str, str]]:
        return list(self._by_asset.pop(asset_id, None) or ())


class EdgePurger:
    """Owns the HTTP client and the Cloudflare batch; `changed` is called for every change notification."""

    def __init__(self, settings: Settings, served: ServedUrls, *, is_leader: Callable[[], bool]) -> None:
        self._settings = settings
        self._served = served
        self._is_leader = is_leader
        self._nginx = [u.strip().rstrip("/") for u in settings.nginx_purge_urls.split(",") if u.strip()]
        self._cloudflare = bool(settings.cloudflare_zone_id and settings.cloudflare_api_token)
        self._client = httpx.AsyncClient(timeout=10)
        self._tags: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._worker: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(_NGINX_CONCURRENCY)
        self.sent: list[list[str]] = []
        """Tag batches Cloudflare accepted (for the metrics and the tests)."""

    @property
    def nginx(self) -> bool:
        return bool(self._nginx)

    def start(self) -> None:
        if self._cloudflare:
            self._worker = asyncio.create_task(self._purge_cloudflare(), name="cloudflare-purge")

    async def stop(self) -> None:
        for task in [*self._tasks, *([self._worker] if self._worker else [])]:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    def changed(self, asset_id: str) -> None:
        """A change of `asset_id` (its row, or an `@name` that pointed at it) was committed."""
        urls = self._served.take(asset_id) if self._nginx else []
        if urls:
            task = asyncio.create_task(self._purge_nginx(urls))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._cloudflare and self._is_leader():
            self._tags[f"asset-{asset_id}"] = None
            self._wake.set()

    async def _purge_nginx(self, urls: list[tuple[str, str]]) -> None:
        async def one(base: str, url: str, accept: str) -> None:
            async with self._slots:
                for attempt in range(3):  # an nginx reloading refuses connections for a moment
                    try:
                        response = await self._client.request("PURGE", f"{base}/purge{url}", headers={"Accept": accept} if accept else {})
                    except httpx.HTTPError as exc:
                        log.warning("nginx purge failed", extra={"url": base + url.split("?")[0], "error": str(exc)})
                    else:
                        if response.status_code in (200, 404):  # 404: nginx did not hold it
                            return
                        log.warning("nginx purge refused", extra={"url": base + url.split("?")[0], "status": response.status_code})
                        if response.status_code < 500:
                            return
                    await asyncio.sleep(0.2 * (attempt + 1))

        await asyncio.gather(*(one(base, url, accept) for base in self._nginx for url, accept in urls))

    async def _purge_cloudflare(self) -> None:
        settings = self._settings
        endpoint = f"{settings.cloudflare_api_url.rstrip('/')}/zones/{settings.cloudflare_zone_id}/purge_cache"
        headers = {"Authorization": f"Bearer {settings.cloudflare_api_token}"}
        while True:
            await self._wake.wait()
            batch = list(self._tags)[: settings.cloudflare_purge_batch]
            for tag in batch:
                del self._tags[tag]
            if not self._tags:
                self._wake.clear()
            await self._send(endpoint, headers, batch)
            await asyncio.sleep(settings.cloudflare_purge_interval)  # Cloudflare rate-limits purge requests

    async def _send(self, endpoint: str, headers: dict[str, str], tags: list[str]) -> None:
        attempts = self._settings.cloudflare_purge_attempts
        for attempt in range(1, attempts + 1):
            delay = min(60.0, self._settings.cloudflare_purge_interval * 2**attempt)
            try:
                response = await self._client.post(endpoint, json={"tags": tags}, headers=headers)
            except httpx.HTTPError as exc:
                log.warning("cloudflare purge failed", extra={"attempt": attempt, "error": str(exc)})
            else:
                if response.status_code == 200:
                    self.sent.append(tags)
                    return
                log.warning("cloudflare purge refused", extra={"attempt": attempt, "status": response.status_code, "body": response.text[:300]})
                if response.status_code != 429 and response.status_code < 500:
                    break  # a bad token or zone: retrying cannot help
                with suppress(ValueError):
                    delay = min(60.0, max(delay, float(response.headers.get("retry-after", "0"))))
            if attempt < attempts:
                await asyncio.sleep(delay)
        log.error("cloudflare purge dropped", extra={"tags": tags})
