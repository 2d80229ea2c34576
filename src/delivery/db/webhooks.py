"""Queries for webhook endpoints, their messages and delivery attempts (the delivery log).

Messages are created by the SQL function `promptpix_emit` (migration 013), which
triggers and `emit` call in the writer's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

import asyncpg
import msgspec

from delivery.db.connection import Conn

__all__ = [
    "Attempt",
    "Endpoint",
    "Message",
    "delete_endpoint",
    "emit",
    "emit_organization",
    "get_endpoint",
    "get_message",
    "insert_endpoint",
    "list_attempts",
    "list_endpoints",
    "list_messages",
    "record_attempt",
    "set_message_status",
    "update_endpoint",
]

MessageStatus = Literal["pending", "delivered", "failed"]


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: int
    url: str
    events: list[str]
    secret: str
    enabled: bool
    created_at: dt.datetime


class Message(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    endpoint_id: str
    event: str
    payload: dict[str, Any]
    status: MessageStatus
    created_at: dt.datetime


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    manual: bool
    created_at: dt.datetime


_ENDPOINT = "id, project_id, url, events, secret, enabled, created_at"
_MESSAGE = "id, endpoint_id, event, payload, status, created_at"


def _endpoint(row: asyncpg.Record | None) -> Endpoint | None:
    return None if row is None else Endpoint(**{**row, "events": list(row["events"])})


def _message(row: asyncpg.Record | None) -> Message | None:
    return None if row is None else Message(**{**row, "payload": json.loads(row["payload"])})


async def emit(conn: Conn, *, project_id: int, event: str, data: dict[str, Any]) -> int:
    """Queue `event` for every subscribed endpoint of the project; how many messages."""
    return await conn.fetchval("SELECT promptpix_emit($1, $2, $3::jsonb)", project_id, event, json.dumps(data))


async def emit_organization(conn: Conn, *, organization_id: int, event: str, data: dict[str, Any]) -> int:
    return await conn.fetchval("SELECT promptpix_emit_organization($1, $2, $3::jsonb)", organization_id, event, json.dumps(data))


async def insert_endpoint(conn: Conn, *, id: str, project_id: int, url: str, events: list[str], secret: str, enabled: bool) -> Endpoint:
    row = await conn.fetchrow(
        f"INSERT INTO webhook_endpoints (id, project_id, url, events, secret, enabled) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_ENDPOINT}",
        id, project_id, url, events, secret, enabled,
    )  # fmt: skip
    endpoint = _endpoint(row)
    assert endpoint is not None
    return endpoint


async def get_endpoint(conn: Conn, *, id: str, project_id: int | None = None) -> Endpoint | None:
    row = await conn.fetchrow(
        f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE id = $1 AND ($2::bigint IS NULL OR project_id = $2)", id, project_id
    )
    return _endpoint(row)


async def list_endpoints(conn: Conn, *, project_id: int) -> list[Endpoint]:
    rows = await conn.fetch(f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE project_id = $1 ORDER BY created_at, id", project_id)
    return [e for e in map(_endpoint, rows) if e is not None]


async def update_endpoint(
    conn: Conn, *, id: str, project_id: int, url: str | None, events: list[str] | None, enabled: bool | None
) -> Endpoint | None:
    row = await conn.fetchrow(
        f"""UPDATE webhook_endpoints SET url = coalesce($3, url), events = coalesce($4, events), enabled = coalesce($5, enabled)
            WHERE id = $1 AND project_id = $2 RETURNING {_ENDPOINT}""",
        id, project_id, url, events, enabled,
    )  # fmt: skip
    return _endpoint(row)


async def delete_endpoint(conn: Conn, *, id: str, project_id: int) -> bool:
    return await conn.fetchval("DELETE FROM webhook_endpoints WHERE id = $1 AND project_id = $2 RETURNING id", id, project_id) is not None


async def get_message(conn: Conn, *, id: str) -> Message | None:
    return _message(await conn.fetchrow(f"SELECT {_MESSAGE} FROM webhook_messages WHERE id = $1", id))


async def list_messages(conn: Conn, *, endpoint_id: str, limit: int) -> list[Message]:
    rows = await conn.fetch(
        f"SELECT {_MESSAGE} FROM webhook_messages WHERE endpoint_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2", endpoint_id, limit
    )
    return [m for m in map(_message, rows) if m is not None]


async def list_attempts(conn: Conn, *, message_ids: list[str]) -> list[Attempt]:
    rows = await conn.fetch(
        """SELECT message_id, attempt, status_code, error, duration_ms, manual, created_at
           FROM webhook_attempts WHERE message_id = ANY($1::text[]) ORDER BY id""",
        message_ids,
    )
    return [Attempt(**r) for r in rows]


async def record_attempt(
    conn: Conn, *, message_id: str, attempt: int, status_code: int | None, error: str | None, duration_ms: int, manual: bool
) -> None:
    await conn.execute(
        "INSERT INTO webhook_attempts (message_id, attempt, status_code, error, duration_ms, manual) VALUES ($1, $2, $3, $4, $5, $6)",
        message_id, attempt, status_code, error, duration_ms, manual,
    )  # fmt: skip


async def set_message_status(conn: Conn, *, id: str, status: MessageStatus) -> None:
    await conn.execute("UPDATE webhook_messages SET status = $2 WHERE id = $1", id, status)
