"""Run a generation job: each candidate through the `/g/` path, under the reservation made when it was accepted.

A run is safe to repeat: a worker killed mid-generation leaves the job
`running` and its queue entry `doing`; once its heartbeat stops, the periodic
check queues it again (`delivery.jobs.queue`) and another worker runs it from
the start. Candidates already stored are found by their generation key, and
the one that was being drawn draws again under the same reservation (still
pending, its claim released with the dead worker's connection), so a kill
leaves one asset per candidate and one debit.
"""

from __future__ import annotations

import logging
from typing import Any

from delivery.access.signing import Keyring
from delivery.db.api_keys import get_api_key
from delivery.db.jobs import Job, finish_job, job_candidates, start_job, update_job
from delivery.db.projects import get_project
from delivery.db.webhooks import emit
from delivery.errors import ServiceError, public_error
from delivery.prompts.ondemand import release_reservation
from delivery.prompts.orders import GenerationOrder, candidate, generate_for_api
from delivery.services import Services
from generation import GenerationError

__all__ = ["GENERATE_TASK", "JOB_QUEUE", "job_event_data", "run_job"]

log = logging.getLogger("promptpix.jobs")

GENERATE_TASK = "promptpix.generate"
JOB_QUEUE = "generations"


def job_event_data(job: Job) -> dict[str, Any]:
    return {
        "job": {
            "id": job.id,
            "status": job.status,
            "count": job.count,
            "asset_ids": job.asset_ids,
            "error": job.error,
            "prompt": job.request.get("prompt"),
        }
    }


async def _release_all(services: Services, reservations: list[int | None], reason: str) -> None:
    async with services.pool.acquire() as conn:
        for generation_id in reservations:
            if generation_id is not None:
                await release_reservation(conn, generation_id, reason)


async def run_job(services: Services, keyring: Keyring, job_id: str) -> None:
    async with services.pool.acquire() as conn:
        job = await start_job(conn, id=job_id)
        if job is None:
            return  # cancelled, or finished by an earlier run
        project = await get_project(conn, id=job.project_id)
        key = await get_api_key(conn, id=job.key_id)
        reservations = await job_candidates(conn, job_id=job.id)
    order = GenerationOrder(**{k: v for k, v in job.request.items() if k in GenerationOrder.__struct_fields__})
    assets: list[str] = []
    try:
        if project is None or key is None:
            raise LookupError("the job's project or key no longer exists")
        for position, reserved in enumerate(reservations):
            async with services.pool.acquire() as conn:
                await update_job(conn, id=job.id, stage=f"generating candidate {position + 1} of {job.count}", asset_ids=assets)
            made = await generate_for_api(services, keyring, project, key, candidate(order, position), reserved=reserved)
            assets.append(made.asset.id)
            if reserved is not None:  # a joined or existing generation drew nothing on it
                async with services.pool.acquire() as conn:
                    await release_reservation(conn, reserved, "not drawn: the asset existed")
    except Exception as exc:
        if isinstance(exc, ServiceError | GenerationError):
            message = public_error(exc).message
        else:
            message = "internal error"
            log.exception("job failed", extra={"job": job.id})
        await _release_all(services, reservations[len(assets):], f"job failed: {message}")
        async with services.pool.acquire() as conn, conn.transaction():
            failed = await finish_job(conn, id=job.id, status="failed", asset_ids=assets, error=message)
            if failed is not None:
                await emit(conn, project_id=failed.project_id, event="generation.failed", data=job_event_data(failed))
        return
    async with services.pool.acquire() as conn, conn.transaction():
        done = await finish_job(conn, id=job.id, status="succeeded", asset_ids=assets)
        if done is not None:
            await emit(conn, project_id=done.project_id, event="generation.succeeded", data=job_event_data(done))
