"""Apply numbered plain-SQL migrations in order, once, under an advisory lock; and the queue's schema.

Two processes starting at once both call `migrate`; the transaction-scoped
advisory lock makes the second wait and then find nothing left to do.

The job queue (procrastinate, delivery.jobs) keeps its tables in the same
database. Its schema ships with the package: a fresh database gets its
`schema.sql`, recorded in `schema_migrations` as `procrastinate-X.Y.Z`; after
an upgrade of the package, the migration files it ships between the recorded
version and the installed one are applied, in the same transaction and under
the same lock as ours.
"""

from __future__ import annotations

import importlib.metadata
import re
from importlib import resources

from delivery.db.connection import Conn

__all__ = ["QUEUE_PREFIX", "available", "migrate", "queue_migrations"]

_LOCK_ID = 0x70707078  # "pppx": one lock id for the whole schema
QUEUE_PREFIX = "procrastinate-"
_QUEUE_FILE = re.compile(r"^(\d+)\.(\d+)\.(\d+)_\d+_.*\.sql$")


def available() -> list[tuple[str, str]]:
    """(version, sql) for every migration file, in version order."""
    folder = resources.files("delivery.db") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _queue_version() -> str:
    return importlib.metadata.version("procrastinate")


def queue_migrations(since: str, until: str) -> list[tuple[str, str]]:
    """(file name, sql) of procrastinate's migrations after version `since` up to `until`, in order."""
    folder = resources.files("procrastinate.sql") / "migrations"
    found = []
    for f in folder.iterdir():
        match = _QUEUE_FILE.match(f.name)
        if match and _version(since) < tuple(int(g) for g in match.groups()) <= _version(until):
            found.append((f.name, f.read_text(encoding="utf-8")))
    return sorted(found)


async def _migrate_queue(conn: Conn, done: set[str]) -> str | None:
    """Bring procrastinate's schema to the installed package's version; the version recorded, if it changed."""
    current = _queue_version()
    recorded = sorted((v.removeprefix(QUEUE_PREFIX) for v in done if v.startswith(QUEUE_PREFIX)), key=_version)
    if recorded and _version(recorded[-1]) >= _version(current):
        return None
    if recorded:
        for _, sql in queue_migrations(recorded[-1], current):
            await conn.execute(sql)
    elif await conn.fetchval("SELECT to_regclass('procrastinate_jobs') IS NULL"):
        await conn.execute((resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8"))
    # else: applied by hand (procrastinate's own `schema --apply`) at this version; record it
    await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", QUEUE_PREFIX + current)
    return QUEUE_PREFIX + current


async def migrate(conn: Conn) -> list[str]:
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
        queue = await _migrate_queue(conn, done)
        if queue is not None:
            applied.append(queue)
        for version, sql in available():
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied.append(version)
    return applied
