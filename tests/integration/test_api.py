"""`/v1` with secret keys: authentication, scopes, project isolation, key lifecycle, billing reports."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from delivery.access.keys import _checksum, parse_key
from delivery.db.billing import Attribution, debit_generation, refund_generation
from delivery.db.generations import start_generation
from delivery.settings import Settings
from tests.fakes import CountingProvider, PaidProvider
from tests.tenancy import Tenant, make_tenant


@pytest.fixture
def provider() -> PaidProvider:
    """A paid provider's stand-in: offline images are never charged, and this module counts charges."""
    return PaidProvider()



@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=50)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wrong_secret(full_key: str) -> str:
    key_id, secret = parse_key(full_key)
    body = f"pp_{key_id}_{secret[:-1]}{'a' if secret[-1] != 'a' else 'b'}"
    return body + _checksum(body)


async def test_requests_without_a_live_secret_key_are_401(client: AsyncTestClient, tenant: Tenant) -> None:
    cases = [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        bearer("garbage"),
        bearer(tenant.secret_key[:-1] + ("x" if tenant.secret_key[-1] != "x" else "y")),  # checksum fails
        bearer(wrong_secret(tenant.secret_key)),  # well-formed, right id, wrong secret
        bearer(wrong_secret(tenant.secret_key).replace(tenant.secret_id, "sk_aaaaaaaaaaaaaaaa")),
    ]
    for headers in cases:
        response = await client.get("/v1/billing/balance", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 401


async def test_publishable_keys_scopes_and_other_projects_are_403(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    assert (await client.get("/v1/billing/balance", headers=bearer(tenant.publishable_key))).status_code == 403
    other = await make_tenant(settings.database_url or "", slug="other")
    for slug in ("other", "does-not-exist"):
        response = await client.get(f"/v1/projects/{slug}/keys", headers=bearer(tenant.secret_key))
        assert response.status_code == 403 and "another project" in response.json()["detail"]
    reader = await client.post(
        "/v1/projects/acme/keys", json={"kind": "secret", "scopes": ["billing:read"]}, headers=bearer(tenant.secret_key)
    )
    assert reader.status_code == 201
    limited = reader.json()["secret"]
    assert (await client.get("/v1/billing/balance", headers=bearer(limited))).status_code == 200
    denied = await client.get("/v1/projects/acme/keys", headers=bearer(limited))
    assert denied.status_code == 403 and "keys:admin" in denied.json()["detail"]
    assert (await client.delete(f"/v1/projects/acme/keys/{other.publishable_id}", headers=bearer(tenant.secret_key))).status_code == 404
    bad = await client.post("/v1/projects/acme/keys", json={"kind": "publishable", "scopes": ["keys:admin"]}, headers=bearer(tenant.secret_key))
    assert bad.status_code == 400 and "cannot hold" in bad.json()["detail"]


async def test_key_lifecycle_create_list_rotate_revoke(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    admin = bearer(tenant.secret_key)
    created = await client.post("/v1/projects/acme/keys", json={"kind": "secret", "name": "ci", "expires_in": 3600}, headers=admin)
    assert created.status_code == 201
    assert created.headers["cache-control"] == "private, no-store"
    body = created.json()
    new_key, new_id = body["secret"], body["key"]["id"]
    assert new_key.startswith(f"pp_{new_id}_") and body["key"]["expires_at"] is not None

    listing = await client.get("/v1/projects/acme/keys", headers=admin)
    assert listing.status_code == 200
    assert {k["id"] for k in listing.json()} == {tenant.publishable_id, tenant.secret_id, new_id}
    assert new_key not in listing.text and "secret_hash" not in listing.text and "pp_" not in listing.text

    rotated = await client.post(f"/v1/projects/acme/keys/{new_id}/rotate", json={"grace_seconds": 0}, headers=admin)
    assert rotated.status_code == 201
    successor = rotated.json()["secret"]
    assert (await client.get("/v1/billing/balance", headers=bearer(successor))).status_code == 200
    assert (await client.get("/v1/billing/balance", headers=bearer(new_key))).status_code == 401  # no grace left
    listed = {k["id"]: k for k in (await client.get("/v1/projects/acme/keys", headers=admin)).json()}
    assert listed[new_id]["replaced_by"] == rotated.json()["key"]["id"]

    graced = await client.post(f"/v1/projects/acme/keys/{rotated.json()['key']['id']}/rotate", json={}, headers=admin)
    assert (await client.get("/v1/billing/balance", headers=bearer(successor))).status_code == 200  # inside the day's grace
    assert graced.status_code == 201

    revoked = await client.delete(f"/v1/projects/acme/keys/{tenant.publishable_id}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    link = await client.post("/v1/projects/acme/links", json={"params": {"prompt": "x"}, "key_id": tenant.publishable_id}, headers=admin)
    assert link.status_code == 403
    conn = await asyncpg.connect(settings.database_url)
    try:
        used = await conn.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1", tenant.secret_id)
    finally:
        await conn.close()
    assert used is not None


async def test_signing_refuses_links_that_could_only_fail(client: AsyncTestClient, tenant: Tenant) -> None:
    admin = bearer(tenant.secret_key)
    bad = await client.post("/v1/projects/acme/links", json={"params": {"prompt": "x", "w": "0"}}, headers=admin)
    assert bad.status_code == 400 and "`w`" in bad.json()["detail"]
    missing = await client.post("/v1/projects/acme/links", json={"params": {"w": "10"}}, headers=admin)
    assert missing.status_code == 400
    good = await client.post("/v1/projects/acme/links", json={"params": {"prompt": "x"}, "expires_in": 60}, headers=admin)
    assert good.status_code == 200
    assert good.json()["url"] == "http://127.0.0.1:8080" + good.json()["path"]


async def test_usage_statistics_match_the_ledger(client: AsyncTestClient, tenant: Tenant, settings: Settings, provider: CountingProvider) -> None:
    admin = bearer(tenant.secret_key)
    second = (await client.post("/v1/projects/acme/keys", json={"kind": "publishable"}, headers=admin)).json()["key"]["id"]
    for key_id, prompts in ((tenant.publishable_id, ["a", "b", "c"]), (second, ["d", "e"])):
        for prompt in prompts:
            signed = await client.post(
                "/v1/projects/acme/links", json={"params": {"prompt": prompt, "w": "32"}, "key_id": key_id}, headers=admin
            )
            assert (await client.get(signed.json()["path"])).status_code == 200
    # A hit costs nothing and does not show up in usage.
    assert (await client.get(signed.json()["path"])).headers["x-cache-status"] == "HIT"
    # A failed attempt is debited and refunded: it nets out of usage.
    conn = await asyncpg.connect(settings.database_url)
    try:
        now = dt.datetime.now(dt.UTC)
        async with conn.transaction():
            failed = await start_generation(conn, project_id=tenant.project.id, generation_key="f", provider="t", model="offline-render-1")
            payer = Attribution(generation_id=failed, project_id=tenant.project.id, key_id=second, model="offline-render-1")
            assert await debit_generation(conn, organization_id=tenant.org, cost=1, now=now, payer=payer)
        assert await refund_generation(conn, generation_id=failed, now=now)
    finally:
        await conn.close()

    balance = (await client.get("/v1/billing/balance", headers=admin)).json()
    assert balance["account"]["balance"] == 45 and balance["remaining"] == 45 and balance["account"]["plan"] == "prepaid"
    ledger = (await client.get("/v1/billing/ledger?limit=3", headers=admin)).json()
    assert [e["kind"] for e in ledger] == ["refund", "debit", "debit"] and ledger[0]["balance_after"] == 45
    older = (await client.get(f"/v1/billing/ledger?before={ledger[-1]['id']}", headers=admin)).json()
    assert [e["kind"] for e in older] == ["debit"] * 4 + ["grant"]

    for per in ("day", "month"):
        usage = (await client.get(f"/v1/billing/usage?per={per}", headers=admin)).json()
        assert usage["total"] == {"generations": 5, "credits": 5}
        assert sum(p["generations"] for p in usage["periods"]) == 5
        assert {r["group"]: r["generations"] for r in usage["by_key"]} == {tenant.publishable_id: 3, second: 2}
        assert usage["by_project"] == [{"group": "acme", "generations": 5, "credits": 5}]
        assert usage["by_model"] == [{"group": "offline-render-1", "generations": 5, "credits": 5}]
    conn = await asyncpg.connect(settings.database_url)
    try:
        debits = await conn.fetchval("SELECT -sum(credits) FROM ledger WHERE kind IN ('debit', 'refund')")
        assert await conn.fetchval("SELECT count(*) FROM ledger WHERE kind = 'debit'") == 6
        succeeded = await conn.fetchval("SELECT count(*) FROM generations WHERE status = 'succeeded'")
    finally:
        await conn.close()
    assert debits == 5 == succeeded == len(provider.synthesized)
    assert (await client.get("/v1/billing/usage?since=2030-01-02&until=2030-01-01", headers=admin)).status_code == 400


async def test_openapi_lists_the_api(client: AsyncTestClient) -> None:
    paths = set((await client.get("/schema/openapi.json")).json()["paths"])
    assert {"/v1/projects/{project}/keys", "/v1/projects/{project}/links", "/v1/billing/usage"} <= paths
