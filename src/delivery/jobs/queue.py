"""The queue: a procrastinate app on the service's PostgreSQL, its tasks, and running a worker.

Tasks: `promptpix.generate` (a generation job), `promptpix.deliver_webhook`
(one attempt of a webhook message), and periodic ones that used to be loops in
the web process: the sweep (PROMPTPIX_SWEEP_INTERVAL), re-queueing the jobs
of workers whose heartbeat stopped (PROMPTPIX_STALLED_CHECK_INTERVAL), and
removing expired rows. Periodic tasks are deferred once per tick across all
workers (procrastinate's periodic lock), so N workers do the work once.

The web process never opens this app: it queues jobs with SQL in its own
transactions (delivery.db.jobs.defer).
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
from procrastinate.job_context import JobContext

from delivery.access.signing import Keyring
from delivery.assets.sweep import sweep
from delivery.db.housekeeping import expire_rows
from delivery.jobs.runner import GENERATE_TASK, JOB_QUEUE, run_job
from delivery.services import Services
from delivery.settings import Settings
from delivery.webhooks import DELIVER_TASK, WEBHOOK_QUEUE, deliver

__all__ = ["PERIODIC_QUEUE", "QUEUES", "build_queue", "every", "run_worker"]

log = logging.getLogger("promptpix.queue")

PERIODIC_QUEUE = "periodic"  # housekeeping every few seconds or hours: its routine INFO lines are not logged
QUEUES = (JOB_QUEUE, WEBHOOK_QUEUE, PERIODIC_QUEUE)
_FINISHED_JOBS_KEPT_HOURS = 24 * 7


def every(seconds: float) -> str:
    """A cron expression (procrastinate's, with a seconds column) firing about every `seconds`."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"* * * * * */{whole}"
    if whole < 3600:
        return f"*/{max(1, whole // 60)} * * * *"
    return f"0 */{max(1, min(whole // 3600, 23))} * * *"


def _context(context: JobContext) -> tuple[Services, Keyring]:
    extra = context.additional_context
    return extra["services"], extra["keyring"]


def build_queue(settings: Settings, dsn: str) -> procrastinate.App:
    """The app with every task registered; open it (`open_async`) before running a worker."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn, min_size=1, max_size=max(2, settings.worker_concurrency)))

    @app.task(name=GENERATE_TASK, queue=JOB_QUEUE, pass_context=True)
    async def generate(context: JobContext, job_id: str) -> None:
        services, keyring = _context(context)
        await run_job(services, keyring, job_id)

    @app.task(name=DELIVER_TASK, queue=WEBHOOK_QUEUE, pass_context=True)
    async def deliver_webhook(context: JobContext, message_id: str, attempt: int, manual: bool = False) -> None:
        services, _ = _context(context)
        await deliver(services.pool, services.settings, message_id=message_id, attempt=attempt, manual=manual)

    @app.periodic(cron=every(settings.stalled_check_interval), periodic_id="stalled")
    @app.task(name="promptpix.requeue_stalled", queue=PERIODIC_QUEUE, pass_context=True)
    async def requeue_stalled(context: JobContext, timestamp: int) -> None:
        """Jobs of workers whose heartbeat stopped (killed, machine lost) go back to the queue for another worker."""
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=settings.worker_stalled_after):
            log.warning("re-queueing the job of a dead worker", extra={"queue_job": job.id, "task": job.task_name})
            await manager.retry_job(job)
        await manager.prune_stalled_workers(seconds_since_heartbeat=settings.worker_stalled_after)

    @app.periodic(cron=every(settings.sweep_interval or 3600), periodic_id="sweep")
    @app.task(name="promptpix.sweep", queue=PERIODIC_QUEUE, pass_context=True)
    async def periodic_sweep(context: JobContext, timestamp: int) -> None:
        if not settings.sweep_interval:
            return
        services, _ = _context(context)
        await sweep(services.pool, services.storage, apply=True, grace=settings.sweep_grace, pending_after=settings.sweep_pending_after)

    @app.periodic(cron=every(3600), periodic_id="expire")
    @app.task(name="promptpix.expire", queue=PERIODIC_QUEUE, pass_context=True)
    async def expire(context: JobContext, timestamp: int) -> None:
        services, _ = _context(context)
        async with services.pool.acquire() as conn:
            await expire_rows(conn, finished_jobs_kept_hours=_FINISHED_JOBS_KEPT_HOURS)

    return app


async def run_worker(app: procrastinate.App, services: Services, keyring: Keyring, *, install_signal_handlers: bool, name: str) -> None:
    """Run a worker on every queue until cancelled (or, with signal handlers, SIGTERM/SIGINT)."""
    settings = services.settings
    extra: dict[str, Any] = {"services": services, "keyring": keyring}
    await app.run_worker_async(
        queues=list(QUEUES),
        name=name,
        concurrency=settings.worker_concurrency,
        additional_context=extra,
        install_signal_handlers=install_signal_handlers,
        update_heartbeat_interval=settings.worker_heartbeat,
        stalled_worker_timeout=settings.worker_stalled_after,
        shutdown_graceful_timeout=settings.shutdown_timeout,
        wait=True,
    )
