"""Apply numbered plain-SQL migrations in order, once, under an advisory lock.

Two processes starting at once both call `migrate`; the transaction-scoped
advisory lock makes the second wait and then find nothing left to do.
"""

from __future__ import annotations

from importlib import resources

import asyncpg

__all__ = ["available", "migrate"]

_LOCK_ID = 0x70707078  # "pppx": one lock id for the whole schema


def available() -> list[tuple[str, str]]:
    """(version, sql) for every migration file, in version order."""
    folder = resources.files("delivery.db") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply what is missing; return the versions applied by this call."""
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version text PRIMARY KEY,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in available():
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied.append(version)
    return applied
