"""One generation per generation key across processes and machines: a PostgreSQL claim.

The claim is a session advisory lock on the key, held on one pooled connection
for the whole generation. Waiters in other processes block in PostgreSQL and are
woken the moment it is released (no polling), then find the stored asset. A
holder that crashes or loses its connection loses the lock with it: the server
releases session locks when the session ends, and the pool resets a returned
connection that took one with `pg_advisory_unlock_all()`
(`db.connection.holds_session_state`), so a cancelled request cannot leak one
either.
"""

from __future__ import annotations

from delivery.db.connection import Conn, holds_session_state
from delivery.errors import GenerationPending
from delivery.ops.metrics import Metrics

__all__ = ["claim_generation", "release_generation"]

_TRY = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
_WAIT = "SELECT pg_advisory_lock(hashtextextended($1, 0))"
_RELEASE = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"
RETRY_AFTER = 5


async def claim_generation(conn: Conn, key: str, *, timeout: float, metrics: Metrics) -> bool:
    """Return holding the claim, True when another holder had it first (this request waited on its generation);
    a 503 with Retry-After when that holder outlasts `timeout`."""
    holds_session_state(conn)
    if await conn.fetchval(_TRY, key):
        return False
    with metrics.generation_waiters.track_inprogress():
        try:
            await conn.execute(_WAIT, key, timeout=timeout)
        except TimeoutError:
            raise GenerationPending(detail=f"claim wait over {timeout:g}s", retry_after=RETRY_AFTER) from None
    return True


async def release_generation(conn: Conn, key: str) -> None:
    await conn.execute(_RELEASE, key)
