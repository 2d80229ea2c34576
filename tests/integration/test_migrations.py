import asyncio

import asyncpg

from delivery.db.migrate import available, migrate


async def test_migrations_apply_once_even_from_two_connections_at_once(empty_database_url: str) -> None:
    a, b = await asyncpg.connect(empty_database_url), await asyncpg.connect(empty_database_url)
    try:
        first, second = await asyncio.gather(migrate(a), migrate(b))
        versions = [v for v, _ in available()]
        assert sorted(first + second) == versions  # each version applied by exactly one caller
        assert await migrate(a) == []
        recorded = [r["version"] for r in await a.fetch("SELECT version FROM schema_migrations ORDER BY version")]
        assert recorded == versions
    finally:
        await a.close()
        await b.close()
