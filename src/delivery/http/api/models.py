"""`/v1/models`: the catalogue models this project may name in `model=`, and its default and allow-list.

The catalogue itself (which models exist, their versions and prices) is the
operator's, managed with `promptpix models`; a project chooses among it.
"""

from __future__ import annotations

import msgspec
from litestar import Request, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from delivery.db.models import CatalogueModel, get_model, list_models, set_project_models
from delivery.db.projects import get_project
from delivery.errors import InvalidField, UnknownModel, UnknownProject
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.services import Services

__all__ = ["list_project_models", "write_project_models"]


class ModelView(msgspec.Struct, frozen=True):
    name: str
    provider: str
    version: str
    price: int
    text_to_image: bool
    edit: bool
    max_references: int
    family: str


class ProjectModels(msgspec.Struct, frozen=True):
    default: str | None
    """Used when `model=` is absent; null: the deployment's default model at its default price."""
    allowed: list[str]
    """The project's allow-list; empty: every enabled model."""
    models: list[ModelView]
    """What `model=` may name now."""


class ProjectModelsBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    default: str | None = None
    allowed: list[str] = []


def _view(model: CatalogueModel) -> ModelView:
    return ModelView(
        name=model.name,
        provider=model.provider,
        version=model.version,
        price=model.price,
        text_to_image=model.text_to_image,
        edit=model.edit,
        max_references=model.max_references,
        family=model.family,
    )


async def _project_models(services: Services, project_id: int) -> ProjectModels:
    async with services.pool.acquire() as conn:
        project = await get_project(conn, id=project_id)
        if project is None:
            raise UnknownProject()
        catalogue = await list_models(conn)
    usable = [
        _view(m)
        for m in catalogue
        if m.enabled and m.provider in services.providers and (not project.allowed_models or m.name in project.allowed_models)
    ]
    return ProjectModels(default=project.default_model, allowed=project.allowed_models, models=sorted(usable, key=lambda m: m.name))


@get("/models", opt={"scope": "assets:read"}, summary="The models this project may name in `model=`", responses=problems())
async def list_project_models(request: Request, principal: NamedDependency[Principal]) -> ProjectModels:
    return await _project_models(request.app.state.services, principal.project.id)


@put("/models", opt={"scope": "keys:admin"}, summary="Set the project's default model and allow-list", responses=problems(422))
async def write_project_models(request: Request, principal: NamedDependency[Principal], data: JSONBody[ProjectModelsBody]) -> ProjectModels:
    services: Services = request.app.state.services
    allowed = list(dict.fromkeys(n.lower() for n in data.allowed))
    default = data.default.lower() if data.default else None
    async with services.pool.acquire() as conn:
        for name in [*allowed, *([default] if default else [])]:
            model = await get_model(conn, name=name)
            if model is None or not model.enabled:
                raise UnknownModel(f"unknown model `{name}`")
        if default and allowed and default not in allowed:
            raise InvalidField(f"the default model `{default}` must be one of `allowed`")
        await set_project_models(conn, project_id=principal.project.id, default=default, allowed=allowed)
    return await _project_models(services, principal.project.id)
