"""`GET /cdn-cgi/image/{options}/{source}`: Cloudflare's image-resizing URLs, served by the same pipeline.

`{source}` is an image path of this service (`/i/{id}`, `/i/{project}/@{name}`,
`/g/{project}?prompt=…`), or an absolute URL of one on this host. Its query
(written after the source as usual, or percent-encoded into the path as
`%3F…`, which is what `@unpic/core` writes) is read as on the source route,
and the options (`images.cloudflare`, translated to imgix params) are applied
over it. A signed `/g` source is checked as signed, over its own path and query.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from litestar import HttpMethod, Request, route
from litestar.params import FromPath

from delivery.db.asset_names import NAME_PATTERN
from delivery.errors import UnknownSource
from delivery.http.openapi import image_problems
from delivery.http.responses import ImageResponse, redirect_to_location
from delivery.http.serving import Parsed, serve_asset_id, serve_generation, serve_named
from delivery.images.cloudflare import OPTIONS, parse_options
from delivery.images.params import (
    GENERATE_NAMES,
    TRANSFORM_NAMES,
    canonical_query,
    canonical_spelling,
    parse_transform,
    query_dict,
    query_pairs,
)
from delivery.images.presets import BUILTIN_PRESETS, names_project_preset
from delivery.services import Services

__all__ = ["serve_cloudflare"]

PREFIX = "/cdn-cgi/image/"
_ABSOLUTE = re.compile(r"^https?:/+([^/]+)(/.*)?\Z", re.IGNORECASE | re.DOTALL)
"""`https://host/path`; proxies and browsers may fold the `//` after the scheme to one `/`."""
_ASSET = re.compile(r"^/i/([0-9a-f]{32})\Z")
_NAMED = re.compile(rf"^/i/([^/]+)/@({NAME_PATTERN})\Z", re.IGNORECASE)
_GENERATE = re.compile(r"^/g/([^/]+)\Z")
_ENCODED_QUERY = re.compile(r"%3F", re.IGNORECASE)
_GENERATE_KNOWN = TRANSFORM_NAMES | GENERATE_NAMES


def _hosts(request: Request, services: Services) -> set[str]:
    """The hosts an absolute source may name: this request's own, and the configured public URL's."""
    public = services.settings.resolved_public_url.split("://", 1)[-1].split("/", 1)[0]
    return {h.lower() for h in (request.headers.get("host", ""), public) if h}


def _split(request: Request, services: Services) -> tuple[str, str, str, bytes, bool]:
    """(options, source path, raw source path, source query, query encoded into the path) from the raw request path."""
    raw = request.scope.get("raw_path") or quote(request.scope["path"]).encode()
    # ASGI's raw_path has no query, but some clients' test transports leave it on: a literal `?` ends the path anyway.
    rest = raw.decode("latin-1").split("?", 1)[0][len(PREFIX) :]
    options, _, source = rest.partition("/")
    source = "/" + source
    absolute = _ABSOLUTE.match(source[1:])
    if absolute:
        if absolute[1].lower() not in _hosts(request, services):
            raise UnknownSource(detail=absolute[1])
        source = absolute[2] or "/"
    query = request.scope["query_string"]
    inner = not query and _ENCODED_QUERY.search(source) is not None
    if inner:
        source, encoded = _ENCODED_QUERY.split(source, 1)
        query = encoded.encode("latin-1")
    return unquote(options), unquote(source), source, query, inner


@route(
    f"{PREFIX}{{rest:path}}",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    summary="Cloudflare's image-resizing URL: `/cdn-cgi/image/{options}/{source}`",
    description="`rest` is `{options}/{source}`. `options`: Cloudflare's comma-separated `name=value` options, "
    "each translated to the imgix params of the source routes ("
    + "; ".join(f"`{'`|`'.join(o.names)}` → `{o.imgix}`" for o in OPTIONS)
    + "); others are ignored (a 301 to the URL without them). `source`: `/i/{asset_id}`, `/i/{project}/@{name}` or "
    "`/g/{project}?prompt=…` (its query after it, or as `%3F…` in the path), or an absolute URL of one on this host; "
    "served with the source route's cache headers.",
    responses=image_problems(401, 402, 403, 413, 415, 422, 429),
)
async def serve_cloudflare(request: Request, rest: FromPath[str]) -> ImageResponse:
    services: Services = request.app.state.services
    segment, source, raw_source, query_string, inner = _split(request, services)
    options = parse_options(segment)
    generate = _GENERATE.match(source)
    pairs = query_pairs(query_string)
    known = _GENERATE_KNOWN if generate else TRANSFORM_NAMES
    respelled = None if inner or (generate and any(k == "sig" for k, _ in pairs)) else canonical_spelling(query_string, known)
    if options.spelled != segment or respelled is not None:
        spelled = query_string.decode("latin-1") if respelled is None else respelled
        tail = f"?{spelled}" if spelled else ""
        if not options.spelled:  # no option left: the source itself
            return redirect_to_location(raw_source + tail)
        return redirect_to_location(f"{PREFIX}{quote(options.spelled, safe=',=:;')}{raw_source}{tail}")
    if generate:
        return await serve_generation(
            request, services, generate[1], path=source, pairs=pairs, known=_GENERATE_KNOWN, overrides=options.params
        )
    query = {k: v for k, v in query_dict(pairs, TRANSFORM_NAMES).items() if k in TRANSFORM_NAMES}
    query.update(options.params)
    parsed: Parsed = None
    if not names_project_preset(query):
        params = parse_transform(query, presets=BUILTIN_PRESETS)
        parsed = (params, canonical_query(params))
    if asset := _ASSET.match(source):
        return await serve_asset_id(request, services, asset[1], parsed, query)
    if named := _NAMED.match(source):
        return await serve_named(request, services, named[1], named[2].lower(), parsed, query)
    raise UnknownSource()
