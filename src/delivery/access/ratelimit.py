"""Who may start a generation now: per-key and per-client-IP limits on cache misses.

Only misses are limited (a hit costs a cache lookup), and the counters live in
PostgreSQL so every app process and machine shares them (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import math

from delivery.access.links import LinkGrant
from delivery.db.connection import Conn
from delivery.db.rate_limits import take
from delivery.errors import RateLimited
from delivery.settings import Settings

__all__ = ["admit_miss"]


async def admit_miss(
    conn: Conn, *, settings: Settings, grant: LinkGrant, client_ip: str | None, now: dt.datetime
) -> None:
    """429 with Retry-After when the key, or (unsigned links) the client IP, is over its limit."""
    limits = [(f"key:{grant.key.id}", grant.key.rate_limit or settings.key_misses_per_minute, "this key")]
    if not grant.signed and client_ip:
        limits.append((f"ip:{client_ip}", settings.ip_misses_per_minute, "this client"))
    for bucket, per_minute, who in limits:
        wait = await take(conn, bucket=bucket, per_minute=per_minute, now=now)
        if wait is not None:
            raise RateLimited(
                f"{who} started more than {per_minute} new generations a minute", retry_after=max(1, math.ceil(wait))
            )
