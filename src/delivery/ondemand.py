"""Find the master for a prompt, generating it once on a miss.

Write order (DESIGN.md §4): the object is stored first, then the row, so a row
never points at a missing object. Concurrent identical misses share one
provider call: a single-flight within the process, and a PostgreSQL advisory
lock on the generation key across processes (released by the server if the
holder's connection dies, so a crashed holder never blocks the key).
"""

from __future__ import annotations

import logging
import time

import msgspec

from delivery.db.assets import Asset, NewAsset, find_generated_asset
from delivery.db.generations import finish_generation, start_generation
from delivery.errors import ServiceUnavailable, TooManyRequests, Unprocessable
from delivery.ids import asset_id_for_generation, master_key
from delivery.masters import store_master
from delivery.services import Services
from delivery.storage import ObjectNotFound, StorageUnavailable
from delivery.targets import GenerationTarget
from generation.errors import GenerationError, PromptRejected, ProviderRateLimited
from generation.models import GeneratedImage, GenerationRequest, ReferenceImage
from generation.pipeline import generate

__all__ = ["GenerationTarget", "master_for_prompt"]

log = logging.getLogger("promptpix.ondemand")


def _public_error(exc: GenerationError) -> Exception:
    if isinstance(exc, PromptRejected):
        return Unprocessable(f"the provider refused this prompt: {exc.message}")
    if isinstance(exc, ProviderRateLimited):
        return TooManyRequests("the image provider is over its rate limit", retry_after=30)
    return ServiceUnavailable("image generation is unavailable right now", detail=exc.message, retry_after=10)


async def _with_references(services: Services, target: GenerationTarget) -> GenerationRequest:
    """The provider request with the `@name` images loaded: only a miss pays for the reads."""
    images = []
    for reference in target.references:
        try:
            data = await services.storage.get(reference.asset.storage_key)
        except ObjectNotFound:
            raise ServiceUnavailable(f"the master of @{reference.name} is missing", detail=reference.asset.storage_key) from None
        images.append(ReferenceImage(name=reference.name, data=data, mime=reference.asset.mime))
    return msgspec.structs.replace(target.request, references=tuple(images))


def _new_asset(target: GenerationTarget, image: GeneratedImage) -> NewAsset:
    asset_id = asset_id_for_generation(target.key)
    return NewAsset(
        id=asset_id,
        project_id=target.project.id,
        source="generated",
        storage_key=master_key(project_id=target.project.id, asset_id=asset_id, mime=image.mime),
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
    )


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def _store(services: Services, target: GenerationTarget, image: GeneratedImage, generation_id: int, started: float) -> Asset:
    """Object, then row and the generation's success, in one fenced transaction (delivery.masters)."""
    async with services.pool.acquire() as conn, conn.transaction():
        asset = await store_master(conn, services.storage, _new_asset(target, image), image.data)
        await finish_generation(
            conn, id=generation_id, status="succeeded", latency_ms=_ms_since(started), cost=image.usage.cost, asset_id=asset.id
        )
    return asset


async def _failed(services: Services, generation_id: int, started: float, error: str) -> None:
    """Nothing was stored and nothing is charged (cost 0); a later request draws it again."""
    async with services.pool.acquire() as conn:
        await finish_generation(conn, id=generation_id, status="failed", latency_ms=_ms_since(started), error=error)


async def _generate_locked(services: Services, target: GenerationTarget) -> tuple[Asset, bool]:
    project_id = target.project.id
    async with services.pool.acquire() as conn:
        existing = await find_generated_asset(conn, project_id=project_id, generation_key=target.key)
    if existing is not None:  # another process finished it while we waited
        return existing, False
    request = await _with_references(services, target)
    async with services.pool.acquire() as conn:
        generation_id = await start_generation(
            conn, project_id=project_id, generation_key=target.key, provider=services.provider.name, model=target.model
        )
    started = time.perf_counter()
    services.counters.generations += 1
    try:
        image = await generate(services.provider, request, services.pipeline)
        asset = await _store(services, target, image, generation_id, started)
    except GenerationError as exc:
        await _failed(services, generation_id, started, exc.message)
        raise _public_error(exc) from exc
    except StorageUnavailable as exc:
        await _failed(services, generation_id, started, f"storage: {exc.detail}")
        raise
    log.info("generated", extra={"asset": asset.id, "provider": image.provider, "model": image.model, "timings": image.timings})
    return asset, True


async def _generate(services: Services, target: GenerationTarget) -> tuple[Asset, bool]:
    async with services.pool.acquire() as lock_conn:
        await lock_conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", target.key)
        try:
            return await _generate_locked(services, target)
        finally:
            try:
                await lock_conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", target.key)
            except Exception:  # noqa: BLE001 - whatever broke, the lock must not outlive this call
                # A connection we cannot unlock on must not go back to the pool holding the
                # lock; closing it releases the lock (it is already gone if the database went away).
                lock_conn.terminate()
                log.warning("generation lock released by closing its connection", extra={"key": target.key})


async def master_for_prompt(services: Services, target: GenerationTarget) -> tuple[Asset, bool]:
    """(asset, True when it was generated for this request or one it waited on)."""
    async with services.pool.acquire() as conn:
        asset = await find_generated_asset(conn, project_id=target.project.id, generation_key=target.key)
    if asset is not None:
        return asset, False
    return await services.generation_flights.run(target.key, lambda: _generate(services, target))
