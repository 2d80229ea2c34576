import asyncio
import importlib.metadata

import asyncpg

from delivery.db.migrate import QUEUE_PREFIX, available, migrate, queue_migrations


async def test_migrations_apply_once_even_from_two_connections_at_once(empty_database_url: str) -> None:
    a, b = await asyncpg.connect(empty_database_url), await asyncpg.connect(empty_database_url)
    try:
        first, second = await asyncio.gather(migrate(a), migrate(b))
        queue = QUEUE_PREFIX + importlib.metadata.version("procrastinate")  # the job queue's schema, beside ours
        versions = sorted([queue, *(v for v, _ in available())])
        assert sorted(first + second) == versions  # each version applied by exactly one caller
        assert await migrate(a) == []
        recorded = [r["version"] for r in await a.fetch("SELECT version FROM schema_migrations ORDER BY version")]
        assert recorded == versions
        assert await a.fetchval("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
    finally:
        await a.close()
        await b.close()


def test_the_queue_schema_upgrades_with_the_migrations_shipped_since_the_recorded_version() -> None:
    """A database migrated under an older procrastinate gets the package's migrations since, and only those."""
    steps = queue_migrations("3.3.0", "3.10.0")
    assert steps and all(name.startswith(("03.04", "03.05", "03.06", "03.07", "03.08", "03.09", "03.10")) for name, _ in steps)
    assert queue_migrations("3.10.0", "3.10.0") == []
