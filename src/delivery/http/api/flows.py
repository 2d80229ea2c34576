"""`/v1/flows`: start a flow, then read its steps with their URLs (steps are added by `POST /v1/generations`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from delivery.access.idempotency import fingerprint, idempotent
from delivery.db.assets import get_live_assets
from delivery.db.flows import Flow, create_flow, get_flow, list_steps
from delivery.errors import UnknownFlow
from delivery.http.api.headers import IdempotencyKey
from delivery.http.api.principal import Principal
from delivery.http.api.views import AssetView, asset_views
from delivery.http.openapi import problems
from delivery.prompts.flows import step_name
from delivery.services import Services

__all__ = ["read_flow", "start_flow"]


class NewFlow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(max_length=200)] = ""


class StepView(msgspec.Struct, frozen=True):
    position: int
    reference: str
    """How later steps name this one: `@step{position}`."""
    prompt: str
    asset: AssetView | None
    """None once the asset was deleted."""


class FlowView(msgspec.Struct, frozen=True):
    id: int
    title: str
    created_at: dt.datetime
    steps: list[StepView]


async def _flow_view(services: Services, flow: Flow) -> FlowView:
    async with services.pool.acquire() as conn:
        steps = await list_steps(conn, flow_id=flow.id)
        live = await get_live_assets(conn, project_id=flow.project_id, ids=[s.asset_id for s in steps])
        views = {v.id: v for v in await asset_views(conn, services.settings.resolved_public_url, flow.project_id, list(live.values()))}
    return FlowView(
        id=flow.id,
        title=flow.title,
        created_at=flow.created_at,
        steps=[StepView(s.position, f"@{step_name(s.position)}", s.prompt, views.get(s.asset_id)) for s in steps],
    )


@post("/flows", opt={"scope": "generate"}, summary="Start a flow of chained generations", responses=problems(409, 422))
async def start_flow(
    request: Request, principal: NamedDependency[Principal], data: JSONBody[NewFlow], idempotency_key: IdempotencyKey = None
) -> Response[FlowView]:
    services: Services = request.app.state.services

    async def run() -> FlowView:
        async with services.pool.acquire() as conn:
            flow = await create_flow(conn, project_id=principal.project.id, title=data.title)
        return await _flow_view(services, flow)

    print_ = fingerprint("POST", "/v1/flows", data)
    result: Any = await idempotent(services, project_id=principal.project.id, key=idempotency_key, fingerprint=print_, run=run)
    return result


@get("/flows/{flow_id:int}", opt={"scope": "assets:read"}, summary="A flow's steps, oldest first, with their URLs", responses=problems(404))
async def read_flow(
    request: Request, principal: NamedDependency[Principal], flow_id: Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
) -> FlowView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        flow = await get_flow(conn, project_id=principal.project.id, id=flow_id)
    if flow is None:
        raise UnknownFlow()
    return await _flow_view(services, flow)
