"""Queries for generation jobs (the API's view) and their candidates' reservations.

The queue's own rows are procrastinate's; these functions also defer and cancel
its jobs through its versioned SQL functions, so a job row, its reservations
and its queue entry are written in one transaction on our connection.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

import asyncpg
import msgspec

from delivery.db.connection import Conn

__all__ = [
    "Job",
    "JobStatus",
    "cancel_queue_job",
    "defer",
    "finish_job",
    "get_job",
    "insert_job",
    "job_candidates",
    "list_jobs",
    "start_job",
    "update_job",
]

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class Job(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: int
    key_id: str
    status: JobStatus
    stage: str
    request: dict[str, Any]
    count: int
    asset_ids: list[str]
    error: str | None
    queue_job_id: int | None
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


_COLUMNS = "id, project_id, key_id, status, stage, request, count, asset_ids, error, queue_job_id, attempts, created_at, started_at, finished_at"


def _job(row: asyncpg.Record | None) -> Job | None:
    if row is None:
        return None
    return Job(**{**row, "request": json.loads(row["request"]), "asset_ids": list(row["asset_ids"])})


async def defer(
    conn: Conn, *, task: str, args: dict[str, Any], queue: str, lock: str | None = None, at: dt.datetime | None = None
) -> int:
    """Queue a procrastinate job (`procrastinate_defer_jobs_v1`, what its own `defer` calls); its id.

    In the caller's transaction: the job exists for workers exactly when the caller's rows do.
    """
    ids = await conn.fetchval(
        "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW($1, $2, 0, $3, NULL, $4::jsonb, $5)::procrastinate_job_to_defer_v1])",
        queue,
        task,
        lock,
        json.dumps(args),
        at,
    )
    return int(ids[0])


async def cancel_queue_job(conn: Conn, *, queue_job_id: int) -> bool:
    """Cancel a procrastinate job still waiting (`todo`); False when a worker took it already."""
    return await conn.fetchval("SELECT procrastinate_cancel_job_v1($1, false, false)", queue_job_id) is not None


async def insert_job(conn: Conn, *, id: str, project_id: int, key_id: str, request: dict[str, Any], count: int) -> Job:
    row = await conn.fetchrow(
        f"""INSERT INTO jobs (id, project_id, key_id, status, request, count)
            VALUES ($1, $2, $3, 'queued', $4::jsonb, $5) RETURNING {_COLUMNS}""",
        id,
        project_id,
        key_id,
        json.dumps(request),
        count,
    )
    job = _job(row)
    assert job is not None
    return job


async def add_candidate(conn: Conn, *, job_id: str, position: int, generation_id: int | None) -> None:
    await conn.execute("INSERT INTO job_candidates (job_id, position, generation_id) VALUES ($1, $2, $3)", job_id, position, generation_id)


async def job_candidates(conn: Conn, *, job_id: str) -> list[int | None]:
    """The reserved generation ids, in candidate order."""
    rows = await conn.fetch("SELECT generation_id FROM job_candidates WHERE job_id = $1 ORDER BY position", job_id)
    return [r["generation_id"] for r in rows]


async def set_queue_job(conn: Conn, *, id: str, queue_job_id: int) -> None:
    await conn.execute("UPDATE jobs SET queue_job_id = $2 WHERE id = $1", id, queue_job_id)


async def get_job(conn: Conn, *, id: str, project_id: int | None = None) -> Job | None:
    """The job; with `project_id`, only if it belongs to that project."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM jobs WHERE id = $1 AND ($2::bigint IS NULL OR project_id = $2)", id, project_id)
    return _job(row)


async def list_jobs(conn: Conn, *, project_id: int, status: str | None, limit: int, before: dt.datetime | None) -> list[Job]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM jobs
            WHERE project_id = $1 AND ($2::text IS NULL OR status = $2) AND ($4::timestamptz IS NULL OR created_at < $4)
            ORDER BY created_at DESC, id DESC LIMIT $3""",
        project_id,
        status,
        limit,
        before,
    )
    return [j for j in map(_job, rows) if j is not None]


async def start_job(conn: Conn, *, id: str) -> Job | None:
    """Mark a queued (or a retried running) job running; None when it is finished or cancelled."""
    row = await conn.fetchrow(
        f"""UPDATE jobs SET status = 'running', stage = 'starting', attempts = attempts + 1, started_at = coalesce(started_at, now())
            WHERE id = $1 AND status IN ('queued', 'running') RETURNING {_COLUMNS}""",
        id,
    )
    return _job(row)


async def update_job(conn: Conn, *, id: str, stage: str, asset_ids: list[str]) -> None:
    await conn.execute("UPDATE jobs SET stage = $2, asset_ids = $3 WHERE id = $1 AND status = 'running'", id, stage, asset_ids)


async def finish_job(
    conn: Conn, *, id: str, status: JobStatus, asset_ids: list[str] | None = None, error: str | None = None, only_if: str = "running"
) -> Job | None:
    """Set a final status, if the job is still `only_if`; None when it was not."""
    row = await conn.fetchrow(
        f"""UPDATE jobs SET status = $2, stage = $2, asset_ids = coalesce($3, asset_ids), error = $4, finished_at = now()
            WHERE id = $1 AND status = $5 RETURNING {_COLUMNS}""",
        id,
        status,
        asset_ids,
        error,
        only_if,
    )
    return _job(row)
