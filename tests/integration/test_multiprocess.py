"""One generation per generation key across processes: real `promptpix serve` processes, one database.

The offline generator is slowed down (`PROMPTPIX_OFFLINE_DELAY`) so identical
requests are certain to arrive while the generation is in flight; PostgreSQL
itself is asked who holds and who waits on the claim (`pg_locks`), so the tests
observe the cross-process wait instead of assuming it.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import httpx

from tests.edge import Serve, metric, start_serve
from tests.images import decode

_THIS_DB = "database = (SELECT oid FROM pg_database WHERE datname = current_database())"
ADVISORY = f"""SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted)
               FROM pg_locks WHERE locktype = 'advisory' AND {_THIS_DB}"""


def g_url(served: Serve, prompt: str) -> str:
    return f"{served.base}/g/demo?" + urlencode({"prompt": prompt, "w": 96, "h": 96, "fm": "png", "key": served.key_id})


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


async def fetch(conn: asyncpg.Connection, query: str) -> asyncpg.Record:
    return await conn.fetchrow(query)


async def test_200_identical_cold_requests_on_4_workers_make_one_generation(database_url: str, tmp_path: Path) -> None:
    served = start_serve(
        data_dir=tmp_path / "data", database_url=database_url, workers=4, env={"PROMPTPIX_OFFLINE_DELAY": "3"}
    )
    conn = await asyncpg.connect(database_url)
    try:
        # Each worker's pool opens a connection at start-up: four of them means four workers serving.
        await until(
            lambda: _count(conn, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", 4),
            "four workers are connected",
        )
        url = g_url(served, "two hundred people asking for one picture")
        waiting_seen = 0

        async def watch() -> None:
            nonlocal waiting_seen
            while True:
                _, waiting = await fetch(conn, ADVISORY)
                waiting_seen = max(waiting_seen, waiting)
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            responses = await asyncio.gather(*(http.get(url) for _ in range(200)))
        watcher.cancel()

        assert {r.status_code for r in responses} == {200}, {r.status_code for r in responses}
        bodies = {r.content for r in responses}
        assert len(bodies) == 1  # every client got the same bytes
        image, fmt = decode(bodies.pop())
        assert (image.width, image.height, fmt) == (96, 96, "png")
        rows = await conn.fetch("SELECT status FROM generations")
        assert [r["status"] for r in rows] == ["succeeded"]  # exactly one provider call
        # LEAD: when billing lands, also assert exactly one debit in the ledger for this generation.
        assert waiting_seen >= 1  # another worker waited on the claim in PostgreSQL
        assert metric(served.base, "promptpix_generation_seconds_count") == 1  # totals across all four workers
        assert metric(served.base, "promptpix_http_requests_total", route="/g/{project}", status="200") == 200
        assert await fetch(conn, ADVISORY) == (0, 0)  # no claim left behind
    finally:
        await conn.close()
        assert served.stop() == 0


async def _count(conn: asyncpg.Connection, query: str, at_least: int) -> bool:
    return await conn.fetchval(query) >= at_least


async def test_a_killed_holder_loses_its_claim_and_a_waiter_generates(database_url: str, tmp_path: Path) -> None:
    holder = start_serve(data_dir=tmp_path / "a", database_url=database_url, env={"PROMPTPIX_OFFLINE_DELAY": "600"})
    waiter = start_serve(data_dir=tmp_path / "b", database_url=database_url)
    conn = await asyncpg.connect(database_url)
    try:
        prompt = "a generation interrupted"
        async with httpx.AsyncClient(timeout=120) as http:
            stuck = asyncio.create_task(http.get(g_url(holder, prompt)))
            await until(lambda: _count(conn, "SELECT count(*) FROM generations WHERE status = 'pending'", 1), "the holder generates")
            assert tuple(await fetch(conn, ADVISORY)) == (1, 0)

            waiting = asyncio.create_task(http.get(g_url(waiter, prompt)))
            await until(
                lambda: _count(conn, f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND {_THIS_DB}", 1),
                "the second process waits on the claim",
            )
            assert not waiting.done()

            holder.kill()  # SIGKILL: no cleanup runs; the server drops the session and its lock
            response = await waiting
        assert response.status_code == 200
        assert response.headers["x-cache-status"] == "GENERATED"
        image, fmt = decode(response.content)
        assert (image.width, image.height, fmt) == (96, 96, "png")
        assert isinstance(stuck.exception(), httpx.HTTPError)
        statuses = sorted(r["status"] for r in await conn.fetch("SELECT status FROM generations"))
        assert statuses == ["pending", "succeeded"]  # the dead holder's attempt is left for the sweep to resolve
        assert tuple(await fetch(conn, ADVISORY)) == (0, 0)
    finally:
        await conn.close()
        holder.kill()
        waiter.stop()


async def test_graceful_shutdown_finishes_an_in_flight_generation(database_url: str, tmp_path: Path) -> None:
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url, workers=2, env={"PROMPTPIX_OFFLINE_DELAY": "3"})
    conn = await asyncpg.connect(database_url)
    try:
        async with httpx.AsyncClient(timeout=120) as http:
            in_flight = asyncio.create_task(http.get(g_url(served, "finish what you started")))
            await until(lambda: _count(conn, "SELECT count(*) FROM generations WHERE status = 'pending'", 1), "generation starts")
            served.process.send_signal(signal.SIGTERM)
            response = await in_flight
        assert response.status_code == 200 and response.headers["x-cache-status"] == "GENERATED"
        image, _ = decode(response.content)
        assert (image.width, image.height) == (96, 96)
        assert await asyncio.to_thread(served.process.wait, 60) == 0
        assert [r["status"] for r in await conn.fetch("SELECT status FROM generations")] == ["succeeded"]
        assert tuple(await fetch(conn, ADVISORY)) == (0, 0)
    finally:
        await conn.close()
        served.kill()
