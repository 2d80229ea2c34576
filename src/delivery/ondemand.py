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

from delivery.claims import claim_generation, release_generation
from delivery.db.assets import Asset, NewAsset, find_generated_asset, insert_asset
from delivery.db.generations import finish_generation, start_generation
from delivery.db.projects import Project
from delivery.errors import BadRequest, ServiceUnavailable, TooManyRequests, Unprocessable
from delivery.ids import asset_id_for_generation, generation_key, master_key
from delivery.params import GenerateParams
from delivery.services import Services
from generation.errors import GenerationError, PromptRejected, ProviderRateLimited
from generation.models import GenerationRequest
from generation.pipeline import generate

__all__ = ["GenerationTarget", "master_for_prompt"]

log = logging.getLogger("promptpix.ondemand")


class GenerationTarget:
    """A resolved generation: what to ask the provider, and the key it is stored under."""

    def __init__(self, services: Services, project: Project, params: GenerateParams, aspect_class: str) -> None:
        try:
            self.model = services.provider.resolve_model(params.model)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        self.project = project
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
        return TooManyRequests("the image provider is over its rate limit", retry_after=30)
    return ServiceUnavailable("image generation is unavailable right now", detail=exc.message, retry_after=10)


async def _generate(services: Services, target: GenerationTarget) -> tuple[Asset, bool]:
    project_id = target.project.id
    async with services.pool.acquire() as lock_conn:
        await claim_generation(lock_conn, target.key, timeout=services.settings.claim_timeout, metrics=services.metrics)
        try:
            async with services.pool.acquire() as conn:
                existing = await find_generated_asset(conn, project_id=project_id, generation_key=target.key)
                if existing is not None:  # another process finished it while we waited
                    return existing, False
                generation_id = await start_generation(
                    conn, project_id=project_id, generation_key=target.key, provider=services.provider.name, model=target.model
                )
            started = time.perf_counter()
            services.counters.generations += 1
            try:
                with services.metrics.generating():
                    image = await generate(services.provider, target.request, services.pipeline)
            except GenerationError as exc:
                services.metrics.provider_errors.labels(services.provider.name, type(exc).__name__).inc()
                async with services.pool.acquire() as conn:
                    await finish_generation(
                        conn, id=generation_id, status="failed", latency_ms=int((time.perf_counter() - started) * 1000), error=exc.message
                    )
                raise _public_error(exc) from exc
            asset_id = asset_id_for_generation(target.key)
            storage_key = master_key(project_id=project_id, asset_id=asset_id, mime=image.mime)
            await services.storage.put(storage_key, image.data, content_type=image.mime)
            async with services.pool.acquire() as conn, conn.transaction():
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
            return asset, True
        finally:
            await release_generation(lock_conn, target.key)


async def master_for_prompt(services: Services, target: GenerationTarget) -> tuple[Asset, bool]:
    """(asset, True when it was generated for this request or one it waited on)."""
    async with services.pool.acquire() as conn:
        asset = await find_generated_asset(conn, project_id=target.project.id, generation_key=target.key)
    if asset is not None:
        return asset, False
    return await services.generation_flights.run(target.key, lambda: _generate(services, target))
