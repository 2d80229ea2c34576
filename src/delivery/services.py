"""What the app's lifespan owns: pools, clients, caches, the thread pool.

One instance per process, created in `app.lifespan` and closed there; routes
reach it through `request.app.state.services`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
from cachetools import LRUCache, TTLCache

from delivery.access.usage import KeyUse
from delivery.assets.edge import EdgePurger, ServedUrls
from delivery.assets.embeddings import EmbeddingQueue
from delivery.assets.lookups import Bounded, Lookups
from delivery.errors import ServiceError, Unavailable
from delivery.images.cache import ByteLRU, Master, SingleFlight, Variant
from delivery.images.params import TransformParams
from delivery.images.transform import Limits
from delivery.ops.metrics import Metrics
from delivery.prompts.circuits import Circuits
from delivery.settings import Settings
from delivery.storage import Storage
from generation import Embedder, Moderator, PipelineSettings, PromptPolicy, Provider, terms

__all__ = ["Busy", "Services"]

T = TypeVar("T")


class Busy(Unavailable):
    """Every transform thread is busy and the queue is full: shed load rather than queue forever."""

    message, report = "the image service is busy, retry shortly", False


class Services:
    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        storage: Storage,
        provider: Provider,
        executor: ThreadPoolExecutor,
        moderator: Moderator | None = None,
        providers: Mapping[str, Provider] | None = None,
        database_url: str = "",
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.database_url = database_url
        """What the pool connects to: dedicated connections (the change listener) use it too."""
        self.pool = pool
        self.storage = storage
        self.provider = provider
        """The deployment's default provider (PROMPTPIX_GENERATOR)."""
        self.providers: dict[str, Provider] = {**(providers or {}), provider.name: provider}
        """Every configured provider by name: catalogue models may name any of them."""
        self.executor = executor
        self.moderator = moderator
        """The safety gate's classifier (PROMPTPIX_MODERATION); None: local checks only."""
        self.prompt_policy = PromptPolicy(blocklist=terms(settings.prompt_blocklist), allowlist=terms(settings.prompt_allowlist), max_chars=settings.max_prompt_chars)
        self.limits = Limits(
            max_output_pixels=settings.max_output_pixels,
            max_source_pixels=settings.max_source_pixels,
            max_source_bytes=settings.max_source_bytes,
            max_source_frames=settings.max_source_frames,
            max_upscale=settings.max_upscale,
            deadline=settings.transform_deadline,
        )
        self.pipeline: PipelineSettings = settings.pipeline
        self.transform_capacity = settings.thread_count + settings.transform_queue
        self.transforms_in_flight = 0
        self.variants: ByteLRU[Variant] = ByteLRU(settings.variant_cache_bytes, lambda v: len(v.data), settings.cache_ttl)
        self.masters: ByteLRU[Master] = ByteLRU(settings.master_cache_bytes, lambda m: len(m.data), settings.cache_ttl)
        """Recently transformed masters: the variants of one master (widths, formats) tend to be asked for together."""
        self.edge: EdgePurger | None = None
        """Set by the app's lifespan (not by CLI commands, which serve no images)."""
        self.served_urls = ServedUrls()
        """Image URLs this process served per asset, purged at nginx when the asset changes (delivery.assets.edge)."""
        self.forgotten: LRUCache[str, int] = LRUCache(maxsize=10_000)
        """Asset id -> how many times its cached entries were dropped: a render that started before a drop does not cache its result."""
        self.refusals: TTLCache[str, ServiceError] | None = TTLCache(maxsize=10_000, ttl=settings.refusal_ttl) if settings.refusal_ttl > 0 else None
        """Variant key -> why it was refused (a master that cannot be served so, a deadline passed): answered again
        without the work for `PROMPTPIX_REFUSAL_TTL` seconds (delivery.images.variants)."""
        self.parsed_queries: LRUCache[bytes, tuple[TransformParams, str]] = LRUCache(maxsize=10_000)
        """Raw query string -> (TransformParams, canonical query): a cache hit parses nothing."""
        self.lookups = Lookups(entries=settings.lookup_cache_entries, ttl=settings.lookup_cache_ttl)
        """Projects, keys, styles, presets, models, `@names`, generation keys: what a `/g/` hit reads, without a query."""
        self.key_use = KeyUse()
        """Keys used since the last flush: `last_used_at` is written in batches, not on the hit path."""
        self.link_pairs: Bounded[bytes, list[tuple[str, str]]] = Bounded(settings.lookup_cache_entries)
        """Raw `/g/` query string -> its pairs, for queries already in their one spelling (or signed)."""
        self.parsed_links: Bounded[Any, Any] = Bounded(settings.lookup_cache_entries)
        """A `/g/` link's pairs -> its parsed params (delivery.http.serving): a hit parses nothing."""
        self.variant_flights: SingleFlight[Any] = SingleFlight()
        self.generation_flights: SingleFlight[Any] = SingleFlight()
        self.request_flights: SingleFlight[Any] = SingleFlight()
        """Concurrent retries of one idempotent API request (delivery.access.idempotency)."""
        self.metrics = Metrics()
        self.circuits = Circuits(threshold=settings.breaker_threshold, cooldown=settings.breaker_cooldown, metrics=self.metrics)
        self.error_images: dict[int, bytes] = {}
        self.embeddings = EmbeddingQueue(settings, pool, embedder)
        """Semantic search's embedder and the background queue of assets to embed (None embedder: search is full-text only)."""

    async def run_in_thread(self, fn: Callable[..., T], *args: Any, fetch: Callable[[], Awaitable[Any]] | None = None) -> T:
        """Run `fn(*args)` on the transform pool, or raise `Busy` when running + queued work is at capacity.

        The slot is taken before `fetch` (whose result is appended to `args`),
        so masters are only held in memory for work that has a slot: memory is
        bounded by capacity x master size, plus the master cache's own bound.
        The slot frees when the thread finishes, not when the caller stops
        waiting, so clients that hang up cannot push more work than capacity.
        """
        if self.transforms_in_flight >= self.transform_capacity:
            raise Busy(retry_after=1)
        loop = asyncio.get_running_loop()
        self.transforms_in_flight += 1
        self.metrics.thread_queue.inc()
        try:
            if fetch is not None:
                args = (*args, await fetch())
            future = self.executor.submit(fn, *args)
        except BaseException:
            self._finished()
            raise
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._finished))
        return await asyncio.wrap_future(future)

    def _finished(self) -> None:
        self.transforms_in_flight -= 1
        self.metrics.thread_queue.dec()
