"""`/v1/presets`: a project's named transform presets, beside the built-ins (whose names are reserved).

A preset is validated and canonicalised by the same parser as URL params, so a
stored preset can never expand into a URL that is a 400.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Request, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from delivery.db.presets import Preset, delete_preset, get_preset, list_presets
from delivery.errors import UnknownPreset
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.images.presets import save_preset
from delivery.images.urls import BUILTIN_PRESET_QUERIES
from delivery.services import Services

__all__ = ["list_project_presets", "read_preset", "remove_preset", "write_preset"]


class PresetBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    params: dict[str, str]
    """Transform params as in URLs, e.g. {"w": "600", "h": "400", "fm": "webp"}."""


class PresetView(msgspec.Struct, frozen=True):
    name: str
    query: str
    """Canonical: what `preset=name` expands to."""
    builtin: bool
    updated_at: dt.datetime | None


def _view(preset: Preset) -> PresetView:
    return PresetView(name=preset.name, query=preset.query, builtin=False, updated_at=preset.updated_at)


@get("/presets", opt={"scope": "assets:read"}, summary="The built-in presets and the project's own", responses=problems())
async def list_project_presets(request: Request, principal: NamedDependency[Principal]) -> list[PresetView]:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        own = {p.name: _view(p) for p in await list_presets(conn, project_id=principal.project.id)}
    builtins = {n: PresetView(name=n, query=q, builtin=True, updated_at=None) for n, q in BUILTIN_PRESET_QUERIES.items()}
    return sorted({**builtins, **own}.values(), key=lambda p: p.name)


@get("/presets/{name:str}", opt={"scope": "assets:read"}, summary="A preset", responses=problems(404))
async def read_preset(request: Request, principal: NamedDependency[Principal], name: FromPath[str]) -> PresetView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        preset = await get_preset(conn, project_id=principal.project.id, name=name)
    if preset is not None:
        return _view(preset)
    if name not in BUILTIN_PRESET_QUERIES:
        raise UnknownPreset(f"no preset is named `{name}`")
    return PresetView(name=name, query=BUILTIN_PRESET_QUERIES[name], builtin=True, updated_at=None)


@put("/presets/{name:str}", opt={"scope": "assets:write"}, summary="Create or redefine a project preset (built-in names are reserved)", responses=problems(422))
async def write_preset(request: Request, principal: NamedDependency[Principal], name: FromPath[str], data: JSONBody[PresetBody]) -> PresetView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        return _view(await save_preset(conn, project_id=principal.project.id, name=name, params=data.params))


@delete("/presets/{name:str}", opt={"scope": "assets:write"}, summary="Delete a project preset (built-ins stay)", responses=problems(404))
async def remove_preset(request: Request, principal: NamedDependency[Principal], name: FromPath[str]) -> None:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        if not await delete_preset(conn, project_id=principal.project.id, name=name):
            raise UnknownPreset(f"no preset is named `{name}`")
