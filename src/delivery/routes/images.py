"""`GET /i/{asset_id}`: a stored asset, transformed by its query."""

from __future__ import annotations

import re
import time

from litestar import Request, Response, get
from litestar.params import FromPath

from delivery.db.assets import get_asset
from delivery.errors import NotFound
from delivery.params import parse_query, parse_transform
from delivery.responses import IMMUTABLE, image_response
from delivery.services import Services
from delivery.variants import render_variant

__all__ = ["serve_asset"]

_ASSET_ID = re.compile(r"^[0-9a-f]{32}$")


@get("/i/{asset_id:str}", summary="A stored asset, transformed", include_in_schema=True)
async def serve_asset(request: Request, asset_id: FromPath[str]) -> Response[bytes]:
    services: Services = request.app.state.services
    params = parse_transform(parse_query(request.scope["query_string"]))
    if not _ASSET_ID.match(asset_id):
        raise NotFound("asset not found")
    async with services.pool.acquire() as conn:
        asset = await get_asset(conn, id=asset_id)
    started = time.perf_counter()
    variant, hit = await render_variant(services, asset, params)
    timings = {"cache": time.perf_counter() - started} if hit else variant.timings
    return image_response(request, variant, cache_status="HIT" if hit else "MISS", cache_control=IMMUTABLE, timings=timings)
