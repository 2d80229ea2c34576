"""Queries for link-signing secrets: only salts are stored; secrets are derived with the master."""

from __future__ import annotations

import datetime as dt

import msgspec

from delivery.db.connection import Conn, fetch_one

__all__ = ["SigningSecret", "add_signing_secret", "live_signing_secrets"]


class SigningSecret(msgspec.Struct, frozen=True):
    id: int
    key_id: str
    salt: bytes
    created_at: dt.datetime
    retires_at: dt.datetime | None


async def add_signing_secret(
    conn: Conn, *, key_id: str, salt: bytes, retire_others_at: dt.datetime | None
) -> SigningSecret:
    """Add the secret that signs from now on; older ones keep verifying until `retire_others_at`."""
    async with conn.transaction():
        if retire_others_at is not None:
            await conn.execute(
                """UPDATE signing_secrets SET retires_at = least(coalesce(retires_at, $2), $2)
                   WHERE key_id = $1""",
                key_id,
                retire_others_at,
            )
        row = await fetch_one(
            conn,
            "INSERT INTO signing_secrets (key_id, salt) VALUES ($1, $2) RETURNING *", key_id, salt
        )
    return SigningSecret(**row)


async def live_signing_secrets(conn: Conn, *, key_id: str, now: dt.datetime) -> list[SigningSecret]:
    """Newest first: the first one signs, all of them verify."""
    rows = await conn.fetch(
        """SELECT * FROM signing_secrets WHERE key_id = $1 AND (retires_at IS NULL OR retires_at > $2)
           ORDER BY created_at DESC, id DESC""",
        key_id,
        now,
    )
    return [SigningSecret(**row) for row in rows]
