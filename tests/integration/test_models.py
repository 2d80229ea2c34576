"""The model catalogue, per-model prices, usage by provider, and failover between providers.

Gemini (google-genai against harness/fake_gemini.py) and Replicate (the
`replicate` client against harness/fake_replicate.py) are both configured;
the app builds both from its settings, as a deployment would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from delivery.access.links import sign_link
from delivery.app import create_app
from delivery.db.api_keys import get_api_key
from delivery.db.projects import get_project_by_slug
from delivery.settings import Settings
from harness.fake_gemini import API_KEY, FakeGemini, Reply
from harness.fake_replicate import API_TOKEN, FakeReplicate
from harness.fake_replicate import Reply as ReplicateReply
from tests.cli import Cli
from tests.images import decode
from tests.integration.test_billing import balance, ledger_rows
from tests.tenancy import Tenant, make_tenant, operator_key


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_gemini: FakeGemini, fake_replicate: FakeReplicate) -> Settings:
    return Settings(
        database_url=database_url, data_dir=str(tmp_path / "data"), log_requests=False, sweep_interval=0,
        generator="gemini", gemini_api_key=API_KEY, gemini_base_url=fake_gemini.url,
        replicate_api_token=API_TOKEN, replicate_base_url=fake_replicate.url, replicate_poll_interval=0.01,
        generation_attempts=1, breaker_threshold=2, breaker_cooldown=1.0,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings, cli: Cli) -> Tenant:
    """A prepaid tenant, and two models of one family: Gemini first, FLUX on Replicate as its fallback."""
    cli.env(clean=True, PROMPTPIX_DATABASE_URL=settings.database_url or "")
    for args in (
        ["nano", "--provider", "gemini", "--version", "gemini-2.5-flash-image", "--price", "4", "--family", "draw", "--references", "3"],
        ["flux", "--provider", "replicate", "--version", "black-forest-labs/flux-schnell", "--price", "2", "--family", "draw", "--rank", "1"],
    ):
        done = await asyncio.to_thread(cli, "models", "put", *args)  # the CLI runs its own event loop
        assert done.code == 0, done
    return await make_tenant(settings.database_url or "", credits=100)


async def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def link(client: AsyncTestClient, settings: Settings, tenant: Tenant, prompt: str, model: str | None = None) -> str:
    """A signed link, with `model=` signed in when given."""
    params = {"prompt": prompt, "w": "64", "fm": "png"} | ({"model": model} if model else {})
    conn = await asyncpg.connect(settings.database_url)
    try:
        project = await get_project_by_slug(conn, slug=tenant.project.slug)
        key = await get_api_key(conn, id=tenant.publishable_id)
        return await sign_link(conn, client.app.state.keyring, project=project, key=key, params=params, expires=None, now=dt.datetime.now(dt.UTC))
    finally:
        await conn.close()


async def test_model_chooses_provider_key_and_price(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, fake_gemini: FakeGemini, fake_replicate: FakeReplicate
) -> None:
    url = settings.database_url or ""
    flux = await client.get(await link(client, settings, tenant, "a heron", "flux"))
    nano = await client.get(await link(client, settings, tenant, "a heron", "nano"))
    default = await client.get(await link(client, settings, tenant, "a crane"))
    assert [r.status_code for r in (flux, nano, default)] == [200, 200, 200]
    assert decode(flux.content)[0].getpoint(32, 32)[:3] == pytest.approx([170, 90, 40], abs=6)  # the Replicate fake's colour
    assert decode(nano.content)[0].getpoint(32, 32)[:3] == pytest.approx([60, 110, 170], abs=6)  # the Gemini fake's
    assert len(fake_replicate.creates) == 1 and len(fake_gemini.of("synthesize")) == 2  # three keys, three generations

    rows = await fetch(url, "SELECT provider, model, generation_key FROM generations ORDER BY id")
    assert [(r["provider"], r["model"]) for r in rows] == [
        ("replicate", f"black-forest-labs/flux-schnell:{fake_replicate.default_version}"),
        ("gemini", "gemini-2.5-flash-image"),
        ("gemini", "gemini-2.5-flash-image"),
    ]
    assert len({r["generation_key"] for r in rows}) == 3
    same = await client.get(await link(client, settings, tenant, "a crane", "nano"))  # nano pins the default's version
    assert same.headers["x-cache-status"] == "HIT" and len(fake_gemini.of("synthesize")) == 2
    debits = [-r["credits"] for r in await ledger_rows(url, tenant.org) if r["kind"] == "debit"]
    assert debits == [2, 4, 1]  # each model's price; no model= is the deployment's price
    assert await balance(url, tenant.org) == 93

    unknown = await client.get(await link(client, settings, tenant, "a heron", "dall-e"), headers={"accept": "application/json"})
    assert unknown.status_code == 400 and "unknown model `dall-e`" in unknown.json()["detail"]


async def test_project_allow_list_and_default_through_v1(client: AsyncTestClient, settings: Settings, tenant: Tenant, cli: Cli) -> None:
    admin = {"Authorization": f"Bearer {tenant.secret_key}"}
    listed = (await client.get("/v1/models", headers=admin)).json()
    assert [m["name"] for m in listed["models"]] == ["flux", "nano"] and listed["default"] is None
    put = await client.put("/v1/models", json={"default": "flux", "allowed": ["flux"]}, headers=admin)
    assert put.status_code == 200 and [m["name"] for m in put.json()["models"]] == ["flux"]
    assert (await client.put("/v1/models", json={"default": "nano", "allowed": ["flux"]}, headers=admin)).status_code == 422
    assert (await client.put("/v1/models", json={"allowed": ["nope"]}, headers=admin)).status_code == 400

    refused = await client.get(await link(client, settings, tenant, "a kite", "nano"), headers={"accept": "application/json"})
    assert refused.status_code == 400 and "not enabled for this project" in refused.json()["detail"]
    assert (await client.get(await link(client, settings, tenant, "a kite"))).status_code == 200  # the project default: flux
    api = await client.post("/v1/generations", json={"prompt": "a boat", "model": "flux"}, headers=admin)
    assert api.status_code == 201, api.text
    url = settings.database_url or ""
    assert [r["provider"] for r in await fetch(url, "SELECT provider FROM generations ORDER BY id")] == ["replicate", "replicate"]

    assert (await asyncio.to_thread(cli, "models", "disable", "flux")).code == 0
    gone = await client.get(await link(client, settings, tenant, "another kite", "flux"), headers={"accept": "application/json"})
    assert gone.status_code == 400


async def test_a_refusal_debits_nothing_and_usage_by_provider_adds_up_to_the_ledger(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, fake_gemini: FakeGemini, cli: Cli
) -> None:
    url = settings.database_url or ""
    for prompt, model in [("a fox", "flux"), ("a fox", "nano"), ("an owl", "nano"), ("a hare", None)]:
        assert (await client.get(await link(client, settings, tenant, prompt, model))).status_code == 200
    fake_gemini.script("synthesize", Reply.blocked())
    assert (await client.get(await link(client, settings, tenant, "a refused prompt", "nano"))).status_code == 422
    assert await balance(url, tenant.org) == 100 - (2 + 4 + 4 + 1)  # the refused one reserved 4 and got it back

    usage = (await client.get("/v1/billing/usage", headers={"Authorization": f"Bearer {tenant.secret_key}"})).json()
    by_provider = {r["group"]: (r["generations"], r["credits"]) for r in usage["by_provider"]}
    assert by_provider == {"gemini": (3, 9), "replicate": (1, 2)}
    ledger_net = -sum(r["credits"] for r in await ledger_rows(url, tenant.org) if r["kind"] in ("debit", "refund"))
    assert sum(c for _, c in by_provider.values()) == usage["total"]["credits"] == ledger_net == 11

    report = await asyncio.to_thread(cli, "credits", "usage", str(tenant.org), "--by", "provider")
    assert report.code == 0 and [line.split() for line in report.out.splitlines()[1:]] == [
        ["gemini", "3", "9"], ["replicate", "1", "2"], ["total", "4", "11"]
    ]
    margin = await asyncio.to_thread(cli, "models", "margin")
    lines = {tuple(line.split()[1:3]): line.split()[3:] for line in margin.out.splitlines()[1:]}
    assert lines[("gemini", "gemini-2.5-flash-image")][:2] == ["3", "9"]  # 3 drawn (the refusal is not), 9 credits net
    assert float(lines[("gemini", "gemini-2.5-flash-image")][2]) > 0  # Gemini's recorded cost
    assert lines[("replicate", "black-forest-labs/flux-schnell:" + FakeReplicate().default_version)][:3] == ["1", "2", "0.0030"]


def circuit(metrics: str, provider: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "promptpix_provider_circuit_state" and sample.labels.get("provider") == provider:
                return sample.value
    raise AssertionError(f"no circuit sample for {provider}")


async def test_gemini_down_opens_its_circuit_replicate_stands_in_and_gemini_is_tried_after_the_cooldown(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, fake_gemini: FakeGemini, fake_replicate: FakeReplicate
) -> None:
    url = settings.database_url or ""
    fake_gemini.script("synthesize", *[Reply.error(503)] * 10)
    for i in range(3):
        response = await client.get(await link(client, settings, tenant, f"a lighthouse {i}", "nano"))
        assert response.status_code == 200, response.text
    assert len(fake_gemini.of("synthesize")) == 2  # two failures opened the circuit: the third never called Gemini
    assert len(fake_replicate.creates) == 3
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ok" and ready["provider:gemini"] == "open" and ready["provider:replicate"] == "closed"
    assert circuit((await client.get("/metrics")).text, "gemini") == 2

    rows = await fetch(url, "SELECT status, provider, model FROM generations ORDER BY id")
    assert {(r["status"], r["provider"]) for r in rows} == {("succeeded", "replicate")}  # recorded as who drew it
    assets = await fetch(url, "SELECT provider, model FROM assets")
    assert {a["provider"] for a in assets} == {"replicate"}
    debits = [-r["credits"] for r in await ledger_rows(url, tenant.org) if r["kind"] == "debit"]
    assert debits == [4, 4, 4]  # billed as the model asked for

    await asyncio.sleep(1.1)  # the cool-down
    assert (await client.get("/readyz")).json()["provider:gemini"] == "half-open"
    fake_gemini.unscript("synthesize")  # Gemini is back
    recovered = await client.get(await link(client, settings, tenant, "a lighthouse again", "nano"))
    assert recovered.status_code == 200
    assert len(fake_gemini.of("synthesize")) == 3 and len(fake_replicate.creates) == 3  # Gemini was tried again, and drew it
    assert (await client.get("/readyz")).json()["provider:gemini"] == "closed"
    assert circuit((await client.get("/metrics")).text, "gemini") == 0


SDXL = "stability-ai/sdxl:" + "7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc"


async def test_operators_manage_the_catalogue_through_v1(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, fake_gemini: FakeGemini, cli: Cli
) -> None:
    url = settings.database_url or ""
    operator = {"Authorization": f"Bearer {await asyncio.to_thread(operator_key, cli, database_url=url)}"}
    project = {"Authorization": f"Bearer {tenant.secret_key}"}

    added = await client.put(
        "/v1/admin/models/SDXL", json={"provider": "replicate", "version": SDXL, "price": 3, "family": "draw", "fallback_rank": 2}, headers=operator
    )
    assert added.status_code == 200, added.text
    assert added.json() == {
        "name": "sdxl", "provider": "replicate", "version": SDXL, "family": "draw", "fallback_rank": 2, "text_to_image": True,
        "edit": False, "max_references": 0, "price": 3, "enabled": True, "configured": True,
    }
    for path, body, status, words in [
        ("/v1/admin/models/sdxl", {"provider": "replicate", "version": SDXL, "price": -1}, 422, "`price` must be a whole number from 0"),
        ("/v1/admin/models/sdxl", {"provider": "replicate", "version": "sdxl latest", "price": 1}, 422, "`version` must be `owner/name`"),
        ("/v1/admin/models/bad%20name", {"provider": "gemini", "version": "gemini-2.5-flash-image", "price": 1}, 422, "is not a model name"),
        ("/v1/admin/models/sdxl", {"provider": "dall-e", "version": "x", "price": 1}, 400, "provider"),
        ("/v1/admin/models/sdxl", {"provider": "gemini", "version": "x", "price": 1, "cost": 2}, 400, "cost"),
        ("/v1/admin/models/sdxl", {"provider": "gemini", "version": "x", "price": 2**31}, 422, "`price`"),
    ]:
        refused = await client.put(path, json=body, headers=operator)
        assert refused.status_code == status and words in refused.json()["detail"], (body, refused.text)
    unchanged = await fetch(url, "SELECT price, version FROM models WHERE name = 'sdxl'")
    assert [(r["price"], r["version"]) for r in unchanged] == [(3, SDXL)]
    listed = await asyncio.to_thread(cli, "models", "list")  # the CLI reads the same table
    assert f"sdxl: replicate {SDXL}, 3 credits" in listed.out

    # A new price applies to the next generation, in this process, at once.
    repriced = await client.patch("/v1/admin/models/nano", json={"price": 7}, headers=operator)
    assert repriced.status_code == 200 and repriced.json()["price"] == 7 and repriced.json()["version"] == "gemini-2.5-flash-image"
    drawn = await client.get(await link(client, settings, tenant, "a puffin", "nano"))
    assert drawn.status_code == 200 and decode(drawn.content)[0].width == 64
    assert [-r["credits"] for r in await ledger_rows(url, tenant.org) if r["kind"] == "debit"] == [7]

    # Disabling takes a model away from every project; enabling gives it back.
    disabled = await client.patch("/v1/admin/models/flux", json={"enabled": False}, headers=operator)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert [m["name"] for m in (await client.get("/v1/models", headers=project)).json()["models"]] == ["nano", "sdxl"]
    gone = await client.get(await link(client, settings, tenant, "a gannet", "flux"), headers={"accept": "application/json"})
    assert gone.status_code == 400 and "not enabled" in gone.json()["detail"]
    catalogue = (await client.get("/v1/admin/models", headers=operator)).json()
    assert [(m["name"], m["enabled"], m["price"]) for m in catalogue] == [("nano", True, 7), ("flux", False, 2), ("sdxl", True, 3)]

    assert (await client.patch("/v1/admin/models/nope", json={"price": 1}, headers=operator)).status_code == 404
    assert (await client.patch("/v1/admin/models/flux", json={"max_references": -2}, headers=operator)).status_code == 422
    assert (await client.patch("/v1/admin/models/flux", json={"price": 1}, headers=project)).status_code == 403
    assert [r["price"] for r in await fetch(url, "SELECT price FROM models WHERE name = 'flux'")] == [2]
    assert len(fake_gemini.of("synthesize")) == 1


async def test_the_margin_report_through_v1_matches_the_cli(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, fake_gemini: FakeGemini, fake_replicate: FakeReplicate, cli: Cli
) -> None:
    url = settings.database_url or ""
    operator = {"Authorization": f"Bearer {await asyncio.to_thread(operator_key, cli, database_url=url)}"}
    for prompt, model in [("a fox", "flux"), ("a fox", "nano"), ("an owl", "nano")]:
        assert (await client.get(await link(client, settings, tenant, prompt, model))).status_code == 200
    fake_gemini.script("synthesize", Reply.blocked())
    assert (await client.get(await link(client, settings, tenant, "a refused prompt", "nano"))).status_code == 422

    report = await client.get("/v1/admin/margin", params={"credit_value": "0.01"}, headers=operator)
    assert report.status_code == 200, report.text
    body = report.json()
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    flux = f"black-forest-labs/flux-schnell:{fake_replicate.default_version}"
    lines = {(r["provider"], r["model"]): r for r in body["lines"]}
    assert {k: (r["month"], r["generations"], r["credits"]) for k, r in lines.items()} == {
        ("gemini", "gemini-2.5-flash-image"): (month, 2, 8),  # the refusal is neither drawn nor charged
        ("replicate", flux): (month, 1, 2),
    }
    assert lines[("replicate", flux)]["cost"] == pytest.approx(0.003)
    for row in body["lines"]:
        assert row["margin"] == pytest.approx(row["credits"] * 0.01 - row["cost"])
    assert body["credits"] == 10 and body["margin"] == pytest.approx(0.10 - body["cost"])
    assert body["since"] == f"{month[:4]}-01" and body["credit_value"] == 0.01

    printed = await asyncio.to_thread(cli, "models", "margin", "--credit-value", "0.01")
    assert printed.code == 0, printed
    table = {tuple(line.split()[1:3]): line.split()[3:] for line in printed.out.splitlines()[1:]}
    assert {k: [int(v[0]), int(v[1]), round(float(v[2]), 4), round(float(v[3]), 4)] for k, v in table.items()} == {
        k: [r["generations"], r["credits"], round(r["cost"], 4), round(r["margin"], 4)] for k, r in lines.items()
    }

    later = await client.get("/v1/admin/margin", params={"since": "2999-01", "until": "2999-02"}, headers=operator)
    assert later.status_code == 200 and later.json()["lines"] == [] and later.json()["credits"] == 0
    for params, words in [({"since": "2026-13"}, "`since` must be a month"), ({"since": "2026-05", "until": "2026-05"}, "before"),
                          ({"credit_value": "0"}, "`credit_value` must be a positive")]:
        refused = await client.get("/v1/admin/margin", params=params, headers=operator)
        assert refused.status_code == 400 and words in refused.json()["detail"], refused.text
    assert (await client.get("/v1/admin/margin", headers={"Authorization": f"Bearer {tenant.secret_key}"})).status_code == 403


async def test_cost_billing_settles_at_the_providers_cost_up_to_the_reservation(
    settings: Settings, tenant: Tenant, fake_replicate: FakeReplicate, fake_gemini: FakeGemini
) -> None:
    """FLUX costs 0.003 (the fake's recorded cost): 0.3 credits at 100 a dollar, 1 rounded up, of the 2 reserved.
    Gemini's recorded cost (image and tokens, ~0.039) rounds up to 4 credits: all of its reservation, nothing given back."""
    url = settings.database_url or ""
    costed = msgspec.structs.replace(settings, billing_mode="cost", credits_per_cost_unit=100.0)
    async with AsyncTestClient(app=create_app(costed)) as client:
        assert (await client.get(await link(client, costed, tenant, "a teapot", "flux"))).status_code == 200
        assert (await client.get(await link(client, costed, tenant, "a teapot", "nano"))).status_code == 200
        usage = (await client.get("/v1/billing/usage", headers={"Authorization": f"Bearer {tenant.secret_key}"})).json()
    entries = [(r["kind"], r["credits"]) for r in await ledger_rows(url, tenant.org)]
    assert entries == [("grant", 100), ("debit", -2), ("settle", 1), ("debit", -4)]
    assert await balance(url, tenant.org) == 100 - 1 - 4
    assert {r["group"]: (r["generations"], r["credits"]) for r in usage["by_provider"]} == {"replicate": (1, 1), "gemini": (1, 4)}
    [gemini] = await fetch(url, "SELECT cost FROM generations WHERE provider = 'gemini'")
    assert 3 < float(gemini["cost"]) * 100 <= 4


async def test_an_offline_stand_in_at_the_end_of_a_family_is_never_charged(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, fake_gemini: FakeGemini, fake_replicate: FakeReplicate, cli: Cli
) -> None:
    url = settings.database_url or ""
    done = await asyncio.to_thread(cli, "models", "put", "preview", "--provider", "offline", "--version", "offline-render-1",
                                   "--price", "0", "--family", "draw", "--rank", "9")
    assert done.code == 0, done
    fake_gemini.script("synthesize", Reply.error(503))
    fake_replicate.script(ReplicateReply.http_error(503))
    response = await client.get(await link(client, settings, tenant, "a windmill", "nano"))
    assert response.status_code == 200
    assert len(fake_gemini.of("synthesize")) == 1 and len(fake_replicate.creates) == 1  # both tried, in family order
    [row] = await fetch(url, "SELECT status, provider, model FROM generations")
    assert (row["status"], row["provider"], row["model"]) == ("succeeded", "offline", "offline-render-1")
    [asset] = await fetch(url, "SELECT offline FROM assets")
    assert asset["offline"] is True
    assert [(r["kind"], r["credits"]) for r in await ledger_rows(url, tenant.org)] == [("grant", 100), ("debit", -4), ("refund", 4)]
