"""`/v1/admin`: the operator's resources, for keys with the `admin` scope (only `promptpix keys create --scope admin` grants it).

The model catalogue (which models exist, their pinned versions, capabilities
and prices) and the margin report span every organisation, so no project
scope reaches them; a project chooses among the catalogue with `/v1/models`.
The same domain functions serve `promptpix models put|disable|margin`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import Request, get, patch, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from delivery.access.keys import ADMIN_SCOPE
from delivery.db.models import CatalogueModel, ProviderName, list_models
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.prompts.billing import MarginReport, margin_report, month_start, this_year
from delivery.prompts.models import ModelChanges, change_catalogue_model, put_catalogue_model
from delivery.services import Services

__all__ = ["catalogue", "change_catalogue_entry", "margin", "put_catalogue_entry"]

_OPERATOR = {"scope": ADMIN_SCOPE}


class CatalogueEntry(msgspec.Struct, frozen=True):
    name: str
    provider: str
    version: str
    """Pinned: what the provider is asked for, and what the generation key holds."""
    family: str
    fallback_rank: int
    text_to_image: bool
    edit: bool
    max_references: int
    price: int
    """Credits reserved per generation."""
    enabled: bool
    configured: bool
    """Whether this deployment has the model's provider; a model whose provider it lacks is a 503 when named."""


class CatalogueModelBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A whole catalogue model; fields left out take their defaults."""

    provider: ProviderName
    version: str
    price: int
    family: str = ""
    fallback_rank: int = 0
    text_to_image: bool = True
    edit: bool = False
    max_references: int = 0
    enabled: bool = True


class CatalogueModelPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Only the fields sent change; `{"enabled": false}` disables the model for every project at once."""

    provider: ProviderName | None = None
    version: str | None = None
    price: int | None = None
    family: str | None = None
    fallback_rank: int | None = None
    text_to_image: bool | None = None
    edit: bool | None = None
    max_references: int | None = None
    enabled: bool | None = None


def _entry(services: Services, model: CatalogueModel) -> CatalogueEntry:
    return CatalogueEntry(
        name=model.name,
        provider=model.provider,
        version=model.version,
        family=model.family,
        fallback_rank=model.fallback_rank,
        text_to_image=model.text_to_image,
        edit=model.edit,
        max_references=model.max_references,
        price=model.price,
        enabled=model.enabled,
        configured=model.provider in services.providers,
    )


@get("/admin/models", opt=_OPERATOR, summary="Operators: every catalogue model, disabled ones included", responses=problems())
async def catalogue(request: Request, principal: NamedDependency[Principal]) -> list[CatalogueEntry]:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        return [_entry(services, m) for m in await list_models(conn)]


@put("/admin/models/{name:str}", opt=_OPERATOR, summary="Operators: add a catalogue model or redefine it whole", responses=problems(422))
async def put_catalogue_entry(
    request: Request, name: FromPath[str], principal: NamedDependency[Principal], data: JSONBody[CatalogueModelBody]
) -> CatalogueEntry:
    services: Services = request.app.state.services
    model = CatalogueModel(name=name, **msgspec.structs.asdict(data))
    async with services.pool.acquire() as conn:
        return _entry(services, await put_catalogue_model(conn, model))


@patch("/admin/models/{name:str}", opt=_OPERATOR, summary="Operators: change a catalogue model's price, capabilities or state", responses=problems(404, 422))
async def change_catalogue_entry(
    request: Request, name: FromPath[str], principal: NamedDependency[Principal], data: JSONBody[CatalogueModelPatch]
) -> CatalogueEntry:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        return _entry(services, await change_catalogue_model(conn, name, ModelChanges(**msgspec.structs.asdict(data))))


@get("/admin/margin", opt=_OPERATOR, summary="Operators: credits charged vs provider cost per month, provider and model", responses=problems())
async def margin(
    request: Request,
    principal: NamedDependency[Principal],
    since: Annotated[str | None, QueryParameter(description="first month, YYYY-MM (UTC); default January of this year")] = None,
    until: Annotated[str | None, QueryParameter(description="month after the last, YYYY-MM (UTC), exclusive; default next month")] = None,
    credit_value: Annotated[
        float | None, QueryParameter(description="what one credit is worth in the providers' currency; default 1 / PROMPTPIX_CREDITS_PER_COST_UNIT")
    ] = None,
) -> MarginReport:
    services: Services = request.app.state.services
    first, after = this_year(dt.datetime.now(dt.UTC))
    first = month_start(since, field="since") if since is not None else first
    after = month_start(until, field="until") if until is not None else after
    value = credit_value if credit_value is not None else 1 / services.settings.credits_per_cost_unit
    async with services.pool.acquire() as conn:
        return await margin_report(conn, since=first, until=after, credit_value=value)
