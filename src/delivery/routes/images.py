"""`GET /i/{asset_id}`: a stored asset, transformed by its query."""

from __future__ import annotations

import re
import time

from litestar import Request, get
from litestar.params import FromPath

from delivery.db.assets import get_asset
from delivery.errors import NotFound
from delivery.params import TransformParams, canonical_query, parse_query, parse_transform
from delivery.presets import BUILTIN_PRESETS
from delivery.responses import IMMUTABLE, ImageResponse, etag_matches, image_response, not_modified
from delivery.services import Services
from delivery.variants import cached_variant, render_variant, variant_spec

__all__ = ["serve_asset"]

_ASSET_ID = re.compile(r"^[0-9a-f]{32}$")


def _parse(services: Services, query_string: bytes) -> tuple[TransformParams, str]:
    """Params and their canonical query, memoised per raw query string (only valid ones are kept)."""
    parsed = services.parsed_queries.get(query_string)
    if parsed is None:
        params = parse_transform(parse_query(query_string), presets=BUILTIN_PRESETS)
        parsed = services.parsed_queries[query_string] = (params, canonical_query(params))
    return parsed


@get("/i/{asset_id:str}", summary="A stored asset, transformed", include_in_schema=True)
async def serve_asset(request: Request, asset_id: FromPath[str]) -> ImageResponse:
    """Params are checked first, then the LRU (no database on a hit), then the asset row and the transform."""
    started = time.perf_counter()
    services: Services = request.app.state.services
    params, canonical = _parse(services, request.scope["query_string"])
    if not _ASSET_ID.match(asset_id):
        raise NotFound("asset not found")
    accept = request.headers.get("accept", "")
    cached = cached_variant(services, asset_id, params, accept, canonical)
    if cached is not None:
        return image_response(request, cached, cache_status="HIT", cache_control=IMMUTABLE, timings={"cache": time.perf_counter() - started})
    async with services.pool.acquire() as conn:
        asset = await get_asset(conn, id=asset_id)
    spec = variant_spec(asset, params, accept)
    if etag_matches(request.headers.get("if-none-match"), spec.etag):
        return not_modified(spec.etag, cache_control=IMMUTABLE, vary_accept=spec.negotiated)
    variant, hit = await render_variant(services, asset, params, accept)
    return image_response(request, variant, cache_status="HIT" if hit else "MISS", cache_control=IMMUTABLE, timings=variant.timings)
