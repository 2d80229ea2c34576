"""Creating endpoints (URL checked, secret made) and redelivering a message by hand."""

from __future__ import annotations

import secrets

from delivery.db.connection import Conn
from delivery.db.webhooks import Endpoint, Message, insert_endpoint
from delivery.errors import InvalidParam
from delivery.settings import Settings
from delivery.webhooks.delivery import schedule_attempt
from delivery.webhooks.guard import allowed_networks, check_url
from delivery.webhooks.signing import new_secret

__all__ = ["EVENTS", "check_events", "create_endpoint", "redeliver"]

EVENTS = (
    "generation.succeeded",
    "generation.failed",
    "asset.created",
    "asset.updated",
    "asset.deleted",
    "balance.low",
    "balance.exhausted",
)


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise InvalidParam(f"unknown webhook events: {', '.join(unknown)} (known: {', '.join(EVENTS)})")
    if not events:
        raise InvalidParam("`events` must name at least one event")
    return sorted(set(events), key=EVENTS.index)


async def create_endpoint(
    conn: Conn, settings: Settings, *, project_id: int, url: str, events: list[str], enabled: bool = True
) -> Endpoint:
    wanted = check_events(events)
    await check_url(url, allowed_networks(settings.webhook_allowed_networks))
    return await insert_endpoint(
        conn, id="wh_" + secrets.token_hex(12), project_id=project_id, url=url, events=wanted, secret=new_secret(), enabled=enabled
    )


async def redeliver(conn: Conn, message: Message) -> int:
    """Queue a manual attempt now (whatever the message's status); its attempt number."""
    attempt = await conn.fetchval("SELECT coalesce(max(attempt), 0) + 1 FROM webhook_attempts WHERE message_id = $1", message.id)
    await schedule_attempt(conn, message_id=message.id, attempt=attempt, delay=0, manual=True)
    return int(attempt)
