"""`/v1/jobs`: generation jobs (`POST /v1/generations` with `"wait": false`): status, progress, results; cancel while queued."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from litestar import Request, Response, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from delivery.db.jobs import JobStatus, get_job, list_jobs
from delivery.errors import UnknownJob
from delivery.http.api.job_views import JobView, job_view
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.jobs import cancel_job
from delivery.services import Services

__all__ = ["list_project_jobs", "read_job", "remove_job"]

_POLL_AFTER = "1"
"""`Retry-After` on a job still queued or running: a draw takes seconds, so a poll sooner finds nothing new."""
_UNFINISHED = frozenset({"queued", "running"})


@get("/jobs", opt={"scope": "generate"}, summary="The project's generation jobs, newest first", responses=problems())
async def list_project_jobs(
    request: Request,
    principal: NamedDependency[Principal],
    status: Annotated[JobStatus | None, QueryParameter()] = None,
    limit: Annotated[int | None, QueryParameter(ge=1, le=200)] = None,
    before: Annotated[dt.datetime | None, QueryParameter(description="Only jobs created before this time (the last item's `created_at`)")] = None,
) -> list[JobView]:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        jobs = await list_jobs(conn, project_id=principal.project.id, status=status, limit=limit or services.settings.api_page_size, before=before)
    return [job_view(j, services.settings.resolved_public_url) for j in jobs]


@get("/jobs/{job_id:str}", opt={"scope": "generate"}, summary="A generation job; `Retry-After` while it is unfinished", responses=problems(404))
async def read_job(request: Request, principal: NamedDependency[Principal], job_id: FromPath[str]) -> Response[JobView]:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        job = await get_job(conn, id=job_id, project_id=principal.project.id)
    if job is None:
        raise UnknownJob()
    headers = {"Retry-After": _POLL_AFTER} if job.status in _UNFINISHED else {}
    return Response(job_view(job, services.settings.resolved_public_url), headers=headers)


@delete("/jobs/{job_id:str}", opt={"scope": "generate"}, status_code=200, summary="Cancel a queued job and refund it", responses=problems(404, 409))
async def remove_job(request: Request, principal: NamedDependency[Principal], job_id: FromPath[str]) -> JobView:
    services: Services = request.app.state.services
    return job_view(await cancel_job(services, principal.project, job_id), services.settings.resolved_public_url)
