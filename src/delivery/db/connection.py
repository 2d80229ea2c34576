"""The connection queries run on, rows that must exist, and the pool's connection class.

`Conn` is what every query takes: a connection of asyncpg's own or one a pool
lends, typed by asyncpg-stubs. `fetch_one` reads a row a query returns by
construction (`INSERT … RETURNING *`), so a missing one is an error, not a None.

`PooledConnection`: handing a connection back costs a round trip only when it holds session state.

asyncpg resets every released connection with `SELECT pg_advisory_unlock_all();
CLOSE ALL; UNLISTEN *; RESET ALL`: one more PostgreSQL round trip per request
(measured ~0.23 ms wall, half of it our CPU, on a one-row lookup that costs
0.16 ms). The service sets no session variables, keeps no cursor outside a
transaction and never LISTENs; the only session state it takes is a session
advisory lock (a generation claim, the sweep), and whoever takes one marks
the connection first. asyncpg still rolls back an open transaction on every
release; only the reset query is skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = ["Conn", "MissingRow", "PooledConnection", "fetch_one", "holds_session_state"]

if TYPE_CHECKING:
    Conn: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    """A connection queries run on: one of asyncpg's own (`asyncpg.connect`) or one a pool lends (`pool.acquire()`)."""
else:
    # asyncpg's classes take no type arguments at run time; Litestar and msgspec evaluate annotations
    # (get_type_hints), so the name must also stand for something real outside mypy.
    Conn = asyncpg.Connection | PoolConnectionProxy


class PooledConnection(asyncpg.Connection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._session_state = False

    def mark_session_state(self) -> None:
        self._session_state = True

    def get_reset_query(self) -> str:
        """asyncpg's full reset after session state was taken; nothing otherwise."""
        if not self._session_state:
            return ""
        self._session_state = False
        return str(super().get_reset_query())


def holds_session_state(conn: Conn) -> None:
    """Call before taking a session advisory lock, so the pool's reset releases it even if the holder is cancelled.

    `conn` is what `pool.acquire()` gives, a proxy whose attributes are the
    `PooledConnection`'s.
    """
    # The proxy hands every attribute it does not define to its PooledConnection (`__getattr__` in
    # asyncpg/pool.py), which asyncpg-stubs leave out so that other names stay checked.
    conn.mark_session_state()  # type: ignore[union-attr]


class MissingRow(RuntimeError):
    """A query that returns a row by construction (`INSERT … RETURNING *`, an upsert, a row a foreign key holds) returned none: a bug."""


async def fetch_one(conn: Conn, query: str, *args: object) -> asyncpg.Record:
    """`conn.fetchrow` for a row that must be there; MissingRow, not None, when it is not."""
    row = await conn.fetchrow(query, *args)
    if row is None:
        raise MissingRow(f"no row from {' '.join(query.split())[:200]}")
    return row
