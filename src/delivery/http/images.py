"""`GET /i/{asset_id}` and `GET /i/{project}/@{name}`: a stored asset, transformed by its query."""

from __future__ import annotations

import re
import time

import asyncpg
from litestar import HttpMethod, Request, route
from litestar.params import FromPath

from delivery.db.asset_names import NAME_PATTERN, get_named_asset
from delivery.db.assets import Asset, get_asset
from delivery.db.projects import get_project_by_slug
from delivery.errors import UnknownAsset, UnknownName, UnknownProject
from delivery.http.openapi import image_problems
from delivery.http.responses import ALIAS, IMMUTABLE, ImageResponse, etag_matches, image_response, not_modified, redirect_to_spelling
from delivery.images.params import TRANSFORM_NAMES, TransformParams, canonical_query, canonical_spelling, parse_query, parse_transform
from delivery.images.presets import BUILTIN_PRESETS, names_project_preset, project_transform
from delivery.images.variants import cached_variant, render_variant, variant_spec
from delivery.services import Services

__all__ = ["serve_asset", "serve_named_asset"]

_ASSET_ID = re.compile(r"^[0-9a-f]{32}$")
_ALIAS = re.compile(rf"^@({NAME_PATTERN})$")
"""A name can move to another asset: caches keep it briefly and revalidate by ETag."""


_METHODS = [HttpMethod.GET, HttpMethod.HEAD]


class Respelled(Exception):
    """The query is not in its one spelling: the route answers with a redirect to `spelled`."""

    def __init__(self, spelled: str) -> None:
        self.spelled = spelled


def _parse(services: Services, query_string: bytes) -> tuple[TransformParams, str] | None:
    """Params and their canonical query, memoised per raw query string (only valid, canonically spelled ones are kept).

    None when the query names a project preset: what it expands to depends on
    the asset's project, so it is parsed once that is known (`_project_params`).
    Raises `Respelled` for any other spelling of a query (ignored params,
    stray `&`, another percent-encoding): caches key on the raw query.
    """
    parsed = services.parsed_queries.get(query_string)
    if parsed is None:
        spelled = canonical_spelling(query_string, TRANSFORM_NAMES)
        if spelled is not None:
            raise Respelled(spelled)
        query = parse_query(query_string)
        if names_project_preset(query):
            return None
        params = parse_transform(query, presets=BUILTIN_PRESETS)
        parsed = services.parsed_queries[query_string] = (params, canonical_query(params))
    return parsed


async def _project_params(conn: asyncpg.Connection, project_id: int, query_string: bytes) -> TransformParams:
    return await project_transform(conn, project_id, parse_query(query_string))


async def _serve(
    request: Request, services: Services, asset: Asset, params: TransformParams, accept: str, cache_control: str
) -> ImageResponse:
    """A matching `If-None-Match` is answered before any fetch or transform."""
    spec = variant_spec(asset, params, accept)
    if etag_matches(request.headers.get("if-none-match"), spec.etag):
        return not_modified(spec.etag, cache_control=cache_control, vary_accept=spec.negotiated)
    variant, hit = await render_variant(services, asset, params, accept, spec)
    return image_response(request, variant, cache_status="HIT" if hit else "MISS", cache_control=cache_control, timings=variant.timings)


def _respell(request: Request, services: Services) -> tuple[TransformParams, str] | ImageResponse | None:
    try:
        return _parse(services, request.scope["query_string"])
    except Respelled as respelled:
        return redirect_to_spelling(request.scope["path"], respelled.spelled)


@route(
    "/i/{asset_id:str}",
    http_method=_METHODS,
    summary="A stored asset, transformed",
    description="Any other spelling of a query (ignored params, stray `&`, another percent-encoding) is a 301 to its one spelling.",
    responses=image_problems(413, 415, 422),
)
async def serve_asset(request: Request, asset_id: FromPath[str]) -> ImageResponse:
    """Params are checked first, then the LRU (no database on a hit), then the asset row and the transform."""
    started = time.perf_counter()
    services: Services = request.app.state.services
    parsed = _respell(request, services)
    if isinstance(parsed, ImageResponse):
        return parsed
    if not _ASSET_ID.match(asset_id):
        raise UnknownAsset()
    accept = request.headers.get("accept", "")
    if parsed is not None:
        cached = cached_variant(services, asset_id, parsed[0], accept, parsed[1])
        if cached is not None:
            timings = {"cache": time.perf_counter() - started}
            return image_response(request, cached, cache_status="HIT", cache_control=IMMUTABLE, timings=timings)
    async with services.pool.acquire() as conn:
        asset = await get_asset(conn, id=asset_id)
        if asset is None:
            raise UnknownAsset()
        if parsed is None:  # a project preset can be redefined: cached like an alias
            params, policy = await _project_params(conn, asset.project_id, request.scope["query_string"]), ALIAS
        else:
            params, policy = parsed[0], IMMUTABLE
    return await _serve(request, services, asset, params, accept, policy)


@route(
    "/i/{project:str}/{alias:str}",
    http_method=_METHODS,
    summary="The asset a project has named (`/i/{project}/@{name}`), transformed",
    description="`alias` is `@` followed by the name. The name can move to another asset, so this answers "
    "`Cache-Control: public, max-age=60, stale-while-revalidate=86400` with an ETag.",
    responses=image_problems(413, 415, 422),
)
async def serve_named_asset(request: Request, project: FromPath[str], alias: FromPath[str]) -> ImageResponse:
    """Always resolves the name (it can move); the variant itself still comes from the LRU when it can."""
    services: Services = request.app.state.services
    parsed = _respell(request, services)
    if isinstance(parsed, ImageResponse):
        return parsed
    match = _ALIAS.match(alias)
    if not match:
        raise UnknownAsset()
    async with services.pool.acquire() as conn:
        found = await get_project_by_slug(conn, slug=project)
        if found is None:
            raise UnknownProject()
        asset = await get_named_asset(conn, project_id=found.id, name=match[1])
        if asset is None:
            raise UnknownName(f"no asset is named @{match[1]}")
        params = parsed[0] if parsed else await _project_params(conn, found.id, request.scope["query_string"])
    return await _serve(request, services, asset, params, request.headers.get("accept", ""), ALIAS)
