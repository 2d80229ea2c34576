"""Generation jobs through the queue: throughput with 1 and 2 workers, and the queue's overhead per job.

    python bench/jobs.py [--jobs 120] [--overhead-runs 30]

Real processes against one embedded PostgreSQL (in a temporary directory):
`promptpix serve` takes the API requests (no worker of its own) and N
`promptpix worker` processes run the jobs with the offline generator.

1. Throughput: `--jobs` jobs with distinct prompts are submitted at once
   (`POST /v1/generations` with `"wait": false`); jobs/s is their count over
   the time from the first submission to the last job's `finished_at`.
2. Overhead: one worker with one job at a time, jobs submitted one after the
   other; per job, (`finished_at` − `created_at` of the job) minus the
   generation's own `latency_ms` (draw and store): what queueing adds —
   the insert and NOTIFY, the worker's fetch, the job row's updates, the finish.
   Medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for harness

import asyncpg
import httpx

from delivery.access.keys import KeySpec, create_key
from delivery.db.billing import create_account
from delivery.db.organizations import create_organization
from delivery.db.projects import create_project
from delivery.ops.embedded import start_embedded_postgres
from harness.processes import Worker, start_serve, start_worker

ENV = {"PROMPTPIX_GENERATOR": "offline", "PROMPTPIX_SERVE_WORKER": "off", "PROMPTPIX_KEY_MISSES_PER_MINUTE": "1000000"}


async def tenant(url: str, slug: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        org = await create_organization(conn, name=slug)
        await create_account(conn, organization_id=org.id, plan="unlimited")
        project = await create_project(conn, organization_id=org.id, slug=slug, name=slug, allowed_origins=[], allow_unsigned=False)
        return (await create_key(conn, project_id=project.id, spec=KeySpec(kind="secret", rate_limit=None))).full_key
    finally:
        await conn.close()


async def wait_done(url: str, slug: str, count: int, timeout: float = 600) -> None:
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = await conn.fetchval(
                "SELECT count(*) FROM jobs j JOIN projects p ON p.id = j.project_id WHERE p.slug = $1 AND j.status IN ('succeeded', 'failed')", slug
            )
            if done >= count:
                failed = await conn.fetchval("SELECT count(*) FROM jobs j JOIN projects p ON p.id = j.project_id WHERE p.slug = $1 AND j.status = 'failed'", slug)
                assert failed == 0, f"{failed} jobs failed"
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError("jobs did not finish")


async def throughput(base: str, url: str, slug: str, jobs: int) -> float:
    key = await tenant(url, slug)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        started = time.time()
        answers = await asyncio.gather(*(http.post("/v1/generations", json={"prompt": f"{slug} job {i}", "wait": False}) for i in range(jobs)))
        assert all(a.status_code == 202 for a in answers), answers[0].text
    await wait_done(url, slug, jobs)
    conn = await asyncpg.connect(url)
    try:
        last = await conn.fetchval("SELECT max(j.finished_at) FROM jobs j JOIN projects p ON p.id = j.project_id WHERE p.slug = $1", slug)
    finally:
        await conn.close()
    return jobs / (last.timestamp() - started)


async def overhead(base: str, url: str, runs: int) -> tuple[float, float]:
    """(median queue overhead ms, median generation ms) per job, one job at a time."""
    key = await tenant(url, "overhead")
    conn = await asyncpg.connect(url)
    over, draw = [], []
    try:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            for i in range(runs + 2):
                job = (await http.post("/v1/generations", json={"prompt": f"overhead {i}", "wait": False})).json()
                while (row := await conn.fetchrow("SELECT status, created_at, finished_at FROM jobs WHERE id = $1", job["id"]))["status"] != "succeeded":
                    await asyncio.sleep(0.005)
                latency = await conn.fetchval(
                    "SELECT g.latency_ms FROM job_candidates c JOIN generations g ON g.id = c.generation_id WHERE c.job_id = $1", job["id"]
                )
                if i >= 2:  # warm-up
                    total = (row["finished_at"] - row["created_at"]).total_seconds() * 1000
                    over.append(total - latency)
                    draw.append(latency)
    finally:
        await conn.close()
    return statistics.median(over), statistics.median(draw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=120)
    parser.add_argument("--overhead-runs", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=4, help="jobs at once per worker")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="promptpix-bench-jobs-") as tmp:
        root = Path(tmp)
        url = start_embedded_postgres(root)
        served = start_serve(data_dir=root / "data", database_url=url, env=ENV)
        workers: list[Worker] = []
        try:
            env = {**ENV, "PROMPTPIX_WORKER_CONCURRENCY": str(args.concurrency)}
            rates = {}
            for count in (1, 2):
                while len(workers) < count:
                    workers.append(start_worker(data_dir=root / "data", database_url=url, env=env, name=f"w{len(workers) + 1}"))
                time.sleep(3)  # registered and listening
                rates[count] = asyncio.run(throughput(served.base, url, f"tp{count}", args.jobs))
            for worker in workers:
                worker.stop()
            workers = [start_worker(data_dir=root / "data", database_url=url, env={**ENV, "PROMPTPIX_WORKER_CONCURRENCY": "1"}, name="solo")]
            time.sleep(3)
            queue_ms, draw_ms = asyncio.run(overhead(served.base, url, args.overhead_runs))
        finally:
            for worker in workers:
                worker.kill()
            served.stop()
    print(f"{args.jobs} jobs, offline generator, {args.concurrency} jobs at once per worker")
    for count, rate in rates.items():
        print(f"  {count} worker{'s' if count > 1 else ' '}: {rate:7.1f} jobs/s")
    print(f"queue overhead per job (one at a time, median of {args.overhead_runs}): {queue_ms:.1f} ms beside {draw_ms:.1f} ms of generation")


if __name__ == "__main__":
    main()
