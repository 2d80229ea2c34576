"""One generation per generation key across processes: real `promptpix serve` processes, one database.

The offline generator is slowed down (`PROMPTPIX_OFFLINE_DELAY`) so identical
requests are certain to arrive while the generation is in flight; PostgreSQL
itself is asked who holds and who waits on the claim (`pg_locks`), so the tests
observe the cross-process wait instead of assuming it.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from delivery.assets.ids import generation_key
from delivery.assets.invalidation import LEADER_LOCK
from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from harness.processes import Serve, metric, start_serve
from harness.urls import urlencode
from tests.fakes import CountingProvider
from tests.images import decode
from tests.waiting import until

_THIS_DB = "database = (SELECT oid FROM pg_database WHERE datname = current_database())"
# Generation claims only: one listener connection holds the edge-purge leader lock for as long as it lives.
ADVISORY = f"""SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted)
               FROM pg_locks WHERE locktype = 'advisory' AND {_THIS_DB}
                 AND NOT (classid = 0 AND objid = {LEADER_LOCK} AND objsubid = 1)"""


def g_url(served: Serve, prompt: str) -> str:
    return f"{served.base}/g/demo?" + urlencode({"prompt": prompt, "w": 96, "h": 96, "ar": "1:1", "fm": "png", "key": served.key_id})


async def fetch(conn: asyncpg.Connection, query: str) -> asyncpg.Record:
    return await conn.fetchrow(query)


async def crowd(urls: list[str], database_url: str, count: int = 200) -> tuple[list[httpx.Response], int]:
    """`count` concurrent GETs cycling through `urls`; also the most claim waiters PostgreSQL showed meanwhile."""
    waiting_seen = 0

    async def watch(watcher: asyncpg.Connection) -> None:
        nonlocal waiting_seen
        while True:
            _, waiting = await fetch(watcher, ADVISORY)
            waiting_seen = max(waiting_seen, waiting)
            await asyncio.sleep(0.05)

    watcher_conn = await asyncpg.connect(database_url)
    watching = asyncio.create_task(watch(watcher_conn))
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    try:
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            responses = await asyncio.gather(*(http.get(urls[i % len(urls)]) for i in range(count)))
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await watcher_conn.close()
    return responses, waiting_seen


async def assert_one_generation_and_identical_bytes(responses: list[httpx.Response], database_url: str) -> None:
    assert {r.status_code for r in responses} == {200}, {r.status_code for r in responses}
    bodies = {r.content for r in responses}
    assert len(bodies) == 1  # every client got the same bytes
    image, fmt = decode(bodies.pop())
    assert (image.width, image.height, fmt) == (96, 96, "png")
    conn = await asyncpg.connect(database_url)
    try:
        assert [r["status"] for r in await conn.fetch("SELECT status FROM generations")] == ["succeeded"]  # one provider call
        # `serve` runs the offline generator here, and offline images are never charged, in any plan.
        assert await conn.fetchval("SELECT count(*) FROM ledger WHERE kind = 'debit'") == 0
        assert tuple(await fetch(conn, ADVISORY)) == (0, 0)  # no claim left behind
    finally:
        await conn.close()


async def test_200_identical_cold_requests_on_4_workers_make_one_generation(database_url: str, tmp_path: Path) -> None:
    served = start_serve(
        data_dir=tmp_path / "data", database_url=database_url, workers=4, env={"PROMPTPIX_OFFLINE_DELAY": "3"}
    )
    conn = await asyncpg.connect(database_url)
    try:
        # Each worker's pool opens a connection at start-up: four of them means four workers serving.
        others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        await until(lambda: _count(conn, others, 4), "four workers are connected")
    finally:
        await conn.close()
    try:
        responses, _ = await crowd([g_url(served, "two hundred people asking for one picture")], database_url)
        await assert_one_generation_and_identical_bytes(responses, database_url)
        # Whichever worker answers /metrics reports the totals of all four.
        assert metric(served.base, "promptpix_generation_seconds_count") == 1
        assert metric(served.base, "promptpix_http_requests_total", route="/g/{project}", status="200") == 200
    finally:
        assert served.stop() == 0


async def test_200_identical_cold_requests_spread_over_4_processes_make_one_generation(
    database_url: str, tmp_path: Path
) -> None:
    """Four separate processes, requests dealt round-robin: three of them must wait on the first one's claim."""
    shared = {"PROMPTPIX_OFFLINE_DELAY": "3", "PROMPTPIX_STORAGE_URL": f"file://{tmp_path / 'objects'}"}
    processes = [start_serve(data_dir=tmp_path / f"p{i}", database_url=database_url, env=shared) for i in range(4)]
    try:
        prompt = "two hundred people in four rooms"
        responses, waiting_seen = await crowd([g_url(p, prompt) for p in processes], database_url)
        await assert_one_generation_and_identical_bytes(responses, database_url)
        assert waiting_seen == 3  # one holder, one waiter per other process (in-process flights share theirs)
        assert sum(metric(p.base, "promptpix_generation_seconds_count") for p in processes) == 1
        assert [metric(p.base, "promptpix_http_requests_total", route="/g/{project}") for p in processes] == [50] * 4
    finally:
        for p in processes:
            p.stop()


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
        assert statuses == ["failed", "succeeded"]  # the waiter, now holding the claim, settled the dead holder's attempt
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


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The in-process app of the claim-timeout test waits at most 0.3 s for another holder."""
    return Settings(database_url=database_url, data_dir=str(tmp_path / "data"), log_requests=False, claim_timeout=0.3)


async def test_a_waiter_answers_503_with_retry_after_when_the_holder_outlasts_the_claim_timeout(
    client: AsyncTestClient, demo: Demo, settings: Settings, provider: CountingProvider
) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        project_id = await conn.fetchval("SELECT id FROM projects WHERE slug = $1", demo.project_slug)
        key = generation_key(
            project_id=project_id, prompt="held elsewhere", style=None, seed=None, model="offline-render-1", aspect_class=None
        )
        await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)  # another process is generating
        url = f"/g/{demo.project_slug}?" + urlencode({"prompt": "held elsewhere", "w": 32, "h": 32, "key": demo.key_id})
        busy = await client.get(url)
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "5" and busy.headers["cache-control"] == "no-store"
        assert decode(busy.content)[1] == "png"
        assert provider.synthesized == []

        await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
        done = await client.get(url)
        assert done.status_code == 200 and done.headers["x-cache-status"] == "GENERATED"
        assert len(provider.synthesized) == 1
    finally:
        await conn.close()
