"""`/v1/names`: a project's `@name` aliases — `@logo` in prompts, `/i/{project}/@logo` in pages."""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Request, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from delivery.db.asset_names import AssetName, delete_name, list_names, set_name
from delivery.errors import UnknownAsset, UnknownName
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.services import Services

__all__ = ["list_project_names", "put_name", "remove_name"]


class NameTarget(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    asset_id: str


class NameView(msgspec.Struct, frozen=True):
    name: str
    asset_id: str
    updated_at: dt.datetime
    url: str
    """`/i/{project}/@{name}`: follows the name when it moves."""


def _view(services: Services, slug: str, name: AssetName) -> NameView:
    url = f"{services.settings.resolved_public_url}/i/{slug}/@{name.name}"
    return NameView(name=name.name, asset_id=name.asset_id, updated_at=name.updated_at, url=url)


@get("/names", opt={"scope": "assets:read"}, summary="Every name of the project", responses=problems())
async def list_project_names(request: Request, principal: NamedDependency[Principal]) -> list[NameView]:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        names = await list_names(conn, project_id=principal.project.id)
    return [_view(services, principal.project.slug, n) for n in names]


@put("/names/{name:str}", opt={"scope": "assets:write"}, summary="Point a name at an asset", responses=problems(404, 422))
async def put_name(request: Request, principal: NamedDependency[Principal], name: FromPath[str], data: JSONBody[NameTarget]) -> NameView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        named = await set_name(conn, project_id=principal.project.id, name=name, asset_id=data.asset_id)
    if named is None:
        raise UnknownAsset("asset not found in this project")
    return _view(services, principal.project.slug, named)


@delete("/names/{name:str}", opt={"scope": "assets:write"}, summary="Remove a name (the asset stays)", responses=problems(404))
async def remove_name(request: Request, principal: NamedDependency[Principal], name: FromPath[str]) -> None:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        if not await delete_name(conn, project_id=principal.project.id, name=name):
            raise UnknownName(f"no asset is named @{name}")
