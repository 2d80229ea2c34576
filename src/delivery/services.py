"""What the app's lifespan owns: pools, clients, caches, the thread pool.

One instance per process, created in `app.lifespan` and closed there; routes
reach it through `request.app.state.services`.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg

from delivery.cache import SingleFlight, VariantCache
from delivery.metrics import Metrics
from delivery.settings import Settings
from delivery.storage import Storage
from delivery.transform import Limits
from generation.pipeline import PipelineSettings
from generation.providers.base import Provider

__all__ = ["Counters", "Services"]


class Counters:
    """Plain counters the app reads back in tests and exposes in metrics."""

    def __init__(self) -> None:
        self.generations = 0
        self.transforms = 0


class Services:
    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        storage: Storage,
        provider: Provider,
        executor: ThreadPoolExecutor,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.storage = storage
        self.provider = provider
        self.executor = executor
        self.limits = Limits(
            max_output_pixels=settings.max_output_pixels,
            max_source_pixels=settings.max_source_pixels,
            max_source_bytes=settings.max_source_bytes,
        )
        self.pipeline: PipelineSettings = settings.pipeline
        self.variants = VariantCache(settings.variant_cache_bytes)
        self.variant_flights: SingleFlight[Any] = SingleFlight()
        self.generation_flights: SingleFlight[Any] = SingleFlight()
        self.request_flights: SingleFlight[Any] = SingleFlight()
        """Concurrent retries of one idempotent API request (delivery.idempotency)."""
        self.counters = Counters()
        self.metrics = Metrics()
        self.error_images: dict[int, bytes] = {}

    async def run_in_thread(self, fn: Any, *args: Any) -> Any:
        with self.metrics.thread_queue.track_inprogress():
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
