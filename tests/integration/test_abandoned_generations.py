"""A generation whose process died is settled by the next request for its key; a waiter elsewhere reports GENERATED.

The waiter test runs two `promptpix serve` processes on one database.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from delivery.app import open_services
from delivery.db.billing import Attribution
from delivery.db.generations import start_generation
from delivery.images.params import GENERATE_NAMES, parse_generate, parse_transform
from delivery.prompts import billing
from delivery.prompts.targets import resolve_target
from delivery.settings import Settings
from harness.processes import start_serve
from harness.urls import urlencode
from tests.fakes import PaidProvider
from tests.images import decode
from tests.tenancy import Tenant, make_tenant

CREDITS = 10


@pytest.fixture
def provider() -> PaidProvider:
    return PaidProvider()  # charged, as a real model is


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=CREDITS, allow_unsigned=True, origins=["*"])


def link(tenant: Tenant, prompt: str) -> str:
    return f"/g/{tenant.project.slug}?" + urlencode({"prompt": prompt, "w": 64, "fm": "png", "key": tenant.publishable_id})


async def crashed_attempt(settings: Settings, provider: PaidProvider, tenant: Tenant, prompt: str) -> int:
    """What a process killed mid-generation leaves: a pending row and its debit, and no claim held."""
    query = {"prompt": prompt, "w": "64", "fm": "png", "key": tenant.publishable_id}
    async with open_services(settings, provider=provider) as services, services.pool.acquire() as conn:
        target = await resolve_target(
            services, conn, tenant.project, parse_generate(query, max_prompt_chars=2000), parse_transform(query, allowed_extra=GENERATE_NAMES)
        )
        async with conn.transaction():
            generation_id = await start_generation(
                conn, project_id=tenant.project.id, generation_key=target.key, provider=target.choice.provider, model=target.model
            )
            payer = Attribution(generation_id=generation_id, project_id=tenant.project.id, key_id=tenant.publishable_id, model=target.model)
            await billing.reserve(conn, organization_id=tenant.org, cost=target.choice.price, payer=payer, now=dt.datetime.now(dt.UTC))
    return generation_id


async def test_a_retry_after_a_crash_settles_the_dead_attempt_and_is_charged_once(
    client: AsyncTestClient, tenant: Tenant, settings: Settings, provider: PaidProvider
) -> None:
    dead = await crashed_attempt(settings, provider, tenant, "a lighthouse at night")
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT balance FROM billing_accounts WHERE organization_id = $1", tenant.org) == CREDITS - 1
        response = await client.get(link(tenant, "a lighthouse at night"))  # the client retries at once: no sweep has run
        assert response.status_code == 200 and response.headers["x-cache-status"] == "GENERATED"
        image, fmt = decode(response.content)
        assert (fmt, image.width) == ("png", 64)
        assert len(provider.synthesized) == 1
        row = await conn.fetchrow("SELECT status, error FROM generations WHERE id = $1", dead)
        assert row["status"] == "failed" and row["error"].startswith("abandoned")
        kinds = [r["kind"] for r in await conn.fetch("SELECT kind FROM ledger WHERE generation_id = $1 ORDER BY id", dead)]
        assert kinds == ["debit", "refund"]
        assert await conn.fetchval("SELECT balance FROM billing_accounts WHERE organization_id = $1", tenant.org) == CREDITS - 1  # one image, one charge
        assert await conn.fetchval("SELECT count(*) FROM generations WHERE status = 'pending'") == 0
    finally:
        await conn.close()


def test_a_request_that_waited_on_another_process_reports_generated(database_url: str, tmp_path: Path) -> None:
    env = {"PROMPTPIX_OFFLINE_DELAY": "2"}  # the drawing takes 2 s: long enough for the other process to wait on it
    first = start_serve(data_dir=tmp_path / "one", database_url=database_url, env=env)
    second = start_serve(data_dir=tmp_path / "one", database_url=database_url, env=env)  # one storage, as replicas share S3
    try:
        path = first.generate_url.split("/", 3)[3]  # the demo link, the same on both (one database)
        with ThreadPoolExecutor(2) as pool:
            leader = pool.submit(httpx.get, f"{first.base}/{path}", timeout=60)
            time.sleep(0.7)  # the first process holds the claim and is drawing
            waiter = pool.submit(httpx.get, f"{second.base}/{path}", timeout=60)
            answers = [leader.result(), waiter.result()]
        assert [a.status_code for a in answers] == [200, 200]
        assert [a.headers["x-cache-status"] for a in answers] == ["GENERATED", "GENERATED"]  # docs/design.md §5
        assert answers[0].content == answers[1].content
        assert httpx.get(f"{second.base}/{path}", timeout=60).headers["x-cache-status"] == "HIT"
    finally:
        first.stop()
        second.stop()
