"""Queries for the web console: one-time sign-in link tokens and sessions, stored by hash only."""

from __future__ import annotations

import datetime as dt

import msgspec

from delivery.db.connection import Conn

__all__ = ["ConsoleSession", "delete_session", "get_session", "insert_link_token", "insert_session", "redeem_link_token"]


class ConsoleSession(msgspec.Struct, frozen=True, kw_only=True):
    organization_id: int
    csrf_token: str
    created_at: dt.datetime
    expires_at: dt.datetime


async def insert_link_token(conn: Conn, *, token_hash: bytes, organization_id: int, expires_at: dt.datetime) -> None:
    await conn.execute(
        "INSERT INTO console_link_tokens (token_hash, organization_id, expires_at) VALUES ($1, $2, $3)",
        token_hash,
        organization_id,
        expires_at,
    )


async def redeem_link_token(conn: Conn, *, token_hash: bytes, now: dt.datetime) -> int | None:
    """Mark the token used and return its organisation; None when unknown, used or expired (one statement: one winner)."""
    value: int | None = await conn.fetchval(
        """UPDATE console_link_tokens SET used_at = $2
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING organization_id""",
        token_hash,
        now,
    )
    return value


async def insert_session(
    conn: Conn, *, id_hash: bytes, organization_id: int, csrf_token: str, expires_at: dt.datetime
) -> None:
    await conn.execute(
        "INSERT INTO console_sessions (id_hash, organization_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)",
        id_hash,
        organization_id,
        csrf_token,
        expires_at,
    )


async def get_session(conn: Conn, *, id_hash: bytes, now: dt.datetime) -> ConsoleSession | None:
    row = await conn.fetchrow(
        "SELECT organization_id, csrf_token, created_at, expires_at FROM console_sessions WHERE id_hash = $1 AND expires_at > $2",
        id_hash,
        now,
    )
    return None if row is None else ConsoleSession(**row)


async def delete_session(conn: Conn, *, id_hash: bytes) -> None:
    await conn.execute("DELETE FROM console_sessions WHERE id_hash = $1", id_hash)
