"""Find the master for a prompt, generating it once on a miss.

Concurrent identical misses share one provider call: a single-flight within
the process, and a PostgreSQL claim on the generation key across processes
(delivery.prompts.claims; released by the server if the holder's connection dies, so a
crashed holder never blocks the key). One pooled connection holds the claim
and runs every query of the generation: a second acquire while holding the
first could deadlock a busy pool.

Safety (docs/generation.md): a miss passes the prompt policy and, when
configured, the moderator before anything is claimed, recorded or reserved,
so a refused prompt leaves no row, no debit and no provider call.

Billing (docs/security.md): the price is reserved in the transaction that
records the attempt, before the provider is called; a failed attempt is
refunded exactly once. Offline images are never charged: with the offline
generator the attempt is recorded and nothing is reserved. Write order (docs/design.md §7, delivery.assets.masters): the
object is stored first, then the row, so a row never points at a missing object.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec

from delivery.assets.ids import asset_id_for_generation, master_key
from delivery.assets.masters import store_master
from delivery.assets.sweep import settle_abandoned_at_key
from delivery.db.assets import Asset, NewAsset, find_generated_assets, restore_asset
from delivery.db.billing import Attribution
from delivery.db.connection import Conn
from delivery.db.generations import finish_generation, start_generation
from delivery.db.webhooks import emit_organization
from delivery.errors import InsufficientCredits, ReferenceMissing
from delivery.images.references import reference_for_model
from delivery.prompts import billing
from delivery.prompts.claims import claim_generation, release_generation
from delivery.prompts.models import ModelChoice, fallbacks
from delivery.prompts.targets import GenerationTarget
from delivery.services import Services
from delivery.storage import ObjectNotFound
from generation import (
    GeneratedImage,
    GenerationError,
    GenerationRequest,
    PromptBlocked,
    ProviderUnavailable,
    ReferenceImage,
    generate,
    screen_prompt,
)

__all__ = ["Admission", "GenerationTarget", "master_for_prompt", "release_reservation", "reserve_ahead", "screen_target"]

Admission = Callable[[Conn], Awaitable[None]]

log = logging.getLogger("promptpix.ondemand")


async def _with_references(services: Services, target: GenerationTarget) -> GenerationRequest:
    """The provider request with the `@name` images loaded, at the model's size: only a miss pays for the reads."""
    images = []
    for reference in target.references:
        try:
            data = await services.storage.get(reference.asset.storage_key)
        except ObjectNotFound:
            raise ReferenceMissing(f"the master of @{reference.name} is missing", detail=reference.asset.storage_key) from None
        # Downscaled to what the model looks at (`PROMPTPIX_REFERENCE_MAX_SIDE`): a master can be tens of MB.
        data, mime = await services.run_in_thread(reference_for_model, data, reference.asset.mime, services.settings.reference_max_side)
        images.append(ReferenceImage(name=reference.name, data=data, mime=mime))
    return msgspec.structs.replace(target.request, references=tuple(images))


def generated_asset_row(project_id: int, key: str, image: GeneratedImage, style: str | None) -> NewAsset:
    """The row of a master drawn under generation `key`: its id follows from the key, its description from the image."""
    asset_id = asset_id_for_generation(key)
    return NewAsset(
        id=asset_id,
        project_id=project_id,
        source="generated",
        storage_key=master_key(project_id=project_id, asset_id=asset_id, mime=image.mime),
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
        style=style,
        provider=image.provider,
        model=image.model,
        offline=image.offline,
        generation_key=key,
    )


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def screen_target(services: Services, target: GenerationTarget) -> None:
    """The safety gate, before any spend: the deployment's and the project's terms, then the moderator."""
    project = target.project
    policy = services.prompt_policy.merged(blocklist=project.prompt_blocklist, allowlist=project.prompt_allowlist)
    try:
        await screen_prompt(target.request.prompt, policy, services.moderator)
    except PromptBlocked as exc:
        services.metrics.prompts_blocked.labels(exc.stage).inc()
        log.info("prompt blocked", extra={"project": project.slug, "stage": exc.stage, "reason": exc.message})
        raise


def _charged(services: Services, target: GenerationTarget) -> bool:
    """Offline placeholders are never paid for, whatever the plan."""
    return not services.providers[target.choice.provider].offline


async def reserve_ahead(services: Services, conn: Conn, target: GenerationTarget) -> int:
    """Record the attempt and debit its price now, to be drawn later (a queued job's candidate); in the caller's transaction."""
    generation_id = await start_generation(
        conn, project_id=target.project.id, generation_key=target.key, provider=target.choice.provider, model=target.model
    )
    if _charged(services, target):
        payer = Attribution(generation_id=generation_id, project_id=target.project.id, key_id=target.key_id, model=target.model)
        await billing.reserve(conn, organization_id=target.project.organization_id, cost=target.choice.price, payer=payer, now=dt.datetime.now(dt.UTC))
    return generation_id


async def release_reservation(conn: Conn, generation_id: int, reason: str) -> bool:
    """Give back a reservation that was not drawn on (cancelled job, asset found); False when it was used or settled already."""
    async with conn.transaction():
        updated = await conn.fetchval(
            "UPDATE generations SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1 AND status = 'pending' RETURNING id",
            generation_id,
            reason,
        )
        if updated is None:
            return False
        await billing.refund(conn, generation_id=generation_id, now=dt.datetime.now(dt.UTC))
    return True


async def _take_reservation(conn: Conn, generation_id: int, target: GenerationTarget) -> bool:
    """Draw under a reservation made ahead (or by a run of the same job that died); False if it is no longer pending."""
    taken = await conn.fetchval(
        "UPDATE generations SET provider = $2, model = $3 WHERE id = $1 AND status = 'pending' RETURNING id",
        generation_id,
        target.choice.provider,
        target.model,
    )
    return taken is not None


async def _reserve(services: Services, conn: Conn, target: GenerationTarget, reserved: int | None = None) -> int:
    """Record the attempt and debit its price together: refused payment leaves no row behind."""
    if reserved is not None and await _take_reservation(conn, reserved, target):
        return reserved
    async with conn.transaction():
        generation_id = await start_generation(
            conn, project_id=target.project.id, generation_key=target.key, provider=target.choice.provider, model=target.model
        )
        if not _charged(services, target):
            return generation_id
        payer = Attribution(generation_id=generation_id, project_id=target.project.id, key_id=target.key_id, model=target.model)
        cost = target.choice.price
        await billing.reserve(
            conn, organization_id=target.project.organization_id, cost=cost, payer=payer, now=dt.datetime.now(dt.UTC)
        )
    return generation_id


async def _fail(conn: Conn, generation_id: int, started: float, error: str) -> None:
    """Nothing was stored: mark the attempt failed and refund it (once, whoever else tries)."""
    async with conn.transaction():
        await finish_generation(conn, id=generation_id, status="failed", latency_ms=_ms_since(started), error=error)
        await billing.refund(conn, generation_id=generation_id, now=dt.datetime.now(dt.UTC))


async def _store(
    services: Services, conn: Conn, target: GenerationTarget, generation_id: int, image: GeneratedImage, started: float
) -> Asset:
    """Object, then row and the generation's success, in one fenced transaction (delivery.assets.masters)."""
    async with conn.transaction():
        asset = await store_master(conn, services.storage, generated_asset_row(target.project.id, target.key, image, target.request.style), image.data)
        await finish_generation(
            conn,
            id=generation_id,
            status="succeeded",
            latency_ms=_ms_since(started),
            cost=image.usage.cost,
            asset_id=asset.id,
            provider=image.provider,
            model=image.model,
        )
        if image.offline:  # a family's offline stand-in drew it: placeholders are never paid for
            await billing.refund(conn, generation_id=generation_id, now=dt.datetime.now(dt.UTC))
        elif services.settings.billing_mode == "cost":
            await billing.settle(
                conn,
                generation_id=generation_id,
                cost=image.usage.cost,
                credits_per_cost_unit=services.settings.credits_per_cost_unit,
                now=dt.datetime.now(dt.UTC),
            )
    log.info("generated", extra={"asset": asset.id, "provider": image.provider, "model": image.model, "timings": image.timings})
    services.embeddings.submit(asset.id, asset.project_id)  # in the background: the image is answered without waiting
    return asset


async def _draw(services: Services, request: GenerationRequest, candidates: list[ModelChoice]) -> GeneratedImage:
    """The chosen model through its provider's breaker; while a provider is down, the family's next model.

    Only an outage (`ProviderUnavailable`, an open circuit included) moves on: a
    refused prompt or a rate limit is the answer, not a reason to ask elsewhere.
    """
    for position, choice in enumerate(candidates):
        provider = services.providers[choice.provider]
        attempt = msgspec.structs.replace(request, model=choice.version)
        try:
            return await services.circuits.call(choice.provider, functools.partial(generate, provider, attempt, services.pipeline))
        except GenerationError as exc:
            services.metrics.provider_errors.labels(choice.provider, type(exc).__name__).inc()
            if not isinstance(exc, ProviderUnavailable) or position == len(candidates) - 1:
                raise
            log.warning(
                "falling back to the next model of the family",
                extra={"failed": choice.version, "next": candidates[position + 1].version, "error": exc.message},
            )
    raise AssertionError("there is always a chosen model")


async def _generate_claimed(
    services: Services, conn: Conn, target: GenerationTarget, *, waited: bool, reserved: int | None = None
) -> tuple[Asset, bool]:
    existing = await find_generated_assets(conn, project_id=target.project.id, generation_keys=target.lookup_keys)
    if existing is not None:  # another process finished it: generated for a request this one waited on
        return existing, waited
    restored = await restore_asset(conn, id=asset_id_for_generation(target.key))
    if restored is not None:  # deleted through the API: its id can only ever show its own pixels
        return restored, False
    request = await _with_references(services, target)
    candidates = [target.choice, *await fallbacks(services, conn, target.project, target.choice, references=len(request.references))]
    # Holding the claim, any attempt at this key still pending (other than a queued job's
    # reservation) was left by a process that died: refund it before charging this one,
    # so a client's retry is not charged twice.
    await settle_abandoned_at_key(conn, project_id=target.project.id, generation_key=target.key, keep=reserved)
    try:
        generation_id = await _reserve(services, conn, target, reserved)
    except InsufficientCredits:  # the reservation's transaction rolled back; the event is its own
        organization = target.project.organization_id
        await emit_organization(conn, organization_id=organization, event="balance.exhausted", data={"organization_id": organization})
        raise
    started = time.perf_counter()
    try:
        with services.metrics.generating():
            image = await _draw(services, request, candidates)
        asset = await _store(services, conn, target, generation_id, image, started)
    except GenerationError as exc:
        await _fail(conn, generation_id, started, exc.message)
        raise  # its status is decided with every other error's (delivery.errors.public_error)
    except Exception as exc:
        # Storage or anything else: refund if the database still answers; if it does not,
        # the sweep settles the pending attempt (delivery.assets.sweep.settle_abandoned).
        await _fail(conn, generation_id, started, f"{type(exc).__name__}: {getattr(exc, 'detail', '') or exc}")
        raise
    if _charged(services, target) and not image.offline:
        services.metrics.credits_spent.inc(target.choice.price)
    return asset, True


async def _generate(services: Services, target: GenerationTarget, admit: Admission | None, reserved: int | None = None) -> tuple[Asset, bool]:
    async with services.pool.acquire() as conn:
        if admit is not None:
            await admit(conn)
        await screen_target(services, target)
        waited = await claim_generation(conn, target.key, timeout=services.settings.claim_timeout, metrics=services.metrics)
        try:
            return await _generate_claimed(services, conn, target, waited=waited, reserved=reserved)
        finally:
            try:
                await release_generation(conn, target.key)
            except Exception:
                # A connection we cannot unlock on must not go back to the pool holding the
                # claim; closing it releases it (it is already gone if the database went away).
                conn.terminate()
                log.warning("generation claim released by closing its connection", extra={"key": target.key})


async def master_for_prompt(
    services: Services, target: GenerationTarget, *, admit: Admission | None = None, reserved: int | None = None
) -> tuple[Asset, bool]:
    """(asset, True when it was generated for this request or one it waited on).

    `admit` runs only for the request that leads a generation in this process,
    before any generation work: rate limits belong there, since neither a cache
    hit nor a request that joins a generation already under way costs anything.
    Joiners share the leader's outcome, refusal included.

    `reserved` is a generation row reserved ahead (`reserve_ahead`, a queued
    job's candidate): a draw uses it instead of reserving again. The caller
    releases it (`release_reservation`) if nothing drew on it.
    """
    async with services.lookups.reader(services.pool) as reads:
        asset = await reads.generated_asset(target.project.id, tuple(target.lookup_keys))
    if asset is not None:
        return asset, False
    return await services.generation_flights.run(target.key, lambda: _generate(services, target, admit, reserved))
