"""`GET /i/{asset_id}` and `GET /i/{project}/@{name}`: a stored asset, transformed by its query."""

from __future__ import annotations

import re

from litestar import HttpMethod, Request, route
from litestar.params import FromPath

from delivery.db.asset_names import NAME_PATTERN
from delivery.errors import UnknownAsset, UnknownName
from delivery.http.openapi import image_problems, query_operation
from delivery.http.responses import ImageResponse, redirect_to_spelling
from delivery.http.serving import Parsed, serve_asset_id, serve_named
from delivery.images.params import PARAMS, PRESET_PARAM, TRANSFORM_NAMES, TransformParams, canonical_query, canonical_spelling, parse_query, parse_transform
from delivery.images.presets import BUILTIN_PRESETS, names_project_preset
from delivery.services import Services

__all__ = ["serve_asset", "serve_named_asset"]

_ASSET_ID = re.compile(r"^[0-9a-f]{32}\Z")
_ALIAS = re.compile(rf"^@({NAME_PATTERN})\Z")
"""A name can move to another asset: caches keep it briefly and revalidate by ETag."""


_METHODS = [HttpMethod.GET, HttpMethod.HEAD]


class Respelled(Exception):
    """The query is not in its one spelling: the route answers with a redirect to `spelled`."""

    def __init__(self, spelled: str) -> None:
        self.spelled = spelled


def _parse(services: Services, query_string: bytes) -> tuple[TransformParams, str] | None:
    """Params and their canonical query, memoised per raw query string (only valid, canonically spelled ones are kept).

    None when the query names a project preset: what it expands to depends on
    the asset's project, so it is parsed once that is known (`serving.serve_asset_id`).
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


def _query(request: Request, parsed: Parsed) -> dict[str, str]:
    """The raw params, needed only to expand a project preset (`parsed` is None)."""
    return parse_query(request.scope["query_string"]) if parsed is None else {}


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
    operation_class=query_operation(PARAMS, [PRESET_PARAM]),
)
async def serve_asset(request: Request, asset_id: FromPath[str]) -> ImageResponse:
    """Params are checked first, then the LRU (no database on a hit), then the asset row and the transform."""
    services: Services = request.app.state.services
    parsed = _respell(request, services)
    if isinstance(parsed, ImageResponse):
        return parsed
    if not _ASSET_ID.match(asset_id):
        raise UnknownAsset()
    return await serve_asset_id(request, services, asset_id, parsed, _query(request, parsed))


@route(
    "/i/{project:str}/{alias:str}",
    http_method=_METHODS,
    summary="The asset a project has named (`/i/{project}/@{name}`), transformed",
    description="`alias` is `@` followed by the name. The name can move to another asset, so this answers "
    "`Cache-Control: public, max-age=60, stale-while-revalidate=86400` with an ETag.",
    responses=image_problems(413, 415, 422),
    operation_class=query_operation(PARAMS, [PRESET_PARAM]),
)
async def serve_named_asset(request: Request, project: FromPath[str], alias: FromPath[str]) -> ImageResponse:
    """Always resolves the name (it can move); the variant itself still comes from the LRU when it can."""
    services: Services = request.app.state.services
    parsed = _respell(request, services)
    if isinstance(parsed, ImageResponse):
        return parsed
    match = _ALIAS.match(alias.lower())  # names are matched without regard to case, as in prompts
    if not match:
        raise UnknownName(f"no asset is named {alias[:80]}")
    return await serve_named(request, services, project, match[1], parsed, _query(request, parsed))
