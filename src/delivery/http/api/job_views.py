"""How a generation job is shown: by `/v1/jobs` and by `POST /v1/generations` when it answers 202."""

from __future__ import annotations

import datetime as dt

import msgspec

from delivery.db.jobs import Job, JobStatus

__all__ = ["JobView", "job_view"]


class JobView(msgspec.Struct, frozen=True):
    id: str
    status: JobStatus
    """queued · running · succeeded · failed · cancelled."""
    stage: str
    """What the worker is doing now (`generating candidate 2 of 3`), else the status."""
    count: int
    asset_ids: list[str]
    """One per finished candidate, in candidate order (`/i/{id}` serves each)."""
    asset_urls: list[str]
    error: str | None
    attempts: int
    """Runs started: more than 1 when a worker died and another took the job over."""
    prompt: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    url: str


def job_view(job: Job, base: str) -> JobView:
    return JobView(
        id=job.id, status=job.status, stage=job.stage, count=job.count, asset_ids=job.asset_ids,
        asset_urls=[f"{base}/i/{a}" for a in job.asset_ids], error=job.error, attempts=job.attempts,
        prompt=str(job.request.get("prompt", "")), created_at=job.created_at, started_at=job.started_at,
        finished_at=job.finished_at, url=f"{base}/v1/jobs/{job.id}",
    )  # fmt: skip
