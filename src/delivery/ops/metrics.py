"""Prometheus metrics that stay correct when several worker processes share one port.

prometheus-client's multiprocess mode does the cross-process part: when
`PROMETHEUS_MULTIPROC_DIR` is set before the library is imported (`serve
--workers N` sets it to a fresh directory before spawning workers), every
process writes its samples to memory-mapped files there and `/metrics` merges
them, so whichever worker answers reports the totals of all. Without it (one
process, the in-process test client) samples live in a registry owned by this
`Metrics` instance, so two apps in one process never share counters.
"""

from __future__ import annotations

import glob
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

__all__ = ["CONTENT_TYPE", "MULTIPROCESS_ENV", "Metrics", "MetricsMiddleware"]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
_TRANSFORM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_GENERATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
_LIVE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Metrics:
    """Every metric the service exports; one instance per app, owned by `Services`."""

    def __init__(self) -> None:
        self.directory = os.environ.get(MULTIPROCESS_ENV) or None
        own = None if self.directory else CollectorRegistry()
        self.requests = Counter(
            "promptpix_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=own,
        )
        self.cache = Counter(
            "promptpix_image_responses", "Image responses by the app layer that answered (X-Cache-Status).",
            ["route", "cache"], registry=own,
        )
        self.transform_seconds = Histogram(
            "promptpix_transform_seconds", "Decode + transform + encode time of one variant.",
            buckets=_TRANSFORM_BUCKETS, registry=own,
        )
        self.generation_seconds = Histogram(
            "promptpix_generation_seconds", "Provider pipeline time of one generation, by outcome.",
            ["outcome"], buckets=_GENERATION_BUCKETS, registry=own,
        )
        self.provider_errors = Counter(
            "promptpix_provider_errors", "Generations that failed, by provider and error type.",
            ["provider", "error"], registry=own,
        )
        self.prompts_blocked = Counter(
            "promptpix_prompts_blocked",
            "New prompts the safety gate refused before any spend, by check (safety, moderation).",
            ["check"],
            registry=own,
        )
        self.credits_spent = Counter(
            "promptpix_credits_spent", "Credits debited for generations (incremented where billing debits).",
            registry=own,
        )
        self.thread_queue = Gauge(
            "promptpix_transform_queue_depth", "Jobs submitted to the transform thread pool, running or waiting.",
            multiprocess_mode="livesum", registry=own,
        )
        self.generations_running = Gauge(
            "promptpix_generations_in_flight", "Provider calls running now.",
            multiprocess_mode="livesum", registry=own,
        )
        self.provider_circuit = Gauge(
            "promptpix_provider_circuit_state", "Circuit breaker per provider: 0 closed, 1 half-open, 2 open (the worst of the live processes).",
            ["provider"], multiprocess_mode="livemax", registry=own,
        )
        self.generation_waiters = Gauge(
            "promptpix_generation_waiters", "Requests waiting for another process's generation of the same key.",
            multiprocess_mode="livesum", registry=own,
        )
        self.registry: CollectorRegistry = own or CollectorRegistry()
        if own is None:
            multiprocess.MultiProcessCollector(self.registry, path=self.directory)
            self._forget_dead_processes()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, sample: str, **labels: str) -> float:
        """A sample's current value in this process's own registry (single-process mode only)."""
        if self.directory:
            raise RuntimeError("per-app samples are not kept in multiprocess mode; read /metrics")
        return self.registry.get_sample_value(sample, labels) or 0.0

    def transformed(self, timings: dict[str, float]) -> None:
        self.transform_seconds.observe(sum(timings.values()))

    @contextmanager
    def generating(self) -> Iterator[None]:
        """Times one provider pipeline run and counts it as in flight meanwhile."""
        started = time.perf_counter()
        outcome = "failed"
        with self.generations_running.track_inprogress():
            try:
                yield
                outcome = "succeeded"
            finally:
                self.generation_seconds.labels(outcome).observe(time.perf_counter() - started)

    def close(self) -> None:
        """A stopping worker's live gauges leave the totals with it."""
        if self.directory:
            multiprocess.mark_process_dead(os.getpid(), self.directory)

    def _forget_dead_processes(self) -> None:
        """A worker that crashed could not remove its live gauges; whoever starts next does."""
        assert self.directory is not None
        for path in glob.glob(os.path.join(self.directory, "gauge_live*_*.db")):
            match = _LIVE_FILE.search(path)
            if match and not _alive(int(match[1])):
                multiprocess.mark_process_dead(int(match[1]), self.directory)


class MetricsMiddleware:
    """Raw ASGI: counts every response by route template (never the raw path: bounded labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        seen: dict[str, str] = {"status": "500"}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = str(message["status"])
                for name, value in message.get("headers", ()):
                    if name == b"x-cache-status":
                        seen["cache"] = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            services = getattr(scope["app"].state, "services", None)
            if services is not None:
                route = scope.get("path_template") or "unmatched"
                services.metrics.requests.labels(route, scope.get("method", ""), seen["status"]).inc()
                if "cache" in seen:
                    services.metrics.cache.labels(route, seen["cache"]).inc()
