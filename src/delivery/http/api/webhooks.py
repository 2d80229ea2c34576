"""`/v1/webhooks`: endpoints (URL, events, secret shown once, enabled), their delivery log, manual redelivery."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from delivery.db.webhooks import Endpoint, delete_endpoint, get_endpoint, get_message, list_attempts, list_endpoints, list_messages, update_endpoint
from delivery.errors import UnknownWebhook, UnknownWebhookMessage
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.services import Services
from delivery.webhooks import check_url, create_endpoint, redeliver
from delivery.webhooks.endpoints import check_events
from delivery.webhooks.guard import allowed_networks

__all__ = ["create_webhook", "edit_webhook", "list_deliveries", "list_webhooks", "read_webhook", "redeliver_message", "remove_webhook"]

_SCOPE = {"scope": "projects:admin"}


class WebhookBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    events: Annotated[list[str], msgspec.Meta(min_length=1, max_length=16)]
    enabled: bool = True


class WebhookChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] | None = None
    events: Annotated[list[str], msgspec.Meta(min_length=1, max_length=16)] | None = None
    enabled: bool | None = None


class WebhookView(msgspec.Struct, frozen=True):
    id: str
    url: str
    events: list[str]
    enabled: bool
    created_at: dt.datetime
    secret: str | None = None
    """`whsec_…`, only in the answer that created the endpoint: keep it to verify signatures."""


class AttemptView(msgspec.Struct, frozen=True):
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    manual: bool
    at: dt.datetime


class DeliveryView(msgspec.Struct, frozen=True):
    id: str
    """The `webhook-id` header of every attempt."""
    event: str
    status: str
    """pending (retries to come) · delivered · failed (retries exhausted)."""
    created_at: dt.datetime
    attempts: list[AttemptView]
    payload: dict[str, object]


def _view(endpoint: Endpoint, *, secret: bool = False) -> WebhookView:
    return WebhookView(
        id=endpoint.id, url=endpoint.url, events=endpoint.events, enabled=endpoint.enabled, created_at=endpoint.created_at,
        secret=endpoint.secret if secret else None,
    )  # fmt: skip


async def _endpoint(services: Services, principal: Principal, webhook_id: str) -> Endpoint:
    async with services.pool.acquire() as conn:
        endpoint = await get_endpoint(conn, id=webhook_id, project_id=principal.project.id)
    if endpoint is None:
        raise UnknownWebhook()
    return endpoint


@post("/webhooks", opt=_SCOPE, summary="Add a webhook endpoint (its signing secret is in this answer only)", responses=problems(400, 422))
async def create_webhook(request: Request, principal: NamedDependency[Principal], data: JSONBody[WebhookBody]) -> WebhookView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        endpoint = await create_endpoint(conn, services.settings, project_id=principal.project.id, url=data.url, events=data.events, enabled=data.enabled)
    return _view(endpoint, secret=True)


@get("/webhooks", opt=_SCOPE, summary="The project's webhook endpoints", responses=problems())
async def list_webhooks(request: Request, principal: NamedDependency[Principal]) -> list[WebhookView]:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        return [_view(e) for e in await list_endpoints(conn, project_id=principal.project.id)]


@get("/webhooks/{webhook_id:str}", opt=_SCOPE, summary="A webhook endpoint", responses=problems(404))
async def read_webhook(request: Request, principal: NamedDependency[Principal], webhook_id: FromPath[str]) -> WebhookView:
    return _view(await _endpoint(request.app.state.services, principal, webhook_id))


@patch("/webhooks/{webhook_id:str}", opt=_SCOPE, summary="Change a webhook endpoint's URL, events or enabled", responses=problems(404, 422))
async def edit_webhook(request: Request, principal: NamedDependency[Principal], webhook_id: FromPath[str], data: JSONBody[WebhookChange]) -> WebhookView:
    services: Services = request.app.state.services
    if data.url is not None:
        await check_url(data.url, allowed_networks(services.settings.webhook_allowed_networks))
    events = check_events(data.events) if data.events is not None else None
    async with services.pool.acquire() as conn:
        endpoint = await update_endpoint(conn, id=webhook_id, project_id=principal.project.id, url=data.url, events=events, enabled=data.enabled)
    if endpoint is None:
        raise UnknownWebhook()
    return _view(endpoint)


@delete("/webhooks/{webhook_id:str}", opt=_SCOPE, summary="Remove a webhook endpoint and its delivery log", responses=problems(404))
async def remove_webhook(request: Request, principal: NamedDependency[Principal], webhook_id: FromPath[str]) -> None:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        if not await delete_endpoint(conn, id=webhook_id, project_id=principal.project.id):
            raise UnknownWebhook()


@get("/webhooks/{webhook_id:str}/deliveries", opt=_SCOPE, summary="The endpoint's delivery log, newest first", responses=problems(404))
async def list_deliveries(
    request: Request,
    principal: NamedDependency[Principal],
    webhook_id: FromPath[str],
    limit: Annotated[int | None, QueryParameter(ge=1, le=200)] = None,
) -> list[DeliveryView]:
    services: Services = request.app.state.services
    endpoint = await _endpoint(services, principal, webhook_id)
    async with services.pool.acquire() as conn:
        messages = await list_messages(conn, endpoint_id=endpoint.id, limit=limit or services.settings.api_page_size)
        attempts = await list_attempts(conn, message_ids=[m.id for m in messages])
    return [
        DeliveryView(
            id=m.id, event=m.event, status=m.status, created_at=m.created_at, payload=m.payload,
            attempts=[
                AttemptView(attempt=a.attempt, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms, manual=a.manual, at=a.created_at)
                for a in attempts if a.message_id == m.id
            ],
        )
        for m in messages
    ]  # fmt: skip


class Redelivery(msgspec.Struct, frozen=True):
    id: str
    attempt: int


@post(
    "/webhooks/{webhook_id:str}/deliveries/{message_id:str}/redeliver",
    opt=_SCOPE,
    status_code=202,
    summary="Send a message again now, whatever its status",
    responses=problems(404),
)
async def redeliver_message(request: Request, principal: NamedDependency[Principal], webhook_id: FromPath[str], message_id: FromPath[str]) -> Redelivery:
    services: Services = request.app.state.services
    endpoint = await _endpoint(services, principal, webhook_id)
    async with services.pool.acquire() as conn:
        message = await get_message(conn, id=message_id)
        if message is None or message.endpoint_id != endpoint.id:
            raise UnknownWebhookMessage()
        attempt = await redeliver(conn, message)
    return Redelivery(id=message.id, attempt=attempt)
