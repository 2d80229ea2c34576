"""Generation jobs on the queue, run by real `promptpix worker` processes against one PostgreSQL.

The API is a real `promptpix serve` with an external database, so it runs no
worker of its own; the workers generate through the real google-genai client
against the fake Gemini (a paid provider, so every candidate is charged and
the ledger shows debits and refunds).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from harness.fake_gemini import API_KEY, FakeGemini, Reply
from harness.processes import Serve, Worker, start_serve, start_worker
from tests.images import decode
from tests.tenancy import Tenant, make_tenant
from tests.waiting import until

WORKER_ENV = {
    # A dead worker's jobs are queued again within a few seconds, not the default 30 s.
    "PROMPTPIX_WORKER_HEARTBEAT": "0.5",
    "PROMPTPIX_WORKER_STALLED_AFTER": "3",
    "PROMPTPIX_STALLED_CHECK_INTERVAL": "1",
}


@pytest.fixture
def env(fake_gemini: FakeGemini) -> dict[str, str]:
    return {"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": API_KEY, "PROMPTPIX_GEMINI_BASE_URL": fake_gemini.url, **WORKER_ENV}


@pytest.fixture
def api(tmp_path: Path, database_url: str, env: dict[str, str]) -> Iterator[Serve]:
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url, env=env)
    yield served
    served.stop()


class Workers:
    """`promptpix worker` processes on the test's database, started on demand, killed at the end."""

    def __init__(self, data_dir: Path, database_url: str, env: dict[str, str]) -> None:
        self.data_dir, self.database_url, self.env = data_dir, database_url, env
        self.started: list[Worker] = []

    def start(self, name: str) -> Worker:
        worker = start_worker(data_dir=self.data_dir, database_url=self.database_url, env=self.env, name=name)
        self.started.append(worker)
        return worker


@pytest.fixture
def workers(tmp_path: Path, database_url: str, env: dict[str, str], api: Serve) -> Iterator[Workers]:
    """Started after `serve` migrated."""
    pool = Workers(tmp_path / "data", database_url, env)
    yield pool
    for worker in pool.started:
        worker.kill()


@pytest.fixture
async def tenant(database_url: str, api: Serve) -> Tenant:
    return await make_tenant(database_url, credits=1000)


def bearer(tenant: Tenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.secret_key}"}


async def ledger(database_url: str, org: int) -> tuple[int, int, int]:
    """(debits, refunds, net credits spent) of the organisation."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            """SELECT count(*) FILTER (WHERE kind = 'debit') AS debits, count(*) FILTER (WHERE kind = 'refund') AS refunds,
                      -coalesce(sum(credits) FILTER (WHERE kind IN ('debit', 'refund')), 0) AS net
               FROM ledger WHERE organization_id = $1""",
            org,
        )
    finally:
        await conn.close()
    return row["debits"], row["refunds"], row["net"]


async def wait_for(http: httpx.AsyncClient, url: str, status: str, timeout: float = 90) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal seen
        seen = (await http.get(url)).json()
        assert seen["status"] not in {"failed", "cancelled"} - {status}, seen
        return seen["status"] == status

    await until(done, f"the job is {status}", timeout=timeout, interval=0.1)
    return seen


async def test_a_worker_in_another_process_runs_a_job_the_client_polls(api: Serve, workers: Workers, tenant: Tenant, database_url: str) -> None:
    workers.start("w1")
    async with httpx.AsyncClient(base_url=api.base, headers=bearer(tenant), timeout=30) as http:
        answer = await http.post("/v1/generations", json={"prompt": "a lighthouse in fog", "wait": False, "aspect_ratio": "16:9"})
        assert answer.status_code == 202, answer.text
        job = answer.json()
        assert job["status"] == "queued" and job["id"].startswith("job_") and job["asset_ids"] == []
        assert (await ledger(database_url, tenant.org))[0] == 1  # reserved when accepted
        done = await wait_for(http, job["url"].removeprefix(api.base), "succeeded")
        [asset_id] = done["asset_ids"]
        image = await http.get(f"/i/{asset_id}", params={"w": 320, "fm": "png"})
        assert image.status_code == 200
        decoded, fmt = decode(image.content)
        assert (fmt, decoded.width, decoded.height) == ("png", 320, 183)  # a 16:9 master is 1344×768
        listed = (await http.get("/v1/jobs")).json()
        assert [j["id"] for j in listed] == [job["id"]]
        # The same order synchronously finds the job's asset: same key, no second draw or charge.
        again = await http.post("/v1/generations", json={"prompt": "a lighthouse in fog", "aspect_ratio": "16:9"})
        assert again.json()["asset"]["id"] == asset_id and again.json()["generated"] is False
    debits, refunds, _ = await ledger(database_url, tenant.org)
    assert (debits, refunds) == (1, 0)


async def test_prefer_respond_async_makes_a_job_and_count_makes_distinct_candidates(
    api: Serve, workers: Workers, tenant: Tenant, database_url: str, fake_gemini: FakeGemini
) -> None:
    workers.start("w1")
    async with httpx.AsyncClient(base_url=api.base, headers=bearer(tenant), timeout=30) as http:
        answer = await http.post("/v1/generations", json={"prompt": "three pears", "count": 3}, headers={"Prefer": "respond-async"})
        assert answer.status_code == 202, answer.text
        done = await wait_for(http, f"/v1/jobs/{answer.json()['id']}", "succeeded")
        assert len(done["asset_ids"]) == 3 and len(set(done["asset_ids"])) == 3
        for asset_id in done["asset_ids"]:
            decoded, fmt = decode((await http.get(f"/i/{asset_id}", params={"w": 64, "fm": "png"})).content)
            assert (fmt, decoded.width) == ("png", 64)
        # Candidate i (i > 0) draws with seed i: the image an order (or a `/g/` link) with that seed finds, undrawn.
        for position, asset_id in enumerate(done["asset_ids"]):
            order = {"prompt": "three pears", **({"seed": position} if position else {})}
            found = (await http.post("/v1/generations", json=order)).json()
            assert (found["asset"]["id"], found["generated"]) == (asset_id, False)
        sync = await http.post("/v1/generations", json={"prompt": "three pears", "count": 3})
        assert sync.status_code == 400 and "wait" in sync.json()["detail"]
    assert len(fake_gemini.of("synthesize")) == 3
    debits, refunds, _ = await ledger(database_url, tenant.org)
    assert (debits, refunds) == (3, 0)


async def test_a_job_naming_a_style_is_accepted_and_queued(api: Serve, tenant: Tenant, database_url: str) -> None:
    """Accepting a job resolves its style (and any @names) on the accepting transaction's own connection."""
    async with httpx.AsyncClient(base_url=api.base, headers=bearer(tenant), timeout=30) as http:
        assert (await http.put("/v1/styles/ink", json={"prompt": "sumi-e ink wash"})).status_code in (200, 201)
        answer = await http.post("/v1/generations", json={"prompt": "a heron", "style": "ink", "wait": False})
        assert answer.status_code == 202, answer.text
        missing = await http.post("/v1/generations", json={"prompt": "a heron", "style": "nope", "wait": False})
        assert missing.status_code == 422, missing.text
    assert (await ledger(database_url, tenant.org))[0] == 1  # the refused order reserved nothing


async def test_cancelling_a_queued_job_refunds_it(api: Serve, tenant: Tenant, database_url: str) -> None:
    """No worker runs, so the job stays queued until it is cancelled."""
    async with httpx.AsyncClient(base_url=api.base, headers=bearer(tenant), timeout=30) as http:
        job = (await http.post("/v1/generations", json={"prompt": "a queued fox", "wait": False, "count": 2})).json()
        debits, _, net = await ledger(database_url, tenant.org)
        assert debits == 2 and net > 0
        queued = await http.get(f"/v1/jobs/{job['id']}")
        assert queued.json()["status"] == "queued" and queued.headers["retry-after"] == "1"  # when to poll again
        cancelled = await http.delete(f"/v1/jobs/{job['id']}")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        finished = await http.get(f"/v1/jobs/{job['id']}")
        assert finished.json()["status"] == "cancelled" and "retry-after" not in finished.headers
        again = await http.delete(f"/v1/jobs/{job['id']}")
        assert again.status_code == 409
        assert (await http.get("/v1/jobs/job_000000000000000000000000")).status_code == 404
    debits, refunds, net = await ledger(database_url, tenant.org)
    assert (debits, refunds, net) == (2, 2, 0)


async def test_a_killed_worker_s_job_is_finished_by_another_with_one_asset_and_one_debit(
    api: Serve, workers: Workers, tenant: Tenant, database_url: str, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script("synthesize", Reply.delayed(30))  # the first draw hangs until its worker is killed
    first: Worker = workers.start("doomed")
    async with httpx.AsyncClient(base_url=api.base, headers=bearer(tenant), timeout=30) as http:
        job = (await http.post("/v1/generations", json={"prompt": "a phoenix", "wait": False})).json()
        await until(lambda: len(fake_gemini.of("synthesize")) == 1, "the first worker is drawing", timeout=60)
        first.kill()
        workers.start("survivor")
        done = await wait_for(http, f"/v1/jobs/{job['id']}", "succeeded", timeout=120)
        assert done["attempts"] == 2  # run again from the start by the survivor
        [asset_id] = done["asset_ids"]
        assert (await http.get(f"/i/{asset_id}", params={"fm": "png", "w": 50})).status_code == 200
    conn = await asyncpg.connect(database_url)
    try:
        assets = await conn.fetchval("SELECT count(*) FROM assets WHERE project_id = $1", tenant.project.id)
        pending = await conn.fetchval("SELECT count(*) FROM generations WHERE project_id = $1 AND status = 'pending'", tenant.project.id)
    finally:
        await conn.close()
    assert (assets, pending) == (1, 0)
    debits, refunds, net = await ledger(database_url, tenant.org)
    assert debits - refunds == 1 and net > 0


async def test_serve_runs_jobs_itself_when_asked(tmp_path: Path, database_url: str, env: dict[str, str]) -> None:
    """PROMPTPIX_SERVE_WORKER=on (the default with the embedded database): one command, no separate worker."""
    served = start_serve(data_dir=tmp_path / "solo", database_url=database_url, env={**env, "PROMPTPIX_SERVE_WORKER": "on"})
    try:
        tenant = await make_tenant(database_url, credits=10)
        async with httpx.AsyncClient(base_url=served.base, headers=bearer(tenant), timeout=30) as http:
            job = (await http.post("/v1/generations", json={"prompt": "a solo job", "wait": False})).json()
            done = await wait_for(http, f"/v1/jobs/{job['id']}", "succeeded")
            assert len(done["asset_ids"]) == 1
    finally:
        served.stop()


async def test_a_job_and_a_synchronous_request_for_one_key_make_one_provider_call(
    api: Serve, workers: Workers, tenant: Tenant, database_url: str, fake_gemini: FakeGemini
) -> None:
    """They share the claim (prompts/claims.py): the request waits for the job's draw and serves its asset."""
    fake_gemini.script("synthesize", Reply.delayed(3))
    workers.start("w1")
    async with httpx.AsyncClient(base_url=api.base, headers=bearer(tenant), timeout=60) as http:
        job = (await http.post("/v1/generations", json={"prompt": "a shared heron", "wait": False})).json()
        await until(lambda: len(fake_gemini.of("synthesize")) == 1, "the worker is drawing", timeout=60)
        sync = (await http.post("/v1/generations", json={"prompt": "a shared heron"})).json()
        done = await wait_for(http, f"/v1/jobs/{job['id']}", "succeeded")
        assert sync["asset"]["id"] == done["asset_ids"][0]
        # The signed /g/ link the answer carries is the same image, served without drawing.
        link = await http.get(sync["link"], headers={"Authorization": ""})
        assert link.status_code == 200 and link.headers["x-cache-status"] != "GENERATED"
        assert decode(link.content)[0].width == sync["asset"]["width"]
    assert len(fake_gemini.of("synthesize")) == 1
    debits, refunds, _ = await ledger(database_url, tenant.org)
    assert debits - refunds == 1
