"""`GET /g/{project}?prompt=…`: the cached asset for a prompt, generated on a miss."""

from __future__ import annotations

import time

from litestar import Request, get
from litestar.params import FromPath

from delivery.auth import authorize_link
from delivery.db.projects import get_project_by_slug
from delivery.ondemand import GenerationTarget, master_for_prompt
from delivery.params import GENERATE_NAMES, TransformParams, parse_generate, parse_query, parse_transform
from delivery.presets import BUILTIN_PRESETS
from delivery.responses import IMMUTABLE, ImageResponse, image_response
from delivery.services import Services
from delivery.variants import render_variant
from generation.models import nearest_aspect_class

__all__ = ["generate_image"]


def aspect_class(params: TransformParams) -> str:
    """The master's aspect: from `ar`, else from `w:h`, else square."""
    if params.ar:
        return nearest_aspect_class(*params.ar)
    if params.w and params.h:
        return nearest_aspect_class(params.w, params.h)
    return "1:1"


@get("/g/{project:str}", summary="Generate-or-serve an image for a prompt")
async def generate_image(request: Request, project: FromPath[str]) -> ImageResponse:
    services: Services = request.app.state.services
    query = parse_query(request.scope["query_string"])
    transform = parse_transform(query, allowed_extra=GENERATE_NAMES, presets=BUILTIN_PRESETS)
    wanted = parse_generate(query, max_prompt_chars=services.settings.max_prompt_chars)
    async with services.pool.acquire() as conn:
        found = await get_project_by_slug(conn, slug=project)
        await authorize_link(conn, project=found, key_id=wanted.key)
    target = GenerationTarget(services, found, wanted, aspect_class(transform))

    started = time.perf_counter()
    asset, generated = await master_for_prompt(services, target)
    generate_seconds = time.perf_counter() - started
    variant, hit = await render_variant(services, asset, transform, request.headers.get("accept", ""))
    timings = {"generate": generate_seconds} if generated else {}
    timings.update(variant.timings if not hit else {})
    status = "GENERATED" if generated else "HIT" if hit else "MISS"
    return image_response(request, variant, cache_status=status, cache_control=IMMUTABLE, timings=timings)
