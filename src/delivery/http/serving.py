"""What the image routes share once they know what a URL asks for: one pipeline behind every dialect.

`/i/{asset_id}`, `/i/{project}/@{name}` and `/g/{project}` (imgix's dialect,
`http.images`, `http.generate`) and `/cdn-cgi/image/{options}/{source}`
(Cloudflare's, `http.cloudflare`) each turn their URL into transform params
and call these, so both dialects get the same lookups, caches, headers and
ETags. Not a route module: routes import it, it imports no route.
"""

from __future__ import annotations

import datetime as dt
import time

import msgspec
from litestar import Request

from delivery.access.links import LinkGrant, authorize_link
from delivery.access.ratelimit import admit_miss
from delivery.assets.edge import cache_tags
from delivery.db.assets import Asset, get_asset
from delivery.db.connection import Conn
from delivery.db.projects import get_project
from delivery.db.reads import Fresh, Reads
from delivery.errors import UnknownAsset, UnknownName, UnknownProject
from delivery.http.responses import (
    ALIAS,
    IMMUTABLE,
    ImageResponse,
    etag_matches,
    headers_only,
    image_response,
    metadata_response,
    not_modified,
)
from delivery.images.formats import by_name
from delivery.images.metadata import JSON, asset_metadata
from delivery.images.params import (
    GENERATE_NAMES,
    GenerateParams,
    TransformParams,
    canonical_query,
    parse_generate,
    parse_transform,
    query_dict,
    requested_aspect,
)
from delivery.images.presets import BUILTIN_PRESETS, names_project_preset, project_transform
from delivery.images.variants import cached_variant, render_variant, request_key, variant_spec
from delivery.prompts.derive import derived_master, generative_fill
from delivery.prompts.models import choose_model
from delivery.prompts.ondemand import master_for_prompt
from delivery.prompts.targets import GenerationTarget, resolve_target
from delivery.services import Services

__all__ = ["Parsed", "cache_control", "serve_asset_id", "serve_generation", "serve_named"]

Parsed = tuple[TransformParams, str] | None
"""Params and their canonical query; None when the query names a project preset, resolved once the project is known."""
_YEAR = 31_536_000


def _edge(response: ImageResponse, request: Request, services: Services, asset_id: str, project_id: int, policy: str) -> ImageResponse:
    """`Cache-Tag` for Cloudflare's purge by tag; nginx's own lifetime for an immutable image (`X-Accel-Expires`,
    revalidated after, so a missed purge is bounded); and the URL remembered for nginx's purge by URL."""
    headers = [(b"cache-tag", cache_tags(asset_id, project_id).encode())]
    if policy == IMMUTABLE:
        headers.append((b"x-accel-expires", str(services.settings.edge_ttl).encode()))
    if services.edge is not None and services.edge.nginx:
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        query = request.scope.get("query_string", b"")
        url = (raw + (b"?" + query if query else b"")).decode("latin-1")
        services.served_urls.remember(asset_id, url, request.headers.get("accept", ""))
    return response.add_headers(headers)


async def _serve(
    request: Request, services: Services, asset: Asset, params: TransformParams, cache_control: str, status: str | None = None
) -> ImageResponse:
    """A matching `If-None-Match` is answered before any fetch or transform; `fm=json` answers the metadata."""
    if params.fm == JSON:
        document = metadata_response(request, asset_metadata(asset), cache_status=status or "HIT", cache_control=cache_control)
        return _edge(document, request, services, asset.id, asset.project_id, cache_control)
    accept = request.headers.get("accept", "")
    spec = variant_spec(asset, params, accept)
    if etag_matches(request.headers.get("if-none-match"), spec.etag):
        unchanged = not_modified(spec.etag, cache_control=cache_control, vary_accept=spec.negotiated)
        return _edge(unchanged, request, services, asset.id, asset.project_id, cache_control)
    variant, hit = await render_variant(services, asset, params, accept, spec)
    cache_status = status or ("HIT" if hit else "MISS")
    response = image_response(request, variant, cache_status=cache_status, cache_control=cache_control, timings=variant.timings)
    return _edge(response, request, services, asset.id, asset.project_id, cache_control)


async def serve_asset_id(request: Request, services: Services, asset_id: str, parsed: Parsed, query: dict[str, str]) -> ImageResponse:
    """The LRU first (no database on a hit), then the asset row and the transform. `query` resolves a project preset."""
    started = time.perf_counter()
    if parsed is not None and parsed[0].fm != JSON:
        cached = cached_variant(services, asset_id, parsed[0], request.headers.get("accept", ""), parsed[1])
        if cached is not None:
            timings = {"cache": time.perf_counter() - started}
            response = image_response(request, cached, cache_status="HIT", cache_control=IMMUTABLE, timings=timings)
            return _edge(response, request, services, asset_id, cached.project_id, IMMUTABLE)
    async with services.pool.acquire() as conn:
        asset = await get_asset(conn, id=asset_id)
        if asset is None:
            raise UnknownAsset()
        if parsed is None:  # a project preset can be redefined: cached like an alias
            params, policy = await project_transform(Fresh(conn), asset.project_id, query), ALIAS
        else:
            params, policy = parsed[0], IMMUTABLE
        project = await get_project(conn, id=asset.project_id) if generative_fill(params) else None
        choice = await choose_model(services, Fresh(conn), project, None, references=0) if project is not None else None
    status = None
    if project is not None and choice is not None:
        # Generative fill: the asset extended to the box's aspect class once, billed to its project, then reused.
        asset, extended = await derived_master(services, project, asset, params, choice)
        status = "GENERATED" if extended else None
    return await _serve(request, services, asset, params, policy, status)


async def serve_named(
    request: Request, services: Services, project: str, name: str, parsed: Parsed, query: dict[str, str]
) -> ImageResponse:
    """Resolves the name through the lookup caches (a move reaches them by notification); the variant itself
    still comes from the LRU when it can."""
    async with services.lookups.reader(services.pool) as reads:
        found = await reads.project_by_slug(project)
        if found is None:
            raise UnknownProject()
        asset = (await reads.named_assets(found.id, [name])).get(name)
        if asset is None:
            raise UnknownName(f"no asset is named @{name}")
        params = parsed[0] if parsed else await project_transform(reads, found.id, query)
    return await _serve(request, services, asset, params, ALIAS)


async def _transform(reads: Reads, project_id: int, query: dict[str, str], *, project_preset: bool) -> TransformParams:
    if project_preset:
        return await project_transform(reads, project_id, query, allowed_extra=GENERATE_NAMES)
    return parse_transform(query, allowed_extra=GENERATE_NAMES, presets=BUILTIN_PRESETS)


class _Link(msgspec.Struct, frozen=True):
    """A `/g/` link's params as parsed from its pairs alone (no project preset, no overrides): memoised per link."""

    transform: TransformParams
    canonical: str
    """`canonical_query(transform)`: the variant LRU's key."""
    wanted: GenerateParams
    aspect: tuple[int, int] | None


def _parsed_link(services: Services, pairs: list[tuple[str, str]], known: frozenset[str]) -> _Link | None:
    """The link's params, parsed once per process (400s are raised, not kept); None when it names a project
    preset, which only the project can expand (and can redefine)."""
    memo_key = (tuple(pairs), known)
    parsed: _Link | None = services.parsed_links.get(memo_key)
    if parsed is None:
        link = query_dict(pairs, known)
        if names_project_preset(link):
            return None
        transform = parse_transform(link, allowed_extra=GENERATE_NAMES, presets=BUILTIN_PRESETS)
        wanted = parse_generate(link, max_prompt_chars=services.settings.max_prompt_chars)
        parsed = _Link(transform=transform, canonical=canonical_query(transform), wanted=wanted, aspect=requested_aspect(link))
        services.parsed_links.put(memo_key, parsed)
    return parsed


def cache_control(grant: LinkGrant, now: dt.datetime, *, mutable: bool) -> str:
    """Immutable, or the alias policy when @names, a style or a project preset can change what the URL shows;
    a link that expires may be kept only until `exp`."""
    if grant.expires is None:
        return ALIAS if mutable else IMMUTABLE
    remaining = max(0, min(_YEAR, grant.expires - int(now.timestamp())))
    return f"public, max-age={min(remaining, 60) if mutable else remaining}"


async def serve_generation(
    request: Request,
    services: Services,
    project: str,
    *,
    path: str,
    pairs: list[tuple[str, str]],
    known: frozenset[str],
    overrides: dict[str, str] | None = None,
) -> ImageResponse:
    """The cached asset for a prompt, generated on a miss. The link (`path` and `pairs`, as signed) is checked
    before its parameters; `overrides` are transform params (imgix names) over the link's own.

    Every read goes through the lookup caches (delivery.assets.lookups), and the key's use is recorded in memory
    (delivery.access.usage): a hit on a known link makes no query and no write."""
    now = dt.datetime.now(dt.UTC)
    epoch = services.lookups.epoch  # before any read: a target derived from rows read under it is kept only if unchanged
    async with services.lookups.reader(services.pool) as reads:
        found = await reads.project_by_slug(project)
        if found is None:
            raise UnknownProject()
        grant = await authorize_link(
            reads,
            project=found,
            path=path,
            pairs=pairs,
            keyring=request.app.state.keyring,
            origin=request.headers.get("origin"),
            referer=request.headers.get("referer"),
            now=now,
        )
        services.key_use.record(grant.key.id, now)
        parsed = _parsed_link(services, pairs, known) if overrides is None else None
        if parsed is not None:
            project_preset, transform, canonical = False, parsed.transform, parsed.canonical
            chooser = transform
            # The target is a function of rows the lookup caches hold: kept until any of them changes.
            memo_key = ("target", found.id, tuple(pairs))
            held = services.lookups.derived(memo_key)
            if isinstance(held, GenerationTarget):
                target = held
            else:
                target = await resolve_target(services, reads, found, parsed.wanted, transform, ar=parsed.aspect)
                services.lookups.remember(memo_key, target, epoch)
        else:
            link = query_dict(pairs, known)
            query = {**link, **(overrides or {})}
            project_preset = names_project_preset(query)
            transform = await _transform(reads, found.id, query, project_preset=project_preset)
            canonical = canonical_query(transform)
            wanted = parse_generate(query, max_prompt_chars=services.settings.max_prompt_chars)
            # A signed link generates only what it names: options over it may change how the master is drawn,
            # never which master (its aspect class) is generated.
            signed = overrides and any(k == "sig" for k, _ in pairs)
            chooser = await _transform(reads, found.id, link, project_preset=names_project_preset(link)) if signed else transform
            target = await resolve_target(services, reads, found, wanted, chooser, ar=requested_aspect(link if signed else query))

    async def admit(conn: Conn) -> None:
        client = request.client.host if request.client else None
        await admit_miss(conn, settings=services.settings, grant=grant, client_ip=client, now=now)

    started = time.perf_counter()
    asset, generated = await master_for_prompt(services, target, admit=admit)
    if not target.art_directed:
        # One artwork: a box the root cannot be cropped to (keeping enough of it) is served from the root extended
        # to the box's aspect class. A signed link's own params decide that, as they decide the root's aspect.
        asset, extended = await derived_master(services, found, asset, chooser, target.choice, key_id=target.key_id, admit=admit)
        generated = generated or extended
    generate_seconds = time.perf_counter() - started
    policy = cache_control(grant, now, mutable=target.mutable or project_preset)
    if transform.fm == JSON:
        return await _serve(request, services, asset, transform, policy, "GENERATED" if generated else "HIT")
    accept = request.headers.get("accept", "")
    cached = None if generated else services.variants.get(request_key(asset.id, transform, accept, canonical))
    if cached is not None:
        response = image_response(request, cached, cache_status="HIT", cache_control=policy, timings={})
        return _edge(response, request, services, asset.id, asset.project_id, policy)
    if not generated:
        # A hit on the master but not on the variant: a client that holds the variant, or asks only for its
        # headers, is answered from the asset row, without reading the master or transforming it.
        spec = variant_spec(asset, transform, accept)
        if etag_matches(request.headers.get("if-none-match"), spec.etag):
            unchanged = not_modified(spec.etag, cache_control=policy, vary_accept=spec.negotiated)
            return _edge(unchanged, request, services, asset.id, asset.project_id, policy)
        if request.method == "HEAD":
            mime = by_name(spec.format).mime
            head = headers_only(spec.etag, mime, cache_control=policy, cache_status="MISS", vary_accept=spec.negotiated)
            return _edge(head, request, services, asset.id, asset.project_id, policy)
    variant, hit = await render_variant(services, asset, transform, accept)
    timings = {"generate": generate_seconds} if generated else {}
    timings.update(variant.timings if not hit else {})
    status = "GENERATED" if generated else "HIT" if hit else "MISS"
    response = image_response(request, variant, cache_status=status, cache_control=policy, timings=timings)
    return _edge(response, request, services, asset.id, asset.project_id, policy)
