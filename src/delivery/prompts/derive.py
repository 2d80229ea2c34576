"""Other aspects of one artwork: crop the master, or extend it once per aspect class and keep that.

A box whose aspect a focal-point crop of the master can cover while keeping at
least PROMPTPIX_MIN_CROP_KEEP of its area (70 % by default) is a crop, made by
the transform. A box further off is served from a derived master: the master
(a prompt's root, or an upload with `fill=gen`) extended, outpainted, to the
aspect class nearest the box, by the provider given the master as its input
image. A derived master is stored once under a key of its parent and class
(`assets.ids.derived_key`), with `parent_id` and `derivation = 'extend'`,
billed PROMPTPIX_EXTENSION_PRICE (never for the offline provider, whose
extensions are labelled `OFFLINE EXTENSION`), and made exactly once across
processes like any generation: a single-flight per process, then the
PostgreSQL claim on its key, the reservation in the transaction that records
the attempt, a refund if the provider fails. A failed extension is an error,
never an unrelated picture.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import time
from typing import Literal

import msgspec

from delivery.assets.ids import asset_id_for_generation, derived_key
from delivery.assets.masters import store_master
from delivery.db.assets import Asset, NewAsset, find_generated_asset, restore_asset
from delivery.db.billing import Attribution
from delivery.db.connection import Conn
from delivery.db.generations import finish_generation, start_generation
from delivery.db.projects import Project
from delivery.errors import ExtensionUnsupported, MasterMissing
from delivery.images.params import TransformParams
from delivery.prompts import billing
from delivery.prompts.claims import claim_generation, release_generation
from delivery.prompts.models import ModelChoice
from delivery.prompts.ondemand import Admission, generated_asset_row
from delivery.services import Services
from delivery.storage import ObjectNotFound
from generation import (
    ASPECT_CLASSES,
    ExtensionRequest,
    FocalPoint,
    GeneratedImage,
    GenerationError,
    can_extend,
    extend,
    nearest_aspect_class,
)

__all__ = ["EXTEND", "box_aspect", "derived_master", "extension_class", "generative_fill"]

EXTEND: Literal["extend"] = "extend"
_SAME_ASPECT = 0.01
"""Log-ratio under which a box has its source's aspect: nothing to extend."""

log = logging.getLogger("promptpix.derive")


def generative_fill(params: TransformParams) -> bool:
    return params.fill == "gen" and params.resolved_fit in ("fill", "fillmax")


def box_aspect(params: TransformParams) -> float | None:
    """Width / height of what the output is cut to (a cutting fit) or filled to (`fill=gen`); None when
    the output keeps the source's aspect or the box is given in fractions of a source."""
    if not (params.cuts or generative_fill(params)):
        return None
    if isinstance(params.w, int) and isinstance(params.h, int):  # a whole box: `ar` only fills a missing side
        return params.w / params.h
    if params.ar:
        return params.ar[0] / params.ar[1]
    return None


def extension_class(width: int, height: int, params: TransformParams, *, min_keep: float) -> str | None:
    """The aspect class a width x height master must be extended to for these params, or None when a crop
    keeps enough of it (or the output keeps its aspect). `fill=gen` extends whenever the box's aspect differs."""
    aspect = box_aspect(params)
    if aspect is None or params.rect is not None:  # a `rect` cuts the source first: its own choice of pixels
        return None
    source = width / height
    if abs(math.log(aspect / source)) < _SAME_ASPECT:
        return None
    if not generative_fill(params) and min(aspect / source, source / aspect) >= min_keep:
        return None
    target = nearest_aspect_class(aspect, 1)
    cw, ch = ASPECT_CLASSES[target]
    if abs(math.log(cw / ch / source)) < _SAME_ASPECT:
        return None  # the master already is that class: the transform's crop is all there is to do
    return target


def _new_asset(parent: Asset, key: str, image: GeneratedImage) -> NewAsset:
    """A derived master shows its parent's scene: it keeps the parent's description, not the extension's."""
    return msgspec.structs.replace(
        generated_asset_row(parent.project_id, key, image, parent.style),
        alt_text=parent.alt_text,
        tags=list(parent.tags),
        colors=list(parent.colors),
        prompt=parent.prompt,
        enhanced_prompt=parent.enhanced_prompt,
        parent_id=parent.id,
        derivation=EXTEND,
    )


class _Job:
    """One extension: what to extend, to which class, by whom, for whom."""

    def __init__(
        self, services: Services, project: Project, parent: Asset, aspect_class: str, choice: ModelChoice, key_id: str | None
    ) -> None:
        self.services, self.project, self.parent, self.aspect_class, self.choice = services, project, parent, aspect_class, choice
        self.key_id = key_id
        self.key = derived_key(parent_id=parent.id, derivation=EXTEND, aspect_class=aspect_class)
        self.provider = services.providers[choice.provider]
        self.charged = not self.provider.offline
        self.price = services.settings.extension_price

    async def reserve(self, conn: Conn) -> int:
        """Record the attempt and debit the extension price together, as a generation's reservation."""
        async with conn.transaction():
            generation_id = await start_generation(
                conn, project_id=self.project.id, generation_key=self.key, provider=self.choice.provider, model=self.choice.version
            )
            if self.charged:
                payer = Attribution(generation_id=generation_id, project_id=self.project.id, key_id=self.key_id, model=self.choice.version)
                await billing.reserve(
                    conn, organization_id=self.project.organization_id, cost=self.price, payer=payer, now=dt.datetime.now(dt.UTC)
                )
        return generation_id

    async def draw(self) -> GeneratedImage:
        try:
            data = await self.services.storage.get(self.parent.storage_key)
        except ObjectNotFound:
            raise MasterMissing(detail=self.parent.storage_key) from None
        request = ExtensionRequest(
            image=data,
            mime=self.parent.mime,
            width=self.parent.width,
            height=self.parent.height,
            aspect_class=self.aspect_class,
            prompt=self.parent.prompt or self.parent.alt_text,
            model=self.choice.version,
        )
        focal = FocalPoint.clamped(self.parent.focal_x, self.parent.focal_y)
        call = functools.partial(extend, self.provider, request, focal, self.services.pipeline)
        try:
            return await self.services.circuits.call(self.choice.provider, call)
        except GenerationError as exc:
            self.services.metrics.provider_errors.labels(self.choice.provider, type(exc).__name__).inc()
            raise

    async def store(self, conn: Conn, generation_id: int, image: GeneratedImage, started: float) -> Asset:
        async with conn.transaction():
            asset = await store_master(conn, self.services.storage, _new_asset(self.parent, self.key, image), image.data)
            await finish_generation(
                conn,
                id=generation_id,
                status="succeeded",
                latency_ms=int((time.perf_counter() - started) * 1000),
                cost=image.usage.cost,
                asset_id=asset.id,
                provider=image.provider,
                model=image.model,
            )
        return asset

    async def fail(self, conn: Conn, generation_id: int, started: float, error: str) -> None:
        async with conn.transaction():
            await finish_generation(
                conn, id=generation_id, status="failed", latency_ms=int((time.perf_counter() - started) * 1000), error=error
            )
            await billing.refund(conn, generation_id=generation_id, now=dt.datetime.now(dt.UTC))

    async def claimed(self, conn: Conn) -> tuple[Asset, bool]:
        existing = await find_generated_asset(conn, project_id=self.project.id, generation_key=self.key)
        if existing is not None:  # another process made it while we waited
            return existing, False
        restored = await restore_asset(conn, id=asset_id_for_generation(self.key))
        if restored is not None:
            return restored, False
        generation_id = await self.reserve(conn)
        started = time.perf_counter()
        try:
            with self.services.metrics.generating():
                image = await self.draw()
            asset = await self.store(conn, generation_id, image, started)
        except GenerationError as exc:
            await self.fail(conn, generation_id, started, exc.message)
            raise
        except Exception as exc:
            await self.fail(conn, generation_id, started, f"{type(exc).__name__}: {getattr(exc, 'detail', '') or exc}")
            raise
        if self.charged:
            self.services.metrics.credits_spent.inc(self.price)
        log.info("extended", extra={"asset": asset.id, "parent": self.parent.id, "aspect": self.aspect_class, "provider": image.provider})
        return asset, True

    async def run(self, admit: Admission | None) -> tuple[Asset, bool]:
        async with self.services.pool.acquire() as conn:
            if admit is not None:
                await admit(conn)
            await claim_generation(conn, self.key, timeout=self.services.settings.claim_timeout, metrics=self.services.metrics)
            try:
                return await self.claimed(conn)
            finally:
                try:
                    await release_generation(conn, self.key)
                except Exception:
                    conn.terminate()  # closing it releases the claim (delivery.prompts.ondemand does the same)
                    log.warning("extension claim released by closing its connection", extra={"key": self.key})


async def derived_master(
    services: Services,
    project: Project,
    parent: Asset,
    params: TransformParams,
    choice: ModelChoice,
    *,
    key_id: str | None = None,
    admit: Admission | None = None,
) -> tuple[Asset, bool]:
    """(the master to render `params` from, True when it was extended for this request or one it waited on).

    `parent` itself when a crop keeps enough of it. When the chosen provider cannot
    extend, a `fill=gen` request is refused (422) and any other is a crop of the parent.
    """
    if parent.derivation is not None:
        return parent, False
    target = extension_class(parent.width, parent.height, params, min_keep=services.settings.min_crop_keep)
    if target is None:
        return parent, False
    if not can_extend(services.providers[choice.provider]):
        if generative_fill(params):
            raise ExtensionUnsupported()
        return parent, False
    job = _Job(services, project, parent, target, choice, key_id)
    async with services.lookups.reader(services.pool) as reads:  # cached: a hit on an extended box reads nothing
        found = await reads.generated_asset(project.id, (job.key,))
    if found is not None:
        return found, False
    return await services.generation_flights.run(job.key, lambda: job.run(admit))
