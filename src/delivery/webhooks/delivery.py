"""Deliver one webhook message: one POST per attempt, logged; the next attempt scheduled on failure.

Each attempt is its own queue job, deferred to run at its time, so a backoff
of hours holds no worker; the `webhook-id` is the message's, the same on every
retry, so receivers can drop duplicates.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import asyncpg
import httpx

from delivery.db.connection import Conn
from delivery.db.jobs import defer
from delivery.db.webhooks import get_endpoint, get_message, record_attempt, set_message_status
from delivery.errors import WebhookUrlRefused
from delivery.settings import Settings
from delivery.webhooks.guard import allowed_networks, check_url
from delivery.webhooks.signing import headers

__all__ = ["DELIVER_TASK", "WEBHOOK_QUEUE", "deliver", "post_signed", "schedule_attempt"]

log = logging.getLogger("promptpix.webhooks")

DELIVER_TASK = "promptpix.deliver_webhook"
WEBHOOK_QUEUE = "webhooks"
_ERROR_CHARS = 500


async def schedule_attempt(conn: Conn, *, message_id: str, attempt: int, delay: float, manual: bool = False) -> None:
    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay) if delay > 0 else None
    await defer(conn, task=DELIVER_TASK, queue=WEBHOOK_QUEUE, args={"message_id": message_id, "attempt": attempt, "manual": manual}, at=at)


async def post_signed(settings: Settings, url: str, body: bytes, signed: dict[str, str]) -> tuple[int | None, str | None]:
    """POST `body` to `url` at the address the guard vets now; (status, None) on 2xx, else (status or None, why)."""
    try:
        target = await check_url(url, allowed_networks(settings.webhook_allowed_networks))  # again: DNS may have changed since it was saved
    except WebhookUrlRefused as exc:
        return None, exc.message
    headers = {**signed, "host": target.host, "user-agent": "promptpix-webhooks"}
    extensions = {"sni_hostname": target.sni} if target.sni else None  # TLS names, and checks the certificate of, the host
    try:
        async with httpx.AsyncClient(timeout=settings.webhook_timeout, follow_redirects=False) as client:
            response = await client.post(target.url, content=body, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
    error = None if response.is_success else f"answered {response.status_code}"
    return response.status_code, error


async def deliver(pool: asyncpg.Pool, settings: Settings, *, message_id: str, attempt: int, manual: bool = False) -> bool:
    """Make attempt `attempt` of a message; True when the endpoint answered 2xx."""
    async with pool.acquire() as conn:
        message = await get_message(conn, id=message_id)
        endpoint = None if message is None else await get_endpoint(conn, id=message.endpoint_id)
    if message is None or endpoint is None:
        return False  # the endpoint was deleted since
    if not endpoint.enabled and not manual:
        async with pool.acquire() as conn:
            await record_attempt(conn, message_id=message.id, attempt=attempt, status_code=None, error="endpoint disabled", duration_ms=0, manual=manual)
            await set_message_status(conn, id=message.id, status="failed")
        return False
    body = json.dumps(message.payload, separators=(",", ":")).encode()
    signed = headers(endpoint.secret, message_id=message.id, timestamp=int(time.time()), body=body)
    started = time.perf_counter()
    status_code, error = await post_signed(settings, endpoint.url, body, signed)
    duration = int((time.perf_counter() - started) * 1000)
    retries = settings.webhook_retries
    async with pool.acquire() as conn, conn.transaction():
        await record_attempt(conn, message_id=message.id, attempt=attempt, status_code=status_code, error=error, duration_ms=duration, manual=manual)
        if error is None:
            await set_message_status(conn, id=message.id, status="delivered")
        elif manual or attempt > len(retries):
            if message.status != "delivered":
                await set_message_status(conn, id=message.id, status="failed")
        else:
            await schedule_attempt(conn, message_id=message.id, attempt=attempt + 1, delay=retries[attempt - 1])
    if error is not None:
        log.info("webhook delivery failed", extra={"message": message.id, "endpoint": endpoint.id, "attempt": attempt, "error": error})
    return error is None
