"""`GET /g/{project}?prompt=…`: the cached asset for a prompt, generated on a miss."""

from __future__ import annotations

from litestar import HttpMethod, Request, route
from litestar.params import FromPath

from delivery.http.openapi import image_problems, query_operation
from delivery.http.responses import ImageResponse, redirect_to_spelling
from delivery.http.serving import serve_generation
from delivery.images.params import GENERATE_NAMES, GENERATE_PARAMS, PARAMS, PRESET_PARAM, TRANSFORM_NAMES, canonical_spelling, query_pairs
from delivery.services import Services

__all__ = ["generate_image"]

_KNOWN = TRANSFORM_NAMES | GENERATE_NAMES


@route(
    "/g/{project:str}",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    summary="Generate-or-serve an image for a prompt",
    description="An unsigned link in any other spelling (ignored params, stray `&`, another percent-encoding) "
    "is a 301 to its one spelling; a signed link is served as signed.",
    responses=image_problems(401, 402, 403, 413, 415, 422, 429),
    operation_class=query_operation(GENERATE_PARAMS, PARAMS, [PRESET_PARAM], required=frozenset({"prompt"})),
)
async def generate_image(request: Request, project: FromPath[str]) -> ImageResponse:
    services: Services = request.app.state.services
    raw = request.scope["query_string"]
    pairs = services.link_pairs.get(raw)  # memoised once known to be in its one spelling (or signed)
    if pairs is None:
        pairs = query_pairs(raw)
        if not any(name == "sig" for name, _ in pairs):  # a signature covers the link as written
            spelled = canonical_spelling(raw, _KNOWN)
            if spelled is not None:
                return redirect_to_spelling(request.scope["path"], spelled)
        services.link_pairs.put(raw, pairs)
    return await serve_generation(request, services, project, path=request.scope["path"], pairs=pairs, known=_KNOWN)
