"""Serve a variant of a stored asset: LRU, then one coalesced transform from the master."""

from __future__ import annotations

import hashlib

from delivery.cache import Variant
from delivery.db.assets import Asset
from delivery.errors import NotFound
from delivery.params import TransformParams, canonical_query
from delivery.services import Services
from delivery.storage import ObjectNotFound
from delivery.transform import inspect_source, transform
from generation.models import FocalPoint

__all__ = ["TRANSFORM_VERSION", "render_variant", "variant_key"]

TRANSFORM_VERSION = "1"
"""Bump when the same params would give different pixels, so ETags change with them."""


def variant_key(asset_id: str, params: TransformParams, fmt: str) -> str:
    return f"{asset_id}?{canonical_query(params)}#{fmt}"


def _etag(key: str) -> str:
    return '"' + hashlib.sha256(f"{TRANSFORM_VERSION}:{key}".encode()).hexdigest()[:32] + '"'


async def _render(services: Services, asset: Asset, params: TransformParams, fmt: str, key: str) -> Variant:
    try:
        data = await services.storage.get(asset.storage_key)
    except ObjectNotFound:
        raise NotFound("asset master is missing", detail=asset.storage_key) from None

    def work() -> Variant:
        source = inspect_source(data, services.limits)
        focal = FocalPoint(asset.focal_x, asset.focal_y)
        encoded = transform(data, source, params, focal, services.limits, fmt)
        return Variant(
            data=encoded.data,
            mime=encoded.mime,
            width=encoded.width,
            height=encoded.height,
            etag=_etag(key),
            timings=encoded.timings,
        )

    variant: Variant = await services.run_in_thread(work)
    services.counters.transforms += 1
    services.metrics.transformed(variant.timings)
    services.variants.put(key, variant)
    return variant


def output_format(asset: Asset, params: TransformParams) -> str:
    """Explicit `fm`, else the master's own format."""
    if params.fm:
        return params.fm
    return {"image/jpeg": "jpg", "image/webp": "webp", "image/avif": "avif"}.get(asset.mime, "png")


async def render_variant(services: Services, asset: Asset, params: TransformParams) -> tuple[Variant, bool]:
    """(variant, True when it came from the LRU)."""
    fmt = output_format(asset, params)
    key = variant_key(asset.id, params, fmt)
    cached = services.variants.get(key)
    if cached is not None:
        return cached, True
    variant = await services.variant_flights.run(key, lambda: _render(services, asset, params, fmt, key))
    return variant, False
