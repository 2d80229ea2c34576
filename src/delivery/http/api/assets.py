"""`/v1/assets`: upload, list (keyset pages with filters), read, edit, soft-delete and restore a project's assets."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, JSONBody, QueryParameter

from delivery.access.idempotency import fingerprint, idempotent
from delivery.assets.embeddings import semantic_search
from delivery.assets.uploads import reanalyse_asset, upload_asset
from delivery.db.asset_names import check_name, set_name
from delivery.db.assets import (
    Asset,
    AssetFilter,
    delete_asset,
    get_project_asset,
    list_assets,
    restore_project_asset,
    search_assets,
    update_asset,
)
from delivery.db.embeddings import has_embedding, similar_assets
from delivery.errors import InvalidCursor, InvalidParam, NoEmbedding, UnknownAsset
from delivery.http.api.headers import IdempotencyKey
from delivery.http.api.principal import Principal
from delivery.http.api.views import AssetView, FocalPointView, asset_views
from delivery.http.openapi import problems
from delivery.images.variants import forget_asset
from delivery.services import Services

__all__ = [
    "analyze_asset",
    "delete_one_asset",
    "edit_asset",
    "list_project_assets",
    "read_asset",
    "restore_one_asset",
    "similar_to_asset",
    "upload",
]

_READ, _WRITE = {"scope": "assets:read"}, {"scope": "assets:write"}


class UploadForm(msgspec.Struct, frozen=True, kw_only=True):
    """`multipart/form-data`: the image, and optionally a name and alt text."""

    file: UploadFile
    name: str | None = None
    """Point `@name` at the upload."""
    alt_text: str | None = None


class AssetPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    focal_point: FocalPointView | None = None
    """Crops made from now on centre here (already cached variants keep their crop)."""
    alt_text: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    name: str | None = None
    """Point `@name` at this asset (moving the name if another asset had it)."""
    tags: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]], msgspec.Meta(max_length=50)] | None = None
    """Replace the asset's tags."""


class AssetPage(msgspec.Struct, frozen=True):
    items: list[AssetView]
    next_cursor: str | None
    """Pass as `cursor` for the next page; None on the last page."""


def _cursor(asset: Asset) -> str:
    raw = msgspec.json.encode([asset.created_at.isoformat(), asset.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if cursor is None:
        return None
    try:
        created, asset_id = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)), type=tuple[str, str])
        return dt.datetime.fromisoformat(created), asset_id
    except (ValueError, binascii.Error, msgspec.DecodeError):
        raise InvalidCursor() from None


async def _view(services: Services, project_id: int, asset: Asset) -> AssetView:
    async with services.pool.acquire() as conn:
        [view] = await asset_views(conn, services.settings.resolved_public_url, project_id, [asset])
    return view


@post(
    "/assets",
    opt=_WRITE,
    summary="Upload an image (multipart field `file`); its focal point is analysed",
    responses=problems(409, 413, 415, 422),
)
async def upload(
    request: Request,
    principal: NamedDependency[Principal],
    data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    idempotency_key: IdempotencyKey = None,
) -> Response[AssetView]:
    services: Services = request.app.state.services
    project = principal.project
    content = await data.file.read()

    async def run() -> AssetView:
        asset = await upload_asset(services, project, content, name=data.name)
        if data.alt_text is not None:
            async with services.pool.acquire() as conn:
                described = await update_asset(conn, project_id=project.id, id=asset.id, alt_text=data.alt_text)
            if described is None:  # deleted by another request in between
                raise UnknownAsset()
            asset = described
            services.embeddings.submit(asset.id, project.id)  # the given alt text is part of what is embedded
        return await _view(services, project.id, asset)

    print_ = fingerprint("POST", "/v1/assets", hashlib.sha256(content).hexdigest(), data.name, data.alt_text)
    result: Any = await idempotent(services, project_id=project.id, key=idempotency_key, fingerprint=print_, run=run)
    return result


_LIST_PARAMS = frozenset({"limit", "cursor", "name", "tag", "source", "flow", "parent", "q"})


_HYBRID = "hybrid"


def _search_cursor(asset: Asset, rank: float, hybrid: bool) -> str:
    raw = msgspec.json.encode([rank, asset.created_at.isoformat(), asset.id, *([_HYBRID] if hybrid else [])])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _search_after(cursor: str | None) -> tuple[tuple[float, dt.datetime, str] | None, bool | None]:
    """A search page's cursor also holds the last item's rank (results are best first) and whether the ranking
    was fused with semantic search (the next pages must rank the same way); (None, None) for a first page."""
    if cursor is None:
        return None, None
    try:
        fields = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)), type=list[float | str])
        match fields:
            case [float() as rank, str() as created, str() as asset_id, *mode] if mode in ([], [_HYBRID]):
                return (float(rank), dt.datetime.fromisoformat(created), asset_id), bool(mode)
        raise ValueError("not a search cursor")
    except (ValueError, binascii.Error, msgspec.DecodeError):
        raise InvalidCursor() from None


@get("/assets", opt=_READ, summary="List assets, newest first (best match first with `q`), one page at a time", responses=problems())
async def list_project_assets(
    request: Request,
    principal: NamedDependency[Principal],
    limit: Annotated[int | None, QueryParameter(ge=1, le=200, description="items per page")] = None,
    cursor: Annotated[str | None, QueryParameter(description="`next_cursor` of the previous page")] = None,
    name: Annotated[str | None, QueryParameter(description="only the asset `@name` points at")] = None,
    tag: Annotated[str | None, QueryParameter(description="only assets with this tag")] = None,
    source: FromQuery[Literal["generated", "uploaded"] | None] = None,
    flow: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1, description="only steps of this flow")] = None,
    parent: Annotated[
        str | None, QueryParameter(pattern=r"^[0-9a-f]{32}$", description="only the derived masters of this root or upload (its id)")
    ] = None,
    q: Annotated[
        str | None,
        QueryParameter(
            max_length=500,
            description='search (web syntax: words, "phrases", `or`, `-word`) over alt text, tags, prompt, enhanced prompt and names,'
            " fused with semantic search when embeddings are on; best match first",
        ),
    ] = None,
) -> AssetPage:
    services: Services = request.app.state.services
    unknown = sorted(set(request.query_params) - _LIST_PARAMS)
    if unknown:  # a misspelt filter would otherwise return everything
        raise InvalidParam(f"unknown parameter `{unknown[0]}`; a list takes {', '.join(sorted(_LIST_PARAMS))}")
    size = limit or services.settings.api_page_size
    if q is not None and "\x00" in q:  # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the query
        raise InvalidParam("`q` must not contain NUL characters")
    where = AssetFilter(name=name, tag=tag, source=source, flow_id=flow, parent_id=parent)
    searching = q is not None and q.strip()
    after, hybrid = _search_after(cursor) if searching else (None, None)
    semantic = await semantic_search(services.settings, services.embeddings, q, hybrid=hybrid) if q and searching else None
    async with services.pool.acquire() as conn:
        if q and searching:
            ranked = await search_assets(
                conn,
                project_id=principal.project.id,
                where=where,
                query=q,
                language=services.settings.search_language,
                limit=size + 1,
                after=after,
                semantic=semantic,
            )
            found = [asset for asset, _ in ranked]
            next_cursor = _search_cursor(*ranked[size - 1], semantic is not None) if len(ranked) > size else None
        else:
            found = await list_assets(conn, project_id=principal.project.id, where=where, limit=size + 1, after=_after(cursor))
            next_cursor = _cursor(found[size - 1]) if len(found) > size else None
        views = await asset_views(conn, services.settings.resolved_public_url, principal.project.id, found[:size])
    return AssetPage(items=views, next_cursor=next_cursor)


@get("/assets/{asset_id:str}", opt=_READ, summary="An asset and its URLs", responses=problems(404))
async def read_asset(request: Request, principal: NamedDependency[Principal], asset_id: FromPath[str]) -> AssetView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        asset = await get_project_asset(conn, project_id=principal.project.id, id=asset_id)
    if asset is None:
        raise UnknownAsset()
    return await _view(services, principal.project.id, asset)


@patch("/assets/{asset_id:str}", opt=_WRITE, summary="Set an asset's focal point, alt text, tags or name", responses=problems(404, 422))
async def edit_asset(
    request: Request, principal: NamedDependency[Principal], asset_id: FromPath[str], data: JSONBody[AssetPatch]
) -> AssetView:
    services: Services = request.app.state.services
    project_id = principal.project.id
    if data.name is not None:
        check_name(data.name)
    focal = (data.focal_point.x, data.focal_point.y) if data.focal_point else None
    async with services.pool.acquire() as conn, conn.transaction():
        asset = await update_asset(conn, project_id=project_id, id=asset_id, focal=focal, alt_text=data.alt_text, tags=data.tags)
        if asset is None:
            raise UnknownAsset()
        if data.name is not None and await set_name(conn, project_id=project_id, name=data.name, asset_id=asset.id) is None:
            raise UnknownAsset("asset not found in this project")
    forget_asset(services, asset.id)  # this process at once; the others when the trigger's NOTIFY reaches them
    if data.alt_text is not None or data.tags is not None:
        services.embeddings.submit(asset.id, project_id)  # what describes it changed
    return await _view(services, project_id, asset)


@delete("/assets/{asset_id:str}", opt=_WRITE, summary="Delete an asset (uploading the same file again restores it)", responses=problems(404))
async def delete_one_asset(request: Request, principal: NamedDependency[Principal], asset_id: FromPath[str]) -> None:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        if not await delete_asset(conn, project_id=principal.project.id, id=asset_id):
            raise UnknownAsset()
    forget_asset(services, asset_id)


@post(
    "/assets/{asset_id:str}/restore",
    opt=_WRITE,
    status_code=200,
    summary="Restore a deleted asset (a live one is returned as it is)",
    responses=problems(404),
)
async def restore_one_asset(request: Request, principal: NamedDependency[Principal], asset_id: FromPath[str]) -> AssetView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        asset = await restore_project_asset(conn, project_id=principal.project.id, id=asset_id)
    if asset is None:
        raise UnknownAsset()
    forget_asset(services, asset.id)
    return await _view(services, principal.project.id, asset)


@post(
    "/assets/{asset_id:str}/analyze",
    opt=_WRITE,
    status_code=200,
    summary="Analyse an asset again: alt text, tags and focal point from the vision model (libvips offline)",
    responses=problems(404),
)
async def analyze_asset(request: Request, principal: NamedDependency[Principal], asset_id: FromPath[str]) -> AssetView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        asset = await get_project_asset(conn, project_id=principal.project.id, id=asset_id)
    if asset is None:
        raise UnknownAsset()
    analysed = await reanalyse_asset(services, asset)
    if analysed is None:  # deleted meanwhile
        raise UnknownAsset()
    forget_asset(services, asset.id)
    return await _view(services, principal.project.id, analysed)


class SimilarAsset(msgspec.Struct, frozen=True):
    similarity: float
    """Cosine similarity of the two assets' embeddings, at most 1."""
    asset: AssetView


class SimilarPage(msgspec.Struct, frozen=True):
    items: list[SimilarAsset]
    """Nearest first."""


_SIMILAR_PARAMS = frozenset({"limit"})


@get(
    "/assets/{asset_id:str}/similar",
    opt=_READ,
    summary="The project's assets nearest to this one in meaning (semantic search), nearest first",
    responses=problems(404, 409),
)
async def similar_to_asset(
    request: Request,
    principal: NamedDependency[Principal],
    asset_id: FromPath[str],
    limit: Annotated[int | None, QueryParameter(ge=1, le=200, description="most assets returned")] = None,
) -> SimilarPage:
    services: Services = request.app.state.services
    unknown = sorted(set(request.query_params) - _SIMILAR_PARAMS)
    if unknown:
        raise InvalidParam(f"unknown parameter `{unknown[0]}`; similar takes limit")
    project_id = principal.project.id
    embedder = services.embeddings.embedder
    async with services.pool.acquire() as conn:
        asset = await get_project_asset(conn, project_id=project_id, id=asset_id)
        if asset is None:
            raise UnknownAsset()
        if embedder is None:
            raise NoEmbedding("semantic search is off on this deployment (PROMPTPIX_EMBEDDINGS), so no asset has an embedding")
        if not await has_embedding(conn, asset_id=asset.id, model=embedder.model):
            raise NoEmbedding()
        near = await similar_assets(conn, project_id=project_id, asset_id=asset.id, model=embedder.model, limit=limit or services.settings.api_page_size)
        views = await asset_views(conn, services.settings.resolved_public_url, project_id, [a for a, _ in near])
    return SimilarPage(items=[SimilarAsset(similarity=round(similarity, 6), asset=view) for (_, similarity), view in zip(near, views, strict=True)])
