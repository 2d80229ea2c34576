"""Queries for the rate limiter: one row per bucket, updated in a single statement per request."""

from __future__ import annotations

import datetime as dt

from delivery.db.connection import Conn

__all__ = ["take"]

_WINDOW = dt.timedelta(minutes=1)


async def take(conn: Conn, *, bucket: str, per_minute: int, now: dt.datetime) -> float | None:
    """Take one request from `bucket` (GCRA); None if admitted, else seconds until one would be.

    The row's theoretical arrival time (tat) moves one emission interval per
    admitted request and may run at most a minute ahead of now, so a bucket
    admits `per_minute` at once and then one every 60/per_minute seconds. The
    conditional upsert locks the row, so concurrent requests are counted exactly.
    """
    interval = _WINDOW / per_minute
    row = await conn.fetchrow(
        """INSERT INTO rate_limits AS r (bucket, tat) VALUES ($1, $2::timestamptz + $3::interval)
           ON CONFLICT (bucket) DO UPDATE SET tat = greatest(r.tat, $2) + $3::interval
               WHERE greatest(r.tat, $2) + $3::interval <= $2::timestamptz + $4::interval
           RETURNING (xmax = 0) AS inserted""",
        bucket,
        now,
        interval,
        _WINDOW,
    )
    if row is None:
        tat = await conn.fetchval("SELECT tat FROM rate_limits WHERE bucket = $1", bucket)
        return max((tat + interval - _WINDOW - now).total_seconds(), 0.0)
    if row["inserted"]:  # a new bucket: sweep a few that have drained, so the table stays small
        await conn.execute(
            """DELETE FROM rate_limits WHERE bucket IN
                   (SELECT bucket FROM rate_limits WHERE tat < $1 ORDER BY tat LIMIT 100)""",
            now,
        )
    return None
