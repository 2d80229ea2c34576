"""Serve a variant of a stored asset: LRU, then one coalesced transform from the master.

Two keys, so a cache hit costs no database round trip:
- the *request key* (`asset?canonical#fm|auto-class|src`) is known from the URL
  and `Accept` alone, and is what the LRU is looked up by;
- the *variant key* (`asset.vN?canonical#fmt`, with the asset's version and the
  real output format) needs the asset's row, names the pixels, and is what the
  ETag and single-flight use. The version changes with the focal point, a
  delete or a restore, so the ETag does too; the LRU, looked up without the
  row, is emptied of a changed asset's entries instead (`forget_asset`, called
  for every change notified through PostgreSQL, delivery.assets.invalidation).

A miss reads the master from the master LRU when a recent transform left it
there (with its checked header), else from storage. A refusal (a master that
cannot be served with these params, a transform past its deadline) is kept
briefly by variant key, so a hopeless URL costs its work once, not per view.
"""

from __future__ import annotations

import hashlib

import msgspec

from delivery.db.assets import Asset
from delivery.errors import (
    MasterMissing,
    SourceTooLarge,
    SourceTooManyFrames,
    SourceTooManyPixels,
    SourceUnreadable,
    TransformTimedOut,
    UnencodableOutput,
    UnsupportedSourceFormat,
)
from delivery.images.cache import Master, Variant
from delivery.images.formats import AUTO_FORMAT, FALLBACK, Format, by_mime, by_name, encoding_tag
from delivery.images.params import TransformParams, canonical_query
from delivery.images.transform import inspect_source, transform
from delivery.services import Services
from delivery.storage import ObjectNotFound
from generation import FocalPoint

__all__ = ["TRANSFORM_VERSION", "VariantSpec", "accept_class", "cached_variant", "forget_asset", "render_variant", "variant_spec"]

_REMEMBERED = (
    SourceTooLarge,
    UnsupportedSourceFormat,
    SourceUnreadable,
    SourceTooManyPixels,
    SourceTooManyFrames,
    UnencodableOutput,
    TransformTimedOut,
)
"""Refusals the same master and params would meet again: kept for `PROMPTPIX_REFUSAL_TTL` (the key names the
asset's version, so a changed asset is tried afresh). A full pool or a storage fault is not remembered."""

TRANSFORM_VERSION = "7"
"""Bump when the same params would give different pixels, so ETags change with them."""


class VariantSpec(msgspec.Struct, frozen=True):
    key: str
    format: str
    etag: str
    negotiated: bool
    """The format came from `Accept` (auto=format): responses carry `Vary: Accept`."""


def _negotiates(params: TransformParams) -> bool:
    """`auto=format` (alone or beside `compress`) without an explicit `fm`."""
    return params.fm is None and "format" in (params.auto or "").split(",")


def accept_class(params: TransformParams, accept: str) -> str:
    """What of the request decides the format: explicit `fm`, the `Accept` class, or the source."""
    if params.fm:
        return params.fm
    if not _negotiates(params):
        return "src"
    for fmt in AUTO_FORMAT:  # best first
        if fmt.mime in accept:
            return fmt.name
    return "legacy"


def request_key(asset_id: str, params: TransformParams, accept: str, canonical: str | None = None) -> str:
    return f"{asset_id}?{canonical_query(params) if canonical is None else canonical}#{accept_class(params, accept)}"


def _source_output(mime: str) -> Format:
    """What a source of `mime` is served as without `fm`: its format's default output, the fallback for a mime we do not know."""
    source = by_mime(mime)
    return FALLBACK if source is None else by_name(source.default_output)


def output_format(mime: str, params: TransformParams, accept: str) -> str:
    """Explicit `fm`; else the best `Accept` allows; else the source's own.

    When `Accept` names none of the negotiated formats, a source whose own
    output needs negotiating (WebP; AVIF, which HEIC is served as) falls back to PNG, which keeps the
    alpha it may have; JPEG stays JPEG.
    """
    wanted = accept_class(params, accept)
    if wanted == "src":
        return _source_output(mime).name
    if wanted == "legacy":
        own = _source_output(mime)
        return FALLBACK.name if own.auto_rank is not None else own.name
    return wanted


def variant_spec(asset: Asset, params: TransformParams, accept: str) -> VariantSpec:
    fmt = output_format(asset.mime, params, accept)
    key = f"{asset.id}.v{asset.version}?{canonical_query(params)}#{fmt}"
    etag = '"' + hashlib.sha256(f"{TRANSFORM_VERSION}:{key}{encoding_tag(fmt)}".encode()).hexdigest()[:32] + '"'
    return VariantSpec(key=key, format=fmt, etag=etag, negotiated=_negotiates(params))


def cached_variant(services: Services, asset_id: str, params: TransformParams, accept: str, canonical: str) -> Variant | None:
    """The LRU entry for this request, found from the URL and `Accept` alone (`canonical` is `canonical_query(params)`)."""
    return services.variants.get(request_key(asset_id, params, accept, canonical))


async def _master(services: Services, asset: Asset, key: str) -> Master | bytes:
    """The cached master (`key` is `_master_key`) with its checked header, or the bytes from storage (checked in the thread)."""
    cached = services.masters.get(key)
    if cached is not None:
        return cached
    try:
        return await services.storage.get(asset.storage_key)
    except ObjectNotFound:
        raise MasterMissing(detail=asset.storage_key) from None


def _master_key(asset: Asset) -> str:
    """The row's creation time too: a key freed by the sweep may later hold another generation's bytes."""
    return f"{asset.storage_key}@{asset.created_at.isoformat()}"


async def _render(services: Services, asset: Asset, params: TransformParams, spec: VariantSpec) -> Variant:
    def work(fetched: Master | bytes) -> tuple[Variant, Master]:
        master = fetched if isinstance(fetched, Master) else Master(data=fetched, source=inspect_source(fetched, services.limits))
        encoded = transform(master.data, master.source, params, FocalPoint(asset.focal_x, asset.focal_y), services.limits, spec.format)
        variant = Variant(
            data=encoded.data,
            mime=encoded.mime,
            width=encoded.width,
            height=encoded.height,
            etag=spec.etag,
            timings=encoded.timings,
            vary_accept=spec.negotiated,
            project_id=asset.project_id,
        )
        return variant, master

    key = _master_key(asset)
    variant, master = await services.run_in_thread(work, fetch=lambda: _master(services, asset, key))
    services.masters.put(key, master)
    services.metrics.transformed(variant.timings)
    return variant


async def render_variant(
    services: Services, asset: Asset, params: TransformParams, accept: str, spec: VariantSpec | None = None
) -> tuple[Variant, bool]:
    """(variant, True when it came from the LRU); a miss runs one transform for all identical waiters.

    `spec` is `variant_spec(asset, params, accept)` when the caller already made it (for its ETag check).
    """
    lookup = request_key(asset.id, params, accept)
    cached = services.variants.get(lookup)
    if cached is not None:
        return cached, True
    spec = spec or variant_spec(asset, params, accept)
    refused = services.refusals.get(spec.key) if services.refusals is not None else None
    if refused is not None:
        raise type(refused)(refused.message, detail=refused.detail, retry_after=refused.retry_after)
    epoch = services.forgotten.get(asset.id, 0)
    try:
        variant = await services.variant_flights.run(spec.key, lambda: _render(services, asset, params, spec))
    except _REMEMBERED as exc:
        if services.refusals is not None:
            services.refusals[spec.key] = exc
        raise
    if services.forgotten.get(asset.id, 0) == epoch:  # else the asset changed meanwhile: this may show its old version
        services.variants.put(lookup, variant)
    return variant, False


def forget_asset(services: Services, asset_id: str) -> int:
    """Drop every cached variant and master of `asset_id` from this process (its row changed); the number dropped.

    Variant request keys start with `asset_id?`; master keys are storage keys, which end in the asset id and its extension.
    """
    services.forgotten[asset_id] = services.forgotten.get(asset_id, 0) + 1
    services.lookups.forget_asset(asset_id)  # `@names` and generation keys that resolved to it
    dropped = services.variants.forget(lambda key: key.startswith(f"{asset_id}?"))
    return dropped + services.masters.forget(lambda key: f"/{asset_id}." in key)
