"""Accepting and cancelling generation jobs (`POST /v1/generations` with `"wait": false`, `DELETE /v1/jobs/{id}`)."""

from __future__ import annotations

import secrets

import msgspec

from delivery.db.api_keys import ApiKey
from delivery.db.jobs import Job, add_candidate, cancel_queue_job, defer, finish_job, get_job, insert_job, job_candidates, set_queue_job
from delivery.db.projects import Project
from delivery.db.webhooks import emit_organization
from delivery.errors import InsufficientCredits, JobNotCancellable, UnknownJob
from delivery.jobs.runner import GENERATE_TASK, JOB_QUEUE
from delivery.prompts.ondemand import release_reservation
from delivery.prompts.orders import GenerationOrder, reserve_order
from delivery.services import Services

__all__ = ["cancel_job", "submit_job"]


async def submit_job(services: Services, project: Project, key: ApiKey, order: GenerationOrder) -> Job:
    """Validate, reserve every candidate, record the job and queue it, in one transaction: a refusal leaves nothing."""
    async with services.pool.acquire() as conn:
        try:
            async with conn.transaction():
                reserved = await reserve_order(services, conn, project, key, order)
                job = await insert_job(
                    conn, id="job_" + secrets.token_hex(12), project_id=project.id, key_id=key.id, request=msgspec.to_builtins(order), count=order.count
                )
                for position, generation_id in enumerate(reserved):
                    await add_candidate(conn, job_id=job.id, position=position, generation_id=generation_id)
                queue_job_id = await defer(conn, task=GENERATE_TASK, queue=JOB_QUEUE, args={"job_id": job.id})
                await set_queue_job(conn, id=job.id, queue_job_id=queue_job_id)
        except InsufficientCredits:
            await emit_organization(conn, organization_id=project.organization_id, event="balance.exhausted", data={"organization_id": project.organization_id})
            raise
    return msgspec.structs.replace(job, queue_job_id=queue_job_id)


async def cancel_job(services: Services, project: Project, job_id: str) -> Job:
    """Cancel a job no worker has taken, and refund its reservations; 409 once a worker has it."""
    async with services.pool.acquire() as conn, conn.transaction():
        job = await get_job(conn, id=job_id, project_id=project.id)
        if job is None:
            raise UnknownJob()
        if job.status != "queued" or job.queue_job_id is None or not await cancel_queue_job(conn, queue_job_id=job.queue_job_id):
            raise JobNotCancellable(f"only a queued job can be cancelled; this one is {job.status if job.status != 'queued' else 'starting'}")
        cancelled = await finish_job(conn, id=job.id, status="cancelled", only_if="queued")
        for generation_id in await job_candidates(conn, job_id=job.id):
            if generation_id is not None:
                await release_reservation(conn, generation_id, "job cancelled")
    assert cancelled is not None
    return cancelled
