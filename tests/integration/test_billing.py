"""Who pays: reservations under concurrency, refunds, allowances, floors, and the ledger."""

from __future__ import annotations

import asyncio
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest
from litestar.testing import AsyncTestClient, TestClient

from delivery.access.links import sign_link
from delivery.app import create_app
from delivery.db.api_keys import get_api_key
from delivery.db.billing import Attribution, create_account, debit_generation, get_account, post_entry, refund_generation
from delivery.db.generations import start_generation
from delivery.db.organizations import create_organization
from delivery.db.projects import create_project, get_project_by_slug
from delivery.settings import Settings
from generation.errors import PromptRejected
from generation.models import GenerationRequest
from generation.providers.base import Synthesis
from tests.fakes import CountingProvider, PaidProvider
from tests.images import decode
from tests.tenancy import Tenant, make_tenant

UTC = dt.UTC

@pytest.fixture
def provider() -> PaidProvider:
    """A paid provider's stand-in: offline images are never charged, and this module is about what is."""
    return PaidProvider()



async def signed_links(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, prompts: list[str], width: int = 64
) -> list[str]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        project = await get_project_by_slug(conn, slug=tenant.project.slug)
        key = await get_api_key(conn, id=tenant.publishable_id)
        now = dt.datetime.now(UTC)
        return [
            await sign_link(conn, client.app.state.keyring, project=project, key=key, params={"prompt": p, "w": str(width), "fm": "png"}, expires=None, now=now)
            for p in prompts
        ]
    finally:
        await conn.close()


async def ledger_rows(url: str, org: int) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch("SELECT * FROM ledger WHERE organization_id = $1 ORDER BY id", org)
    finally:
        await conn.close()


async def balance(url: str, org: int) -> int:
    conn = await asyncpg.connect(url)
    try:
        return (await get_account(conn, organization_id=org, now=dt.datetime.now(UTC))).balance
    finally:
        await conn.close()


async def test_a_balance_for_ten_generations_buys_exactly_ten_of_a_hundred_concurrent_misses(
    client: AsyncTestClient, settings: Settings, provider: CountingProvider
) -> None:
    tenant = await make_tenant(settings.database_url or "", credits=10, rate_limit=1000)
    links = await signed_links(client, settings, tenant, [f"prompt number {i}" for i in range(100)])

    # The async test client runs requests one after another; a sync client driven from
    # threads makes the hundred misses really overlap inside the app (and the provider is
    # slowed so the reservations race while generations are in flight).
    provider.delay = 0.2
    with TestClient(app=create_app(settings, provider=provider)) as concurrent, ThreadPoolExecutor(50) as pool:
        responses = await asyncio.to_thread(lambda: list(pool.map(concurrent.get, links)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 10 and statuses.count(402) == 90, statuses
    assert len(provider.synthesized) == 10
    for response in responses:
        image, fmt = decode(response.content)
        if response.status_code == 200:
            assert response.headers["x-cache-status"] == "GENERATED" and (image.width, fmt) == (64, "png")
        else:
            assert response.headers["cache-control"] == "no-store" and image.width <= 128
            assert "out of credits" in response.headers["x-error"]
    rows = await ledger_rows(settings.database_url or "", tenant.org)
    assert [r["kind"] for r in rows] == ["grant"] + ["debit"] * 10
    assert sum(r["credits"] for r in rows if r["kind"] == "debit") == -10  # the balance change, 10 -> 0
    assert await balance(settings.database_url or "", tenant.org) == 0 == sum(r["credits"] for r in rows)
    assert rows[-1]["balance_after"] == 0


async def test_each_key_has_a_miss_rate_limit_and_hits_are_not_limited(
    client: AsyncTestClient, settings: Settings, provider: CountingProvider
) -> None:
    tenant = await make_tenant(settings.database_url or "", credits=100, rate_limit=2)
    first, second, third = await signed_links(client, settings, tenant, ["one", "two", "three"])
    assert (await client.get(first)).status_code == 200
    assert (await client.get(second)).status_code == 200
    limited = await client.get(third)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 30  # one miss every 30 s at 2 a minute
    image, fmt = decode(limited.content)
    assert fmt == "png" and image.width <= 128
    for _ in range(5):
        assert (await client.get(first)).headers["x-cache-status"] == "HIT"
    assert len(provider.synthesized) == 2
    assert await balance(settings.database_url or "", tenant.org) == 98


async def test_hits_need_no_quota_misses_do(client: AsyncTestClient, settings: Settings, provider: CountingProvider) -> None:
    tenant = await make_tenant(settings.database_url or "", plan="free", monthly_allowance=1, rate_limit=1000)
    first, second = await signed_links(client, settings, tenant, ["kept", "refused"])
    assert (await client.get(first)).status_code == 200
    refused = await client.get(second, headers={"Accept": "application/json"})
    assert refused.status_code == 402
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["status"] == 402
    (variant,) = await signed_links(client, settings, tenant, ["kept"], width=32)  # another variant of the stored master
    for _ in range(3):
        again = await client.get(variant)
        assert again.status_code == 200 and decode(again.content)[0].width == 32
    assert len(provider.synthesized) == 1


class RefusingProvider(PaidProvider):
    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        self.synthesized.append(request)
        raise PromptRejected("blocked by the fake's safety filter")


async def test_a_failed_generation_is_refunded_exactly_once(settings: Settings) -> None:
    refusing = RefusingProvider()
    async with AsyncTestClient(app=create_app(settings, provider=refusing)) as client:
        tenant = await make_tenant(settings.database_url or "", credits=5, rate_limit=1000)
        (link,) = await signed_links(client, settings, tenant, ["something refused"])
        response = await client.get(link)
        assert response.status_code == 422
        assert len(refusing.synthesized) == 1
    url = settings.database_url or ""
    rows = await ledger_rows(url, tenant.org)
    assert [(r["kind"], r["credits"]) for r in rows] == [("grant", 5), ("debit", -1), ("refund", 1)]
    generation_id = rows[1]["generation_id"]
    assert rows[2]["generation_id"] == generation_id
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT status FROM generations WHERE id = $1", generation_id) == "failed"
        # Refunding again, even twice at once from two connections, changes nothing.
        other = await asyncpg.connect(url)
        try:
            now = dt.datetime.now(UTC)
            again = await asyncio.gather(
                refund_generation(conn, generation_id=generation_id, now=now),
                refund_generation(other, generation_id=generation_id, now=now),
            )
        finally:
            await other.close()
        assert again == [None, None]
    finally:
        await conn.close()
    assert len(await ledger_rows(url, tenant.org)) == 3
    assert await balance(url, tenant.org) == 5


async def _account(conn: asyncpg.Connection, plan: str, **fields: object) -> tuple[int, int]:
    org = await create_organization(conn, name=plan)
    await create_account(conn, organization_id=org.id, plan=plan, **fields)  # type: ignore[arg-type]  # a table of account fields, checked by the query
    project = await create_project(conn, organization_id=org.id, slug=f"p-{org.id}", name=plan)
    return org.id, project.id


async def _debit(conn: asyncpg.Connection, org: int, project: int, now: dt.datetime, cost: int = 1) -> bool:
    async with conn.transaction():
        generation = await start_generation(conn, project_id=project, generation_key=f"k{now.timestamp()}", provider="t", model="m")
        payer = Attribution(generation_id=generation, project_id=project, key_id=None, model="m")
        return await debit_generation(conn, organization_id=org, cost=cost, now=now, payer=payer) is not None


async def test_the_free_allowance_resets_at_the_month_boundary(client: AsyncTestClient, settings: Settings) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        january = dt.datetime(2031, 1, 31, 23, 59, 59, tzinfo=UTC)
        february = dt.datetime(2031, 2, 1, 0, 0, 0, tzinfo=UTC)
        org, project = await _account(conn, "free", monthly_allowance=2)
        await conn.execute("UPDATE billing_accounts SET period_start = '2031-01-01Z' WHERE organization_id = $1", org)
        assert [await _debit(conn, org, project, january) for _ in range(3)] == [True, True, False]
        assert (await get_account(conn, organization_id=org, now=january)).remaining == 0
        assert (await get_account(conn, organization_id=org, now=february)).remaining == 2  # read as of February
        assert await _debit(conn, org, project, february)
        account = await get_account(conn, organization_id=org, now=february)
        assert (account.used_this_period, account.period_start) == (1, february)
        # A January debit refunded in February does not give February an extra generation.
        january_debit = await conn.fetchval("SELECT min(generation_id) FROM ledger WHERE organization_id = $1", org)
        await refund_generation(conn, generation_id=january_debit, now=february)
        assert (await get_account(conn, organization_id=org, now=february)).used_this_period == 1
        in_period = await conn.fetchval("SELECT sum(quota) FROM ledger WHERE organization_id = $1 AND created_at >= $2", org, february)
        assert in_period == 1
        assert await conn.fetchval("SELECT sum(credits) FROM ledger WHERE organization_id = $1", org) == 0
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("plan", "fields", "grant", "admitted", "final"),
    [
        ("prepaid", {}, 5, 5, 0),
        ("postpaid", {"credit_limit": 3}, 0, 3, -3),
        ("prepaid", {"block_at_zero": False}, 2, 20, -18),
        ("unlimited", {}, 0, 20, -20),
    ],
)
async def test_concurrent_reservations_never_pass_the_floor(
    client: AsyncTestClient, settings: Settings, plan: str, fields: dict[str, object], grant: int, admitted: int, final: int
) -> None:
    url = settings.database_url or ""
    conn = await asyncpg.connect(url)
    try:
        org, project = await _account(conn, plan, **fields)
        if grant:
            await post_entry(conn, organization_id=org, kind="grant", credits=grant, note="", now=dt.datetime.now(UTC))
    finally:
        await conn.close()

    async def attempt(i: int) -> bool:
        own = await asyncpg.connect(url)
        try:
            return await _debit(own, org, project, dt.datetime.now(UTC) + dt.timedelta(microseconds=i))
        finally:
            await own.close()

    results = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert results.count(True) == admitted
    assert await balance(url, org) == final == sum(r["credits"] for r in await ledger_rows(url, org))


async def test_the_ledger_is_append_only(client: AsyncTestClient, settings: Settings) -> None:
    tenant = await make_tenant(settings.database_url or "", credits=3)
    conn = await asyncpg.connect(settings.database_url)
    try:
        for statement in ("UPDATE ledger SET credits = 1000", "DELETE FROM ledger", "TRUNCATE ledger CASCADE"):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute(statement)
        assert [r["credits"] for r in await ledger_rows(settings.database_url or "", tenant.org)] == [3]
    finally:
        await conn.close()
