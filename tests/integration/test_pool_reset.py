"""Returning a pooled connection resets it only when it took session state: a claim never leaks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from delivery.db.connection import PooledConnection
from delivery.ops.metrics import Metrics
from delivery.prompts.claims import claim_generation

OWN_ADVISORY_LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """One connection, so every acquire gets the one the previous holder returned."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1, connection_class=PooledConnection)
    yield pool
    await pool.close()


async def test_a_claim_left_behind_by_a_cancelled_request_is_released_on_return(pool: asyncpg.Pool) -> None:
    claimed = asyncio.Event()

    async def cancelled_generation() -> None:
        async with pool.acquire() as conn:
            await claim_generation(conn, "a-key", timeout=1, metrics=Metrics())
            claimed.set()
            await asyncio.Event().wait()  # generating, until the client goes away

    task = asyncio.create_task(cancelled_generation())
    await asyncio.wait_for(claimed.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with pool.acquire() as conn:
        assert await conn.fetchval(OWN_ADVISORY_LOCKS) == 0


async def test_a_connection_without_session_state_is_returned_without_a_reset_query(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("SET application_name = 'left-as-is'")  # session state nobody marked: not reset
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_setting('application_name')") == "left-as-is"
        conn.mark_session_state()
    async with pool.acquire() as conn:  # marked: asyncpg's full reset ran
        assert await conn.fetchval("SELECT current_setting('application_name')") == ""


async def test_an_open_transaction_is_still_rolled_back_on_return(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE scratch (n int)")
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO scratch VALUES (1)")
    async with pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM scratch") == 0
