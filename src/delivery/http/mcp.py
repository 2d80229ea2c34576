"""`/mcp`: the Model Context Protocol server for coding agents and LLM apps (streamable HTTP).

Each tool is a thin layer over the same domain functions as the `/v1` routes
(`prompts/orders.generate_for_api`, `assets/uploads.upload_asset`, the `db`
queries, `access/links.sign_link`), so a rule lives in one place. The caller is
a secret key sent as `Authorization: Bearer`, checked before any MCP message
is read (`access/keys.authenticate_secret_key`: 401/403 problem details);
each tool then needs the scope the matching `/v1` route needs, and a missing
scope, like every other `ServiceError`, comes back as an MCP tool error
carrying the API's public message.

The transport is stateless (a fresh MCP session per HTTP request, JSON
answers, no server-sent streams), so any worker of any process can answer any
request: `/mcp` scales like the rest of the app. `promptpix mcp` (cli/mcp.py)
bridges stdio clients to this endpoint.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote

import msgspec
from litestar import Request, asgi
from litestar.types import Receive, Scope, Send
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import AnyUrl

from delivery.access.keys import authenticate_secret_key
from delivery.access.links import default_link_key, sign_link
from delivery.access.signing import Keyring
from delivery.assets.embeddings import semantic_search
from delivery.assets.uploads import upload_asset
from delivery.db.api_keys import ApiKey
from delivery.db.asset_names import check_name, get_named_asset, set_name
from delivery.db.assets import Asset, AssetFilter, get_live_assets, get_project_asset, list_assets
from delivery.db.assets import search_assets as find_assets
from delivery.db.billing import get_account, usage
from delivery.db.jobs import Job, JobStatus, get_job, job_candidates
from delivery.db.presets import project_presets
from delivery.db.projects import Project, get_project
from delivery.db.reads import Fresh
from delivery.db.styles import list_styles
from delivery.errors import (
    InvalidParam,
    MessageTooLarge,
    MissingScope,
    OtherProject,
    ServiceError,
    UnknownAsset,
    UnknownBillingAccount,
    UnknownJob,
    UnknownName,
    UnknownProject,
    public_error,
)
from delivery.http.api.views import AssetView, FocalPointView, asset_views
from delivery.images.params import GENERATE_NAMES, MAX_EXP, canonical_query, parse_generate, parse_transform
from delivery.images.presets import names_project_preset, project_transform
from delivery.images.urls import preset_queries
from delivery.jobs import cancel_job, submit_job
from delivery.prompts.orders import GenerationOrder, generate_for_api
from delivery.services import Services
from generation import GenerationError

__all__ = ["PRINCIPAL_SCOPE_KEY", "McpEndpoint", "mcp_server"]

log = logging.getLogger("promptpix.mcp")

PRINCIPAL_SCOPE_KEY = "promptpix.mcp.principal"
"""Where the authenticated caller waits in the ASGI scope for the tool handlers (which see the request)."""

_SRCSET_SRC_WIDTH = 1280
"""`src` of the `<img>` tag: wide enough for most layouts, for browsers that ignore `srcset`."""


class Caller(msgspec.Struct, frozen=True):
    key: ApiKey
    project: Project
    services: Services
    keyring: Keyring

    def need(self, scope: str) -> None:
        if scope not in self.key.scopes:
            raise MissingScope(f"this key lacks the `{scope}` scope")


# Tool inputs: msgspec Structs, whose JSON schema is the tool's input schema.

Fit = Literal["clip", "crop", "max", "min", "fill", "scale"]
Format = Literal["avif", "webp", "jpg", "png"]


class GenerateImageArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    prompt: Annotated[str, msgspec.Meta(min_length=1, description="What to draw; `@name` uses a project image as a reference")]
    project: Annotated[str, msgspec.Meta(description="The key's project slug (optional; another project is refused)")] | None = None
    style: Annotated[str, msgspec.Meta(description="A project style (see list_styles); absent: the project's default")] | None = None
    aspect: Annotated[str, msgspec.Meta(description="Aspect ratio W:H, e.g. 16:9; snapped to the nearest supported one")] | None = None
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1, description="Another seed draws another image for the same prompt")] | None = None
    name: Annotated[str, msgspec.Meta(description="Point @name at the result, to find or reference it later")] | None = None
    wait: Annotated[bool, msgspec.Meta(description="False: answer at once with a job (see get_job) instead of the image; a worker draws it")] = True
    count: Annotated[int, msgspec.Meta(ge=1, le=4, description="Candidates to draw, each its own image and charge (above 1 only with wait false)")] = 1


class ImageUrlArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    asset: Annotated[str, msgspec.Meta(description="An asset id (give exactly one of asset, name, prompt)")] | None = None
    name: Annotated[str, msgspec.Meta(description="An asset @name, without the @; the URL follows the name when it moves")] | None = None
    prompt: Annotated[str, msgspec.Meta(description="A prompt: a /g/ link that generates on first view")] | None = None
    w: Annotated[int, msgspec.Meta(ge=1, le=8192, description="Width in CSS pixels")] | None = None
    h: Annotated[int, msgspec.Meta(ge=1, le=8192, description="Height in CSS pixels")] | None = None
    fit: Annotated[Fit, msgspec.Meta(description="clip (default: fit inside w×h), crop (cover w×h, cut around the focal point), max, min, fill or scale")] | None = None
    format: Annotated[Format, msgspec.Meta(description="Output format; absent: the source's")] | None = None
    params: Annotated[dict[str, str], msgspec.Meta(description="Any other URL parameter (q, dpr, ar, crop, fp-x, fp-y, auto, blur, bg, preset, style, seed)")] = {}
    signed: Annotated[bool, msgspec.Meta(description="Sign a prompt link even when the project accepts unsigned ones")] = False
    expires: Annotated[int, msgspec.Meta(ge=1, le=MAX_EXP, description="Seconds a signed prompt link stays valid; absent: forever")] | None = None


class SearchAssetsArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    query: (
        Annotated[str, msgspec.Meta(max_length=500, description='Search (words, "phrases", or, -word) over alt text, tags, prompts, names, and by meaning; best first')]
        | None
    ) = None
    tag: Annotated[str, msgspec.Meta(description="Only images with this tag")] | None = None
    name: Annotated[str, msgspec.Meta(description="Only the image this @name points at (without the @)")] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=200, description="At most this many, newest first")] = 20


class GetAssetArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(description="Asset id (32 hex characters)")]


class NameAssetArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(description="Asset id")]
    name: Annotated[str, msgspec.Meta(description="a-z, 0-9, _ and -; moves the name if another image had it")]


class UploadImageArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    image: Annotated[str, msgspec.Meta(description="The image as base64 or a data: URL (the stdio server also takes http(s) URLs and file paths)")]
    name: Annotated[str, msgspec.Meta(description="Point @name at the upload")] | None = None


class JobArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(description="Job id (job_…), as generate_image with wait false returned it")]


class NoArgs(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


# Tool outputs.


class Img(msgspec.Struct, frozen=True):
    html: str
    """A ready `<img>` element: src, srcset, sizes, width, height, alt, lazy loading."""
    src: str
    srcset: str
    sizes: str
    alt: str


class ImageInfo(msgspec.Struct, frozen=True):
    asset_id: str
    url: str
    """Permanent: `/i/{id}` never changes what it shows."""
    img: Img
    width: int
    height: int
    focal_point: FocalPointView
    alt_text: str
    names: list[str]
    prompt: str | None
    created_at: dt.datetime


class JobInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    status: JobStatus
    """queued · running · succeeded · failed · cancelled."""
    stage: str
    """What the worker does now (`generating candidate 2 of 3`), else the status."""
    count: int
    asset_ids: list[str]
    """One per finished candidate, in candidate order."""
    images: list[ImageInfo]
    """The finished candidates' images, in candidate order."""
    error: str | None
    """Why the job failed: the message the same generation would have answered synchronously."""
    attempts: int
    prompt: str
    created_at: dt.datetime
    finished_at: dt.datetime | None


class GeneratedImage(msgspec.Struct, frozen=True):
    image: ImageInfo | None
    """The image; None when `wait` was false (then `job` says where it is)."""
    generated: bool
    """False when the same generation existed: nothing drawn, nothing charged."""
    cost: int
    """Credits this call charged (with `wait` false: reserved for the candidates to draw, refunded if they fail)."""
    remaining: int | None
    """Generations (free plan) or credits left; None: no limit."""
    link: str | None
    """A signed `/g/` URL that shows the same image."""
    job: JobInfo | None = None
    """With `wait` false: the queued job; poll it with get_job."""


class ImageUrl(msgspec.Struct, frozen=True):
    url: str
    signed: bool
    expires: int | None


class SearchResult(msgspec.Struct, frozen=True):
    items: list[ImageInfo]


class StyleInfo(msgspec.Struct, frozen=True):
    name: str
    prompt: str
    aspect_ratio: str | None
    default: bool


class StyleList(msgspec.Struct, frozen=True):
    styles: list[StyleInfo]


class PresetList(msgspec.Struct, frozen=True):
    presets: dict[str, str]
    """Preset name -> the URL query it expands to."""


class UsageInfo(msgspec.Struct, frozen=True):
    plan: str
    remaining: int | None
    low: bool
    generations_this_month: int
    credits_this_month: int
    price: int
    """Credits one new generation costs."""


def img_tag(view: AssetView, alt: str) -> Img:
    """`<img>` with every width up to the master's in `srcset`, sized like the master (never upscaled)."""
    original = view.urls.original
    src = f"{original}?w={_SRCSET_SRC_WIDTH}" if view.width > _SRCSET_SRC_WIDTH else original
    sizes = f"(max-width: {view.width}px) 100vw, {view.width}px"
    attrs = {
        "src": src,
        "srcset": view.urls.srcset,
        "sizes": sizes,
        "width": str(view.width),
        "height": str(view.height),
        "alt": alt,
        "loading": "lazy",
        "decoding": "async",
    }
    element = "<img " + " ".join(f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items()) + ">"
    return Img(html=element, src=src, srcset=view.urls.srcset, sizes=sizes, alt=alt)


def _info(view: AssetView) -> ImageInfo:
    alt = view.alt_text or view.prompt or ""
    return ImageInfo(
        asset_id=view.id,
        url=view.urls.original,
        img=img_tag(view, alt),
        width=view.width,
        height=view.height,
        focal_point=view.focal_point,
        alt_text=alt,
        names=view.names,
        prompt=view.prompt,
        created_at=view.created_at,
    )


async def _views(caller: Caller, assets: list[Asset]) -> list[ImageInfo]:
    services = caller.services
    async with services.pool.acquire() as conn:
        views = await asset_views(conn, services.settings.resolved_public_url, caller.project.id, assets)
    return [_info(v) for v in views]


# Tools.


async def _job_info(caller: Caller, job: Job) -> JobInfo:
    async with caller.services.pool.acquire() as conn:
        found = await get_live_assets(conn, project_id=caller.project.id, ids=job.asset_ids)
    images = await _views(caller, [found[i] for i in job.asset_ids if i in found])  # a candidate deleted since is left out
    return JobInfo(
        id=job.id, status=job.status, stage=job.stage, count=job.count, asset_ids=job.asset_ids, images=images, error=job.error,
        attempts=job.attempts, prompt=str(job.request.get("prompt", "")), created_at=job.created_at, finished_at=job.finished_at,
    )  # fmt: skip


async def _submit(caller: Caller, order: GenerationOrder) -> GeneratedImage:
    """`POST /v1/generations` with `"wait": false`: reserve and queue, answer with the job."""
    services = caller.services
    job = await submit_job(services, caller.project, caller.key, order)
    async with services.pool.acquire() as conn:
        reserved = sum(1 for g in await job_candidates(conn, job_id=job.id) if g is not None)  # an existing asset reserves nothing
        account = await get_account(conn, organization_id=caller.project.organization_id, now=dt.datetime.now(dt.UTC))
    cost = services.settings.generation_price * reserved
    info = await _job_info(caller, job)
    return GeneratedImage(image=None, generated=False, cost=cost, remaining=account.remaining if account else None, link=None, job=info)


async def generate_image(caller: Caller, args: GenerateImageArgs) -> GeneratedImage:
    caller.need("generate")
    if args.project is not None and args.project != caller.project.slug:
        raise OtherProject()
    order = GenerationOrder(
        prompt=args.prompt, style=args.style, aspect_ratio=args.aspect, seed=args.seed, name=args.name, wait=args.wait, count=args.count
    )
    if not args.wait:
        return await _submit(caller, order)
    if args.count > 1:
        raise InvalidParam("`count` above 1 makes a job: send it with `wait` false")
    services = caller.services
    made = await generate_for_api(services, caller.keyring, caller.project, caller.key, order)
    [info] = await _views(caller, [made.asset])
    async with services.pool.acquire() as conn:
        account = await get_account(conn, organization_id=caller.project.organization_id, now=dt.datetime.now(dt.UTC))
    cost = services.settings.generation_price if made.generated else 0
    return GeneratedImage(image=info, generated=made.generated, cost=cost, remaining=account.remaining if account else None, link=made.link)


def _transform_query(args: ImageUrlArgs) -> dict[str, str]:
    typed = {"w": args.w, "h": args.h, "fit": args.fit, "fm": args.format}
    query = {k: str(v) for k, v in typed.items() if v is not None}
    for k, v in args.params.items():
        if k in query and query[k] != v:
            raise InvalidParam(f"`{k}` is given twice")
        query[k] = v
    return query


async def image_url(caller: Caller, args: ImageUrlArgs) -> ImageUrl:
    given = [x for x in (args.asset, args.name, args.prompt) if x is not None]
    if len(given) != 1:
        raise InvalidParam("give exactly one of `asset`, `name` and `prompt`")
    services, project = caller.services, caller.project
    base = services.settings.resolved_public_url
    query = _transform_query(args)
    if args.prompt is None:
        caller.need("assets:read")
        if args.expires is not None or args.signed:
            raise InvalidParam("`/i/` URLs need no signature: `signed` and `expires` apply to prompt links")
        async with services.pool.acquire() as conn:
            params = (
                await project_transform(Fresh(conn), project.id, query) if names_project_preset(query) else parse_transform(query)
            )  # spelled out, so the URL never changes meaning (docs/api.md)
            if args.asset is not None:
                if await get_project_asset(conn, project_id=project.id, id=args.asset) is None:
                    raise UnknownAsset()
                path = f"/i/{args.asset}"
            else:
                assert args.name is not None
                if await get_named_asset(conn, project_id=project.id, name=args.name) is None:
                    raise UnknownName(f"no asset is named @{args.name}")
                path = f"/i/{project.slug}/@{args.name}"
        canonical = canonical_query(params)
        return ImageUrl(url=base + path + (f"?{canonical}" if canonical else ""), signed=False, expires=None)
    caller.need("generate")
    query = {**{k: v for k, v in query.items() if k not in ("key", "sig", "exp")}, "prompt": args.prompt}
    async with services.pool.acquire() as conn:
        if names_project_preset(query):
            await project_transform(Fresh(conn), project.id, query, allowed_extra=GENERATE_NAMES)
        else:
            parse_transform(query, allowed_extra=GENERATE_NAMES)  # refuse a link that could only ever be a 400
        parse_generate(query, max_prompt_chars=services.settings.max_prompt_chars)
        now = dt.datetime.now(dt.UTC)
        key = await default_link_key(conn, project=project, now=now)
        if args.signed or args.expires is not None or not project.allow_unsigned:
            expires = int(now.timestamp()) + args.expires if args.expires else None
            path = await sign_link(conn, caller.keyring, project=project, key=key, params=query, expires=expires, now=now)
            return ImageUrl(url=base + path, signed=True, expires=expires)
    pairs = sorted({**query, "key": key.id}.items())
    body = "&".join(f"{quote(k, safe='-._~')}={quote(v, safe='-._~')}" for k, v in pairs)
    return ImageUrl(url=f"{base}/g/{project.slug}?{body}", signed=False, expires=None)


async def search_assets(caller: Caller, args: SearchAssetsArgs) -> SearchResult:
    caller.need("assets:read")
    if any("\x00" in (v or "") for v in (args.query, args.tag, args.name)):  # PostgreSQL text cannot hold NUL
        raise InvalidParam("search terms must not contain NUL characters")
    where = AssetFilter(name=args.name, tag=args.tag)
    services = caller.services
    semantic = await semantic_search(services.settings, services.embeddings, args.query) if args.query and args.query.strip() else None
    async with services.pool.acquire() as conn:
        if args.query and args.query.strip():  # the same search as `q` on GET /v1/assets
            language = services.settings.search_language
            ranked = await find_assets(
                conn, project_id=caller.project.id, where=where, query=args.query, language=language, limit=args.limit, semantic=semantic
            )
            found = [asset for asset, _ in ranked]
        else:
            found = await list_assets(conn, project_id=caller.project.id, where=where, limit=args.limit)
    return SearchResult(items=await _views(caller, found))


async def get_asset(caller: Caller, args: GetAssetArgs) -> ImageInfo:
    caller.need("assets:read")
    async with caller.services.pool.acquire() as conn:
        asset = await get_project_asset(conn, project_id=caller.project.id, id=args.id)
    if asset is None:
        raise UnknownAsset()
    [info] = await _views(caller, [asset])
    return info


async def name_asset(caller: Caller, args: NameAssetArgs) -> ImageInfo:
    caller.need("assets:write")
    check_name(args.name)
    async with caller.services.pool.acquire() as conn:
        if await set_name(conn, project_id=caller.project.id, name=args.name, asset_id=args.id) is None:
            raise UnknownAsset("asset not found in this project")
        asset = await get_project_asset(conn, project_id=caller.project.id, id=args.id)
    if asset is None:  # deleted in between
        raise UnknownAsset()
    [info] = await _views(caller, [asset])
    return info


def decode_image_argument(image: str, *, max_bytes: int) -> bytes:
    """Base64 (standard or URL-safe, padded or not) or a `data:` URL; never a fetch from the server."""
    text = image.strip()
    if text.startswith(("http://", "https://")):
        raise InvalidParam("this server does not fetch URLs: pass the image as base64 (`promptpix mcp` fetches URLs for you)")
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep or not header.endswith(";base64"):
            raise InvalidParam("`image` as a data: URL must be base64 (data:image/png;base64,…)")
    if len(text) > (max_bytes * 4) // 3 + 4:
        raise InvalidParam(f"`image` is larger than {max_bytes} bytes")
    compact = "".join(text.split()).replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParam("`image` is neither base64 nor a data: URL") from None


async def upload_image(caller: Caller, args: UploadImageArgs) -> ImageInfo:
    caller.need("assets:write")
    data = decode_image_argument(args.image, max_bytes=caller.services.settings.max_source_bytes)
    asset = await upload_asset(caller.services, caller.project, data, name=args.name)
    [info] = await _views(caller, [asset])
    return info


async def _styles(caller: Caller) -> StyleList:
    async with caller.services.pool.acquire() as conn:
        styles = await list_styles(conn, project_id=caller.project.id)
        project = await get_project(conn, id=caller.project.id)  # fresh: the default may have changed since
    default = project.default_style if project else None
    return StyleList(styles=[StyleInfo(name=s.name, prompt=s.prompt, aspect_ratio=s.aspect_class, default=s.name == default) for s in styles])


async def list_styles_tool(caller: Caller, args: NoArgs) -> StyleList:
    caller.need("assets:read")
    return await _styles(caller)


async def _presets(caller: Caller) -> PresetList:
    async with caller.services.pool.acquire() as conn:
        own = await project_presets(conn, caller.project.id)
    return PresetList(presets=preset_queries(own))


async def usage_tool(caller: Caller, args: NoArgs) -> UsageInfo:
    caller.need("billing:read")
    now = dt.datetime.now(dt.UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    organization_id = caller.project.organization_id
    async with caller.services.pool.acquire() as conn:
        account = await get_account(conn, organization_id=organization_id, now=now)
        rows = await usage(conn, by="month", organization_id=organization_id, since=month, until=now + dt.timedelta(days=1))
    if account is None:
        raise UnknownBillingAccount()
    return UsageInfo(
        plan=account.plan,
        remaining=account.remaining,
        low=account.low,
        generations_this_month=sum(r.generations for r in rows),
        credits_this_month=sum(r.credits for r in rows),
        price=caller.services.settings.generation_price,
    )


async def get_job_tool(caller: Caller, args: JobArgs) -> JobInfo:
    caller.need("generate")  # as `GET /v1/jobs/{id}`
    async with caller.services.pool.acquire() as conn:
        job = await get_job(conn, id=args.id, project_id=caller.project.id)
    if job is None:
        raise UnknownJob()
    return await _job_info(caller, job)


async def cancel_job_tool(caller: Caller, args: JobArgs) -> JobInfo:
    caller.need("generate")
    return await _job_info(caller, await cancel_job(caller.services, caller.project, args.id))


class Tool(msgspec.Struct, frozen=True):
    name: str
    description: str
    args: type[msgspec.Struct]
    output: type[msgspec.Struct]
    run: Callable[[Caller, Any], Awaitable[msgspec.Struct]]
    read_only: bool


TOOLS = [
    Tool(
        "generate_image",
        "Generate an image from a prompt (or find the identical one) and get its permanent URL and a ready <img> tag;"
        " with wait false, queue it (count: up to 4 candidates) and get a job to poll with get_job.",
        GenerateImageArgs,
        GeneratedImage,
        generate_image,
        read_only=False,
    ),
    Tool(
        "image_url",
        "Get a URL for an image (by asset id, @name or prompt) resized, cropped or converted; prompt links are signed when needed.",
        ImageUrlArgs,
        ImageUrl,
        image_url,
        read_only=True,
    ),
    Tool(
        "search_assets",
        "Find the project's images by words in their prompt, alt text, tags or names, newest first.",
        SearchAssetsArgs,
        SearchResult,
        search_assets,
        read_only=True,
    ),
    Tool("get_asset", "Get one image by id: URL, <img> tag, size, focal point, names and prompt.", GetAssetArgs, ImageInfo, get_asset, read_only=True),
    Tool("name_asset", "Give an image an @name so prompts can reference it and pages can use /i/{project}/@name.", NameAssetArgs, ImageInfo, name_asset, read_only=False),
    Tool("upload_image", "Upload an image (base64 or data: URL) into the project, optionally naming it.", UploadImageArgs, ImageInfo, upload_image, read_only=False),
    Tool("list_styles", "List the project's styles (named prompt additions) to pass as `style` to generate_image.", NoArgs, StyleList, list_styles_tool, read_only=True),
    Tool(
        "get_job",
        "Get a generation job queued by generate_image (wait false): status, progress, error, and its finished images with <img> tags.",
        JobArgs,
        JobInfo,
        get_job_tool,
        read_only=True,
    ),
    Tool("cancel_job", "Cancel a job no worker has started yet; its reserved credits are refunded.", JobArgs, JobInfo, cancel_job_tool, read_only=False),
    Tool("usage", "Show the plan, the generations or credits left, this month's usage and the price of one generation.", NoArgs, UsageInfo, usage_tool, read_only=True),
]
_BY_NAME = {t.name: t for t in TOOLS}

RESOURCES = {
    "promptpix://project/styles": ("styles", "The project's styles: name, prompt additions, aspect, default", _styles, "assets:read"),
    "promptpix://project/presets": ("presets", "Preset name -> URL query (built-in and the project's own)", _presets, "assets:read"),
}


def _schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """The Struct's JSON schema with its definitions inline (MCP wants an object schema at the top)."""
    (ref,), components = msgspec.json.schema_components([struct], ref_template="#/$defs/{name}")
    name = ref["$ref"].rsplit("/", 1)[1]
    top = dict(components.pop(name))
    if components:
        top["$defs"] = components
    return top


def _caller() -> Caller:
    context = _SERVER.request_context
    request = context.request
    caller = request.scope.get(PRINCIPAL_SCOPE_KEY) if request is not None else None
    if not isinstance(caller, Caller):  # only the authenticated ASGI endpoint below runs this server
        raise RuntimeError("MCP request without an authenticated caller")
    return caller


def _error(exc: ServiceError | GenerationError) -> types.CallToolResult:
    public = public_error(exc)
    problem = {"status": public.status, "title": public.title, "detail": public.message}
    if public.retry_after is not None:
        problem["retry_after"] = public.retry_after
    return types.CallToolResult(content=[types.TextContent(type="text", text=public.message)], structuredContent=problem, isError=True)


_SERVER: Server[Any, Any] = Server(
    "promptpix",
    instructions=(
        "promptpix makes and serves images. generate_image returns a permanent URL and an <img> tag to paste into a page; "
        "image_url gives resized or cropped URLs; search_assets finds earlier images; "
        "generate_image with wait false queues a job (several candidates with count) that get_job follows."
    ),
)


@_SERVER.list_tools()
async def _list_tools() -> list[types.Tool]:
    return [
        types.Tool(
            name=t.name,
            description=t.description,
            inputSchema=_schema(t.args),
            outputSchema=_schema(t.output),
            annotations=types.ToolAnnotations(readOnlyHint=t.read_only, openWorldHint=False),
        )
        for t in TOOLS
    ]


@_SERVER.call_tool()
async def _call_tool(name: str, arguments: dict[str, Any]) -> dict[str, Any] | types.CallToolResult:
    tool = _BY_NAME.get(name)
    if tool is None:
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"unknown tool `{name}`")], isError=True)
    try:
        args = msgspec.convert(arguments, type=tool.args)
    except msgspec.ValidationError as exc:
        return _error(InvalidParam(f"invalid arguments: {exc}"))
    try:
        result = await tool.run(_caller(), args)
    except (ServiceError, GenerationError) as exc:
        return _error(exc)
    except Exception:  # the SDK would show the exception's text: keep internals in the log, as app.py does for HTTP
        log.exception("unhandled error in MCP tool", extra={"tool": name})
        problem = {"status": 500, "title": "Internal Server Error", "detail": "internal error"}
        return types.CallToolResult(content=[types.TextContent(type="text", text="internal error")], structuredContent=problem, isError=True)
    built: dict[str, Any] = msgspec.to_builtins(result)
    return built


@_SERVER.list_resources()
async def _list_resources() -> list[types.Resource]:
    return [types.Resource(uri=AnyUrl(uri), name=name, description=description, mimeType="application/json") for uri, (name, description, _, _) in RESOURCES.items()]


@_SERVER.read_resource()
async def _read_resource(uri: AnyUrl) -> str:
    entry = RESOURCES.get(str(uri))
    if entry is None:
        raise ValueError(f"unknown resource {uri}")
    _, _, read, scope = entry
    caller = _caller()
    try:
        caller.need(scope)
        found = await read(caller)
    except ServiceError as exc:
        raise ValueError(exc.message) from exc
    return msgspec.json.encode(found).decode()


def mcp_server() -> Server[Any, Any]:
    return _SERVER


def message_limit(max_source_bytes: int) -> int:
    """The largest `/mcp` body: an upload of the largest allowed source in base64, plus room for the JSON around it."""
    return max_source_bytes * 4 // 3 + (1 << 20)


def bounded(receive: Receive, limit: int) -> Receive:
    """`receive` that refuses a body growing past `limit` (a chunked body has no Content-Length to check first)."""
    seen = 0

    async def read() -> Any:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise MessageTooLarge(f"the MCP message is larger than {limit} bytes")
        return message

    return read


class McpEndpoint:
    """The session manager of one app; `run()` belongs in the app's lifespan."""

    def __init__(self) -> None:
        # Stateless with JSON answers: no session lives in a process, so any worker answers any request.
        self.manager = StreamableHTTPSessionManager(app=_SERVER, json_response=True, stateless=True)

    def handler(self) -> Any:
        manager = self.manager

        @asgi("/mcp", is_mount=True, copy_scope=True)
        async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            request: Request[Any, Any, Any] = Request(scope, receive)
            services: Services = request.app.state.services
            limit = message_limit(services.settings.max_source_bytes)
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                raise MessageTooLarge(f"the MCP message is larger than {limit} bytes")
            async with services.pool.acquire() as conn:
                key = await authenticate_secret_key(conn, authorization=request.headers.get("authorization"), now=dt.datetime.now(dt.UTC))
                project = await get_project(conn, id=key.project_id)
            if project is None:
                raise UnknownProject()
            caller = Caller(key=key, project=project, services=services, keyring=request.app.state.keyring)
            scope[PRINCIPAL_SCOPE_KEY] = caller  # type: ignore[literal-required]  # our own key in the scope dict, read back by _caller
            await manager.handle_request(scope, bounded(receive, limit), send)  # type: ignore[arg-type]  # Litestar's and Starlette's ASGI types are the same dicts

        return mcp_endpoint
