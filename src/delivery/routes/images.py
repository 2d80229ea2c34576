"""`GET /i/{asset_id}` and `GET /i/{project}/@{name}`: a stored asset, transformed by its query."""

from __future__ import annotations

import re
import time

from litestar import Request, Response, get
from litestar.params import FromPath

from delivery.db.asset_names import NAME_PATTERN, get_named_asset
from delivery.db.assets import Asset, get_asset
from delivery.db.projects import get_project_by_slug
from delivery.errors import NotFound
from delivery.params import TransformParams, parse_query, parse_transform
from delivery.responses import IMMUTABLE, image_response
from delivery.services import Services
from delivery.variants import render_variant

__all__ = ["ALIAS", "serve_asset", "serve_named_asset"]

_ASSET_ID = re.compile(r"^[0-9a-f]{32}$")
_ALIAS = re.compile(rf"^@({NAME_PATTERN})$")
ALIAS = "public, max-age=60, stale-while-revalidate=86400"
"""A name can move to another asset: caches keep it briefly and revalidate by ETag."""


async def _serve(request: Request, services: Services, asset: Asset, params: TransformParams, cache_control: str) -> Response[bytes]:
    started = time.perf_counter()
    variant, hit = await render_variant(services, asset, params)
    timings = {"cache": time.perf_counter() - started} if hit else variant.timings
    return image_response(request, variant, cache_status="HIT" if hit else "MISS", cache_control=cache_control, timings=timings)


@get("/i/{asset_id:str}", summary="A stored asset, transformed", include_in_schema=True)
async def serve_asset(request: Request, asset_id: FromPath[str]) -> Response[bytes]:
    services: Services = request.app.state.services
    params = parse_transform(parse_query(request.scope["query_string"]))
    if not _ASSET_ID.match(asset_id):
        raise NotFound("asset not found")
    async with services.pool.acquire() as conn:
        asset = await get_asset(conn, id=asset_id)
    return await _serve(request, services, asset, params, IMMUTABLE)


@get(
    "/i/{project:str}/{alias:str}",
    summary="The asset a project has named (`/i/{project}/@{name}`), transformed",
    description="`alias` is `@` followed by the name. The name can move to another asset, so this answers "
    "`Cache-Control: public, max-age=60, stale-while-revalidate=86400` with an ETag.",
)
async def serve_named_asset(request: Request, project: FromPath[str], alias: FromPath[str]) -> Response[bytes]:
    services: Services = request.app.state.services
    params = parse_transform(parse_query(request.scope["query_string"]))
    match = _ALIAS.match(alias)
    if not match:
        raise NotFound("asset not found")
    async with services.pool.acquire() as conn:
        found = await get_project_by_slug(conn, slug=project)
        asset = await get_named_asset(conn, project_id=found.id, name=match[1])
    return await _serve(request, services, asset, params, ALIAS)
