"""Write order and repair: faults between the object and its row, and the sweep that cleans up.

Afterwards, in every case: every row's object exists, orphans are swept, and
nothing is stored or charged twice.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from delivery.app import create_app, open_services
from delivery.assets.masters import OBJECT_LOCK_SQL
from delivery.assets.sweep import SWEEP_LOCK, SweepReport, sweep
from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from delivery.storage.fs import FileStorage
from harness.urls import urlencode
from tests.cli import Cli
from tests.fakes import FaultyStorage, PricedProvider
from tests.images import decode
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]


class State(msgspec.Struct, frozen=True):
    assets: list[str]
    """storage keys of asset rows"""
    generations: list[tuple[str, float]]
    """(status, cost) per generation, oldest first"""
    objects: list[str]

    @property
    def charged(self) -> float:
        return sum(cost for status, cost in self.generations if status == "succeeded")


@pytest.fixture
def provider() -> PricedProvider:
    return PricedProvider()


@pytest.fixture
def faulty(settings: Settings) -> FaultyStorage:
    return FaultyStorage(FileStorage(settings.resolved_storage_url.removeprefix("file://")))


@pytest.fixture
async def client(settings: Settings, provider: PricedProvider, faulty: FaultyStorage) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(settings, provider=provider, storage=faulty)) as test_client:
        yield test_client


def g_url(demo: Demo, prompt: str = "a lighthouse in a storm") -> str:
    return f"/g/{demo.project_slug}?" + urlencode({"prompt": prompt, "w": 64, "h": 64, "fm": "png", "key": demo.key_id})


async def state(settings: Settings) -> State:
    conn = await asyncpg.connect(settings.database_url)
    try:
        assets = [r["storage_key"] for r in await conn.fetch("SELECT storage_key FROM assets")]
        generations = [(r["status"], float(r["cost"])) for r in await conn.fetch("SELECT status, cost FROM generations ORDER BY id")]
    finally:
        await conn.close()
    storage = FileStorage(settings.resolved_storage_url.removeprefix("file://"))
    objects = sorted([o.key async for o in storage.list("")]) if storage.root.exists() else []
    return State(assets=assets, generations=generations, objects=objects)


async def run_sweep(settings: Settings, *, apply: bool, grace: float = 0, pending_after: float = 0) -> SweepReport:
    async with open_services(settings) as services:
        return await sweep(services.pool, services.storage, apply=apply, grace=grace, pending_after=pending_after)


async def assert_whole(settings: Settings) -> State:
    """Every row's object exists and no object lacks a row."""
    now = await state(settings)
    assert sorted(now.assets) == now.objects
    return now


async def test_storage_answering_503_on_put_stores_nothing_and_charges_nothing(
    client: AsyncTestClient, demo: Demo, faulty: FaultyStorage, settings: Settings, provider: PricedProvider
) -> None:
    faulty.fail_puts = True
    failed = await client.get(g_url(demo))
    assert failed.status_code == 503
    assert failed.headers["cache-control"] == "no-store" and failed.headers["retry-after"]
    assert decode(failed.content)[1] == "png"
    after = await state(settings)
    assert after.assets == [] and after.objects == [] and after.generations == [("failed", 0.0)]

    faulty.fail_puts = False
    served = await client.get(g_url(demo))
    assert served.status_code == 200 and served.headers["x-cache-status"] == "GENERATED"
    assert (await client.get(g_url(demo))).headers["x-cache-status"] == "HIT"
    whole = await assert_whole(settings)
    assert len(whole.assets) == 1 and whole.charged == 1.0
    assert len(provider.synthesized) == 2  # the failed attempt, and the one that was stored


async def test_an_s3_endpoint_answering_503_is_a_503_and_not_ready(
    settings: Settings, demo: Demo, s3_answering_503: str, provider: PricedProvider
) -> None:
    on_s3 = msgspec.structs.replace(
        settings, storage_url="s3://media", s3_endpoint=s3_answering_503, aws_access_key_id="a", aws_secret_access_key="b"
    )
    async with AsyncTestClient(app=create_app(on_s3, provider=provider)) as s3_client:
        ready = await s3_client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["storage"] == "unreachable"
        failed = await s3_client.get(g_url(demo))
    assert failed.status_code == 503 and decode(failed.content)[1] == "png"
    after = await state(settings)
    assert after.assets == [] and after.generations == [("failed", 0.0)]


async def test_database_down_after_put_leaves_an_orphan_the_sweep_removes(
    client: AsyncTestClient, demo: Demo, faulty: FaultyStorage, settings: Settings, postgres_url: str
) -> None:
    database = urlsplit(settings.database_url).path.lstrip("/")

    async def database_goes_down(key: str) -> None:
        admin = await asyncpg.connect(postgres_url)
        try:
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database)
        finally:
            await admin.close()

    faulty.after_put = database_goes_down
    failed = await client.get(g_url(demo), headers={"Accept": "application/json"})
    assert failed.status_code == 503, failed.text
    assert "database" in failed.json()["detail"] and "Traceback" not in failed.text
    faulty.after_put = None
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()

    after = await state(settings)
    assert after.assets == [] and len(after.objects) == 1 and after.generations == [("pending", 0.0)]
    dry = await run_sweep(settings, apply=False)
    assert [o.key for o in dry.orphans] == after.objects and len(dry.abandoned) == 1
    assert await state(settings) == after  # a dry run changes nothing
    young = await run_sweep(settings, apply=True, grace=3600, pending_after=3600)
    assert young.orphans == () and young.abandoned == ()  # the grace period protects fresh writes

    applied = await run_sweep(settings, apply=True)
    assert [o.key for o in applied.orphans] == after.objects
    swept = await state(settings)
    assert swept.objects == [] and swept.generations == [("failed", 0.0)]

    served = await client.get(g_url(demo))
    assert served.status_code == 200 and served.headers["x-cache-status"] == "GENERATED"
    whole = await assert_whole(settings)
    assert len(whole.assets) == 1 and whole.charged == 1.0


async def test_a_process_killed_between_put_and_insert(
    client: AsyncTestClient, demo: Demo, settings: Settings, provider: PricedProvider
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "PROMPTPIX_DATABASE_URL": settings.database_url,
        "PROMPTPIX_DATA_DIR": settings.data_dir,
        "PROMPTPIX_SWEEP_INTERVAL": "0",
        "PROMPTPIX_LOG_REQUESTS": "false",
    }
    crashed = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tests.crash_after_put", g_url(demo)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    assert crashed.stdout.startswith("stored masters/")

    after = await state(settings)
    assert after.assets == [] and len(after.objects) == 1 and after.generations == [("pending", 0.0)]
    report = await run_sweep(settings, apply=True)
    assert [o.key for o in report.orphans] == after.objects and len(report.abandoned) == 1
    assert await state(settings) == State(assets=[], generations=[("failed", 0.0)], objects=[])

    served = await client.get(g_url(demo))
    assert served.headers["x-cache-status"] == "GENERATED"
    whole = await assert_whole(settings)
    assert len(whole.assets) == 1 and whole.charged == 1.0 and len(provider.synthesized) == 1


async def test_the_sweep_never_touches_live_writes_or_referenced_objects(
    client: AsyncTestClient, demo: Demo, settings: Settings
) -> None:
    await client.get(g_url(demo))
    storage = FileStorage(settings.resolved_storage_url.removeprefix("file://"))
    await storage.put("masters/1/ab/abandoned.png", b"x", content_type="image/png")
    await storage.put("masters/1/cd/being-written.png", b"y", content_type="image/png")
    conn = await asyncpg.connect(settings.database_url)
    try:
        pending = await conn.fetchval(
            "INSERT INTO generations (project_id, generation_key, status, provider, model) "
            "SELECT id, 'live-key', 'pending', 'offline', 'm' FROM projects LIMIT 1 RETURNING id"
        )
        async with conn.transaction():  # a writer between PUT and INSERT, and a generation in flight
            await conn.execute(f"SELECT pg_advisory_xact_lock_shared({OBJECT_LOCK_SQL})", "masters/1/cd/being-written.png")
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('live-key', 0))")
            report = await run_sweep(settings, apply=True)
        assert [o.key for o in report.orphans] == ["masters/1/ab/abandoned.png"]
        assert report.abandoned == () and report.skipped == 2
        assert await conn.fetchval("SELECT status FROM generations WHERE id = $1", pending) == "pending"
    finally:
        await conn.close()
    assert await storage.exists("masters/1/cd/being-written.png")
    assert not await storage.exists("masters/1/ab/abandoned.png")
    [kept] = (await state(settings)).assets
    assert await storage.exists(kept)


async def test_a_write_cut_short_on_disk_is_swept_like_an_orphan(settings: Settings, demo: Demo) -> None:
    storage = FileStorage(settings.resolved_storage_url.removeprefix("file://"))
    leftover = storage.root / "masters/1/ab/.tmp-k2j4h1"  # FileStorage's temporary name, killed before its rename
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half an ima")
    report = await run_sweep(settings, apply=True)
    assert [o.key for o in report.orphans] == ["masters/1/ab/.tmp-k2j4h1"]
    assert not leftover.exists()


async def test_one_sweep_at_a_time_and_once_per_interval(settings: Settings, demo: Demo) -> None:
    async with open_services(settings) as services:
        first = await sweep(services.pool, services.storage, apply=True, grace=0, pending_after=0, unless_swept_within=3600)
        again = await sweep(services.pool, services.storage, apply=True, grace=0, pending_after=0, unless_swept_within=3600)
        assert first.ran and not again.ran
        async with services.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM sweep_runs") == 1
            await conn.execute("SELECT pg_advisory_lock($1)", SWEEP_LOCK)  # another process sweeping
            try:
                busy = await sweep(services.pool, services.storage, apply=True, grace=0, pending_after=0)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", SWEEP_LOCK)
        assert not busy.ran
        assert (await sweep(services.pool, services.storage, apply=False, grace=0, pending_after=0)).ran


def test_the_sweep_command_is_a_dry_run_unless_told_to_apply(settings: Settings, demo: Demo, cli: Cli) -> None:
    orphan = Path(settings.resolved_storage_url.removeprefix("file://")) / "masters/1/ef/orphan.png"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"z")
    cli.env(PROMPTPIX_DATABASE_URL=settings.database_url or "", PROMPTPIX_DATA_DIR=settings.data_dir)

    young = cli("sweep")
    assert young.code == 0
    assert "would delete object masters/1/ef/orphan.png" not in young.out and "nothing to repair" in young.out  # younger than the grace
    dry = cli("sweep", "--grace", "0")
    assert dry.code == 0
    assert "would delete object masters/1/ef/orphan.png (1 bytes" in dry.out and "--apply" in dry.out
    assert orphan.exists()
    applied = cli("sweep", "--grace", "0", "--apply")
    assert applied.code == 0 and "deleted object masters/1/ef/orphan.png" in applied.out
    assert not orphan.exists()


async def test_the_service_sweeps_periodically_when_asked(settings: Settings, demo: Demo) -> None:
    """The sweep is a periodic task of the queue: here run by the worker inside the app's process."""
    orphan = Path(settings.resolved_storage_url.removeprefix("file://")) / "masters/1/ef/orphan.png"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"z")
    periodic = msgspec.structs.replace(settings, sweep_interval=1, sweep_grace=0, serve_worker="on")
    async with AsyncTestClient(app=create_app(periodic, provider=PricedProvider())):
        await until(lambda: not orphan.exists(), "a periodic sweep deletes the orphan", timeout=30)
