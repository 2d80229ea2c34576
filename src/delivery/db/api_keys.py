"""Queries for API keys: only the id and a hash of the secret are ever stored."""

from __future__ import annotations

import datetime as dt

import msgspec

from delivery.db.connection import Conn, fetch_one

__all__ = ["ApiKey", "NewApiKey", "get_api_key", "insert_api_key", "list_api_keys", "record_key_use", "retire_api_key", "touch_api_key"]


class NewApiKey(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: int
    kind: str
    secret_hash: bytes
    name: str = ""
    scopes: list[str] = []
    expires_at: dt.datetime | None = None
    allowed_origins: list[str] = []
    rate_limit: int | None = None


class ApiKey(NewApiKey, frozen=True, kw_only=True):
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None
    replaced_by: str | None = None

    def active(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


_COLUMNS = tuple(f.name for f in msgspec.structs.fields(NewApiKey))
_INSERT = (
    f"INSERT INTO api_keys ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_COLUMNS) + 1))}) RETURNING *"
)


async def insert_api_key(conn: Conn, *, key: NewApiKey) -> ApiKey:
    row = await fetch_one(conn, _INSERT, *(getattr(key, c) for c in _COLUMNS))
    return ApiKey(**row)


async def get_api_key(conn: Conn, *, id: str) -> ApiKey | None:
    row = await conn.fetchrow("SELECT * FROM api_keys WHERE id = $1", id)
    return None if row is None else ApiKey(**row)


async def list_api_keys(conn: Conn, *, project_id: int) -> list[ApiKey]:
    rows = await conn.fetch("SELECT * FROM api_keys WHERE project_id = $1 ORDER BY created_at, id", project_id)
    return [ApiKey(**row) for row in rows]


async def retire_api_key(
    conn: Conn,
    *,
    id: str,
    project_id: int,
    revoke: bool,
    expires_at: dt.datetime | None = None,
    replaced_by: str | None = None,
) -> ApiKey | None:
    """Revoke now, or (rotation) let the key live until `expires_at`; never extends a key's life. None: no such key in the project."""
    row = await conn.fetchrow(
        """UPDATE api_keys
           SET revoked_at = CASE WHEN $3 THEN coalesce(revoked_at, now()) ELSE revoked_at END,
               expires_at = CASE WHEN $4::timestamptz IS NULL THEN expires_at
                                 ELSE least(coalesce(expires_at, $4), $4) END,
               replaced_by = coalesce($5, replaced_by)
           WHERE id = $1 AND project_id = $2 RETURNING *""",
        id,
        project_id,
        revoke,
        expires_at,
        replaced_by,
    )
    return None if row is None else ApiKey(**row)


async def record_key_use(conn: Conn, *, used: dict[str, dt.datetime]) -> None:
    """Set `last_used_at` of many keys at once (delivery.access.usage); never moves it back."""
    await conn.execute(
        """UPDATE api_keys SET last_used_at = u.at
           FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
           WHERE api_keys.id = u.id AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < u.at)""",
        list(used),
        list(used.values()),
    )


async def touch_api_key(conn: Conn, *, id: str) -> None:
    """Record use at most once a minute, so hot keys do not write on every request."""
    await conn.execute(
        """UPDATE api_keys SET last_used_at = now()
           WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')""",
        id,
    )
