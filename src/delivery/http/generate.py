"""`GET /g/{project}?prompt=…`: the cached asset for a prompt, generated on a miss."""

from __future__ import annotations

import datetime as dt
import time

import asyncpg
from litestar import HttpMethod, Request, route
from litestar.params import FromPath

from delivery.access.links import LinkGrant, authorize_link
from delivery.access.ratelimit import admit_miss
from delivery.db.projects import get_project_by_slug
from delivery.errors import UnknownProject
from delivery.http.openapi import image_problems
from delivery.http.responses import ALIAS, IMMUTABLE, ImageResponse, image_response, redirect_to_spelling
from delivery.images.params import (
    GENERATE_NAMES,
    TRANSFORM_NAMES,
    canonical_spelling,
    parse_generate,
    parse_transform,
    query_dict,
    query_pairs,
    requested_aspect,
)
from delivery.images.presets import BUILTIN_PRESETS, names_project_preset, project_transform
from delivery.images.variants import render_variant
from delivery.prompts.ondemand import master_for_prompt
from delivery.prompts.targets import resolve_target
from delivery.services import Services

__all__ = ["generate_image"]

_YEAR = 31_536_000


def cache_control(grant: LinkGrant, now: dt.datetime, *, mutable: bool) -> str:
    """Immutable, or the alias policy when @names, a style or a project preset can change what the URL shows;
    a link that expires may be kept only until `exp`."""
    if grant.expires is None:
        return ALIAS if mutable else IMMUTABLE
    remaining = max(0, min(_YEAR, grant.expires - int(now.timestamp())))
    return f"public, max-age={min(remaining, 60) if mutable else remaining}"


_KNOWN = TRANSFORM_NAMES | GENERATE_NAMES


@route(
    "/g/{project:str}",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    summary="Generate-or-serve an image for a prompt",
    description="An unsigned link in any other spelling (ignored params, stray `&`, another percent-encoding) "
    "is a 301 to its one spelling; a signed link is served as signed.",
    responses=image_problems(401, 402, 403, 413, 415, 422, 429),
)
async def generate_image(request: Request, project: FromPath[str]) -> ImageResponse:
    services: Services = request.app.state.services
    pairs = query_pairs(request.scope["query_string"])
    if not any(name == "sig" for name, _ in pairs):  # a signature covers the link as written
        spelled = canonical_spelling(request.scope["query_string"], _KNOWN)
        if spelled is not None:
            return redirect_to_spelling(request.scope["path"], spelled)
    now = dt.datetime.now(dt.UTC)
    # The link is checked before its parameters: a tampered link is a 403, with nothing written.
    async with services.pool.acquire() as conn:
        found = await get_project_by_slug(conn, slug=project)
        if found is None:
            raise UnknownProject()
        grant = await authorize_link(
            conn,
            project=found,
            path=request.scope["path"],
            pairs=pairs,
            keyring=request.app.state.keyring,
            origin=request.headers.get("origin"),
            referer=request.headers.get("referer"),
            now=now,
        )
        query = query_dict(pairs, _KNOWN)
        project_preset = names_project_preset(query)
        if project_preset:
            transform = await project_transform(conn, found.id, query, allowed_extra=GENERATE_NAMES)
        else:
            transform = parse_transform(query, allowed_extra=GENERATE_NAMES, presets=BUILTIN_PRESETS)
        wanted = parse_generate(query, max_prompt_chars=services.settings.max_prompt_chars)
        target = await resolve_target(services, conn, found, wanted, transform, ar=requested_aspect(query))

    async def admit(conn: asyncpg.Connection) -> None:
        client = request.client.host if request.client else None
        await admit_miss(conn, settings=services.settings, grant=grant, client_ip=client, now=now)

    started = time.perf_counter()
    asset, generated = await master_for_prompt(services, target, admit=admit)
    generate_seconds = time.perf_counter() - started
    variant, hit = await render_variant(services, asset, transform, request.headers.get("accept", ""))
    timings = {"generate": generate_seconds} if generated else {}
    timings.update(variant.timings if not hit else {})
    status = "GENERATED" if generated else "HIT" if hit else "MISS"
    return image_response(
        request, variant, cache_status=status, cache_control=cache_control(grant, now, mutable=target.mutable or project_preset), timings=timings
    )
