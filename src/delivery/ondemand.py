"""Find the master for a prompt, generating it once on a miss.

Billing (docs/security.md): the price is reserved under the lock, in the
transaction that records the attempt, before the provider is called; a failed
attempt is refunded exactly once.

Write order (DESIGN.md §4): the object is stored first, then the row, so a row
never points at a missing object. Concurrent identical misses share one
provider call: a single-flight within the process, and a PostgreSQL advisory
lock on the generation key across processes (released by the server if the
holder's connection dies, so a crashed holder never blocks the key).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Awaitable, Callable

import asyncpg

from delivery import billing
from delivery.claims import claim_generation, release_generation
from delivery.db.assets import Asset, NewAsset, find_generated_asset, insert_asset
from delivery.db.billing import Attribution
from delivery.db.generations import finish_generation, start_generation
from delivery.db.projects import Project
from delivery.errors import BadRequest, ServiceUnavailable, TooManyRequests, Unprocessable
from delivery.ids import asset_id_for_generation, generation_key, master_key
from delivery.params import GenerateParams
from delivery.services import Services
from generation.errors import GenerationError, PromptRejected, ProviderRateLimited
from generation.models import GeneratedImage, GenerationRequest
from generation.pipeline import generate

__all__ = ["Admission", "GenerationTarget", "master_for_prompt"]

Admission = Callable[[asyncpg.Connection], Awaitable[None]]

log = logging.getLogger("promptpix.ondemand")


class GenerationTarget:
    """A resolved generation: what to ask the provider, and the key it is stored under."""

    def __init__(self, services: Services, project: Project, params: GenerateParams, aspect_class: str) -> None:
        try:
            self.model = services.provider.resolve_model(params.model)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        self.project = project
        self.key_id = params.key
        """The key that asked, named in the ledger for usage by key."""
        self.request = GenerationRequest(
            prompt=params.prompt,
            aspect_class=aspect_class,
            seed=params.seed,
            model=self.model,
            style=params.style,
        )
        self.key = generation_key(
            project_id=project.id,
            prompt=params.prompt,
            style=params.style,
            seed=params.seed,
            model=self.model,
            aspect_class=aspect_class,
        )


def _public_error(exc: GenerationError) -> Exception:
    if isinstance(exc, PromptRejected):
        return Unprocessable(f"the provider refused this prompt: {exc.message}")
    if isinstance(exc, ProviderRateLimited):
        return TooManyRequests("the image provider is over its rate limit", retry_after=math.ceil(exc.retry_after or 30))
    return ServiceUnavailable("image generation is unavailable right now", detail=exc.message, retry_after=10)


async def _reserve(services: Services, conn: asyncpg.Connection, target: GenerationTarget) -> int:
    """Record the attempt and debit its price together: refused payment leaves no row behind."""
    now = dt.datetime.now(dt.UTC)
    async with conn.transaction():
        generation_id = await start_generation(
            conn, project_id=target.project.id, generation_key=target.key, provider=services.provider.name, model=target.model
        )
        payer = Attribution(generation_id=generation_id, project_id=target.project.id, key_id=target.key_id, model=target.model)
        cost = billing.price(services.settings, target.model)
        await billing.reserve(conn, organization_id=target.project.organization_id, cost=cost, payer=payer, now=now)
    return generation_id


async def _fail(conn: asyncpg.Connection, generation_id: int, started: float, error: str) -> None:
    async with conn.transaction():
        await finish_generation(
            conn, id=generation_id, status="failed", latency_ms=int((time.perf_counter() - started) * 1000), error=error
        )
        await billing.refund(conn, generation_id=generation_id, now=dt.datetime.now(dt.UTC))


async def _store(
    services: Services, conn: asyncpg.Connection, target: GenerationTarget, generation_id: int, image: GeneratedImage, started: float
) -> Asset:
    """Object first, then the row that points at it (DESIGN.md §4)."""
    project_id = target.project.id
    asset_id = asset_id_for_generation(target.key)
    storage_key = master_key(project_id=project_id, asset_id=asset_id, mime=image.mime)
    await services.storage.put(storage_key, image.data, content_type=image.mime)
    async with conn.transaction():
        asset = await insert_asset(
            conn,
            asset=NewAsset(
                id=asset_id,
                project_id=project_id,
                source="generated",
                storage_key=storage_key,
                mime=image.mime,
                width=image.width,
                height=image.height,
                bytes=len(image.data),
                focal_x=image.analysis.focal_point.x,
                focal_y=image.analysis.focal_point.y,
                alt_text=image.analysis.alt_text,
                tags=list(image.analysis.tags),
                colors=list(image.analysis.colors),
                prompt=image.prompt,
                enhanced_prompt=image.enhanced_prompt,
                style=target.request.style,
                provider=image.provider,
                model=image.model,
                offline=image.offline,
                generation_key=target.key,
            ),
        )
        await finish_generation(
            conn,
            id=generation_id,
            status="succeeded",
            latency_ms=int((time.perf_counter() - started) * 1000),
            cost=image.usage.cost,
            asset_id=asset.id,
        )
    log.info("generated", extra={"asset": asset.id, "provider": image.provider, "model": image.model, "timings": image.timings})
    return asset


async def _generate(services: Services, target: GenerationTarget, admit: Admission | None) -> tuple[Asset, bool]:
    # One connection holds the lock and does every query: a second acquire while
    # holding the first could deadlock a busy pool.
    async with services.pool.acquire() as conn:
        if admit is not None:
            await admit(conn)
        await claim_generation(conn, target.key, timeout=services.settings.claim_timeout, metrics=services.metrics)
        try:
            existing = await find_generated_asset(conn, project_id=target.project.id, generation_key=target.key)
            if existing is not None:  # another process finished it while we waited
                return existing, False
            generation_id = await _reserve(services, conn, target)
            started = time.perf_counter()
            services.counters.generations += 1
            try:
                with services.metrics.generating():
                    image = await generate(services.provider, target.request, services.pipeline)
                asset = await _store(services, conn, target, generation_id, image, started)
                services.metrics.credits_spent.inc(billing.price(services.settings, target.model))
                return asset, True
            except GenerationError as exc:
                services.metrics.provider_errors.labels(services.provider.name, type(exc).__name__).inc()
                await _fail(conn, generation_id, started, exc.message)
                raise _public_error(exc) from exc
            except Exception as exc:
                await _fail(conn, generation_id, started, f"{type(exc).__name__}: {exc}")
                raise
        finally:
            await release_generation(conn, target.key)


async def master_for_prompt(
    services: Services, target: GenerationTarget, *, admit: Admission | None = None
) -> tuple[Asset, bool]:
    """(asset, True when it was generated for this request or one it waited on).

    `admit` runs only for the request that leads a generation in this process,
    before any generation work: rate limits belong there, since neither a cache
    hit nor a request that joins a generation already under way costs anything.
    Joiners share the leader's outcome, refusal included.
    """
    async with services.pool.acquire() as conn:
        asset = await find_generated_asset(conn, project_id=target.project.id, generation_key=target.key)
    if asset is not None:
        return asset, False
    return await services.generation_flights.run(target.key, lambda: _generate(services, target, admit))
