"""Queries for API keys: only the id and a hash of the secret are ever stored."""

from __future__ import annotations

import datetime as dt

import asyncpg
import msgspec

from delivery.errors import NotFound

__all__ = ["ApiKey", "get_api_key", "insert_api_key", "touch_api_key"]


class ApiKey(msgspec.Struct, frozen=True):
    id: str
    project_id: int
    kind: str
    secret_hash: bytes
    name: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def active(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


async def insert_api_key(
    conn: asyncpg.Connection,
    *,
    id: str,
    project_id: int,
    kind: str,
    secret_hash: bytes,
    name: str = "",
    scopes: list[str] | None = None,
) -> ApiKey:
    row = await conn.fetchrow(
        """INSERT INTO api_keys (id, project_id, kind, secret_hash, name, scopes)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        id,
        project_id,
        kind,
        secret_hash,
        name,
        scopes or [],
    )
    return ApiKey(**row)


async def get_api_key(conn: asyncpg.Connection, *, id: str) -> ApiKey:
    row = await conn.fetchrow("SELECT * FROM api_keys WHERE id = $1", id)
    if row is None:
        raise NotFound("unknown API key")
    return ApiKey(**row)


async def touch_api_key(conn: asyncpg.Connection, *, id: str) -> None:
    """Record use at most once a minute, so hot keys do not write on every request."""
    await conn.execute(
        """UPDATE api_keys SET last_used_at = now()
           WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')""",
        id,
    )
