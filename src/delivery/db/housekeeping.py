"""Removing rows that have expired: sign-in links, console sessions, idempotency keys, finished queue jobs."""

from __future__ import annotations

from delivery.db.connection import Conn

__all__ = ["expire_rows"]


async def expire_rows(conn: Conn, *, finished_jobs_kept_hours: int) -> dict[str, int]:
    """Delete what has expired; how many rows of each kind."""
    removed: dict[str, int] = {}
    for name, sql in (
        ("console_link_tokens", "DELETE FROM console_link_tokens WHERE expires_at < now()"),
        ("console_sessions", "DELETE FROM console_sessions WHERE expires_at < now()"),
        ("idempotency_keys", "DELETE FROM idempotency_keys WHERE expires_at < now()"),
        (
            "queue_jobs",
            f"""DELETE FROM procrastinate_jobs WHERE status IN ('succeeded', 'failed', 'cancelled')
                AND id IN (SELECT job_id FROM procrastinate_events WHERE type IN ('succeeded', 'failed', 'cancelled')
                           AND at < now() - interval '{int(finished_jobs_kept_hours)} hours')""",
        ),
    ):
        status = await conn.execute(sql)
        removed[name] = int(status.rsplit(" ", 1)[-1])
    return removed
