"""Queries for idempotency keys: the first response to a POST, replayed to its retries.

One row per (project, key). The first request inserts it with no status and a
lease (`locked_until`); it either stores its response or deletes the row so a
retry runs again. A row whose lease ran out with no response belonged to a
process that died: the next request with that key takes it over.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from delivery.db.connection import Conn

__all__ = ["Claim", "begin", "finish", "release"]


class Claim(msgspec.Struct, frozen=True):
    state: Literal["lead", "done", "running", "mismatch"]
    """lead: this request runs; done: replay `status`/`response`; running: another request is
    running it now; mismatch: the key was used with another request."""
    status: int | None = None
    response: bytes | None = None


async def begin(
    conn: Conn,
    *,
    project_id: int,
    key: str,
    fingerprint: bytes,
    now: dt.datetime,
    lease: dt.timedelta,
    ttl: dt.timedelta,
) -> Claim:
    """Take the key (new, expired, or abandoned by a dead process), else report what holds it."""
    taken = await conn.fetchval(
        """INSERT INTO idempotency_keys AS k (project_id, key, fingerprint, locked_until, created_at, expires_at)
           VALUES ($1, $2, $3, $4::timestamptz + $5::interval, $4, $4::timestamptz + $6::interval)
           ON CONFLICT (project_id, key) DO UPDATE
           SET fingerprint = EXCLUDED.fingerprint, status = NULL, response = NULL,
               locked_until = EXCLUDED.locked_until, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
           WHERE k.expires_at <= $4 OR (k.status IS NULL AND k.locked_until <= $4)
           RETURNING (xmax = 0) AS inserted""",
        project_id,
        key,
        fingerprint,
        now,
        lease,
        ttl,
    )
    if taken is not None:
        if taken:  # a new row: sweep a few expired ones, so the table stays small
            await conn.execute(
                """DELETE FROM idempotency_keys WHERE (project_id, key) IN
                       (SELECT project_id, key FROM idempotency_keys WHERE expires_at < $1 ORDER BY expires_at LIMIT 100)""",
                now,
            )
        return Claim("lead")
    row = await conn.fetchrow(
        "SELECT fingerprint, status, response FROM idempotency_keys WHERE project_id = $1 AND key = $2", project_id, key
    )
    if row is None:  # released between the two statements: try again
        return await begin(conn, project_id=project_id, key=key, fingerprint=fingerprint, now=now, lease=lease, ttl=ttl)
    if row["fingerprint"] != fingerprint:
        return Claim("mismatch")
    if row["status"] is None:
        return Claim("running")
    return Claim("done", status=row["status"], response=row["response"])


async def finish(conn: Conn, *, project_id: int, key: str, status: int, response: bytes) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, response = $4 WHERE project_id = $1 AND key = $2 AND status IS NULL",
        project_id,
        key,
        status,
        response,
    )


async def release(conn: Conn, *, project_id: int, key: str) -> None:
    """Forget a key whose request failed in a way worth retrying (5xx, 429, 402)."""
    await conn.execute("DELETE FROM idempotency_keys WHERE project_id = $1 AND key = $2 AND status IS NULL", project_id, key)
