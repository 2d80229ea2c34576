"""The periodic expiry task's work: expired rows go, live ones and unfinished queue jobs stay."""

from __future__ import annotations

import asyncpg

from delivery.db.housekeeping import expire_rows
from delivery.db.jobs import defer
from tests.tenancy import make_tenant


async def test_expired_rows_and_old_finished_queue_jobs_are_removed(database_url: str) -> None:
    tenant = await make_tenant(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        for key, expires in (("old", "now() - interval '1 hour'"), ("live", "now() + interval '1 hour'")):
            await conn.execute(
                f"""INSERT INTO idempotency_keys (project_id, key, fingerprint, locked_until, expires_at)
                    VALUES ($1, $2, '\\x00', now(), {expires})""",
                tenant.project.id,
                key,
            )
        finished = await defer(conn, task="promptpix.generate", queue="generations", args={"job_id": "job_x"})
        waiting = await defer(conn, task="promptpix.generate", queue="generations", args={"job_id": "job_y"})
        await conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = $1", finished)
        await conn.execute("UPDATE procrastinate_events SET at = now() - interval '30 days' WHERE job_id = $1", finished)
        removed = await expire_rows(conn, finished_jobs_kept_hours=24)
        assert removed["idempotency_keys"] == 1 and removed["queue_jobs"] == 1
        assert [r["key"] for r in await conn.fetch("SELECT key FROM idempotency_keys")] == ["live"]
        assert [r["id"] for r in await conn.fetch("SELECT id FROM procrastinate_jobs")] == [waiting]
    finally:
        await conn.close()
