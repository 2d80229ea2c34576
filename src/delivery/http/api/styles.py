"""`/v1/styles`: a project's named styles (prompt additions, default aspect) and its default style."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import Request, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from delivery.db.styles import Style, delete_style, get_style, list_styles
from delivery.errors import UnknownStyle
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.prompts.styles import MAX_STYLE_PROMPT, default_style, save_style
from delivery.services import Services

__all__ = ["list_project_styles", "read_style", "remove_style", "write_style"]


class StyleBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    prompt: Annotated[str, msgspec.Meta(max_length=MAX_STYLE_PROMPT)] = ""
    """Added to every prompt that uses the style."""
    aspect_ratio: str | None = None
    """One of the generation aspects (1:1, 16:9, …): the master's shape when a request gives none."""
    default: bool = False
    """Make this the project's default style (false: stop being it)."""


class StyleView(msgspec.Struct, frozen=True):
    name: str
    prompt: str
    aspect_ratio: str | None
    default: bool
    created_at: dt.datetime
    updated_at: dt.datetime


def _view(style: Style, default: str | None) -> StyleView:
    return StyleView(
        name=style.name,
        prompt=style.prompt,
        aspect_ratio=style.aspect_class,
        default=style.name == default,
        created_at=style.created_at,
        updated_at=style.updated_at,
    )


@get("/styles", opt={"scope": "assets:read"}, summary="Every style of the project", responses=problems())
async def list_project_styles(request: Request, principal: NamedDependency[Principal]) -> list[StyleView]:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        default = await default_style(conn, principal.project.id)
        return [_view(s, default) for s in await list_styles(conn, project_id=principal.project.id)]


@get("/styles/{name:str}", opt={"scope": "assets:read"}, summary="A style", responses=problems(404))
async def read_style(request: Request, principal: NamedDependency[Principal], name: FromPath[str]) -> StyleView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        style = await get_style(conn, project_id=principal.project.id, name=name)
        if style is None:
            raise UnknownStyle(f"no style is named `{name}`")
        return _view(style, await default_style(conn, principal.project.id))


@put(
    "/styles/{name:str}",
    opt={"scope": "assets:write"},
    summary="Create or edit a style (editing its prompt makes new images for links that use it)",
    responses=problems(422),
)
async def write_style(request: Request, principal: NamedDependency[Principal], name: FromPath[str], data: JSONBody[StyleBody]) -> StyleView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        style = await save_style(conn, project_id=principal.project.id, name=name, prompt=data.prompt, aspect_ratio=data.aspect_ratio, default=data.default)
    return _view(style, name if data.default else None)


@delete("/styles/{name:str}", opt={"scope": "assets:write"}, summary="Delete a style (and clear it as the default)", responses=problems(404))
async def remove_style(request: Request, principal: NamedDependency[Principal], name: FromPath[str]) -> None:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        if not await delete_style(conn, project_id=principal.project.id, name=name):
            raise UnknownStyle(f"no style is named `{name}`")
