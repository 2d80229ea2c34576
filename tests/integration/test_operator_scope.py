"""Who is an operator on `/v1`: a key with the `admin` scope, which only `promptpix keys create --scope admin` grants.

Every key belongs to a project, and a project's `keys:admin` mints and rotates
its keys through `/v1` and the console; none of those paths can produce an
`admin` key, so no project can climb to the operator's resources.
"""

from __future__ import annotations

import asyncio

import asyncpg
from litestar.testing import AsyncTestClient

from delivery.settings import Settings
from tests.cli import Cli
from tests.tenancy import make_tenant, operator_key


async def admin_keys(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r["id"] for r in await conn.fetch("SELECT id FROM api_keys WHERE 'admin' = ANY(scopes) ORDER BY id")]
    finally:
        await conn.close()


async def test_only_the_cli_grants_admin_and_a_key_without_it_is_refused(client: AsyncTestClient, settings: Settings, cli: Cli) -> None:
    url = settings.database_url or ""
    tenant = await make_tenant(url)
    project_admin = {"Authorization": f"Bearer {tenant.secret_key}"}

    # A project's every-scope secret key: refused on each operator route, before any handler runs.
    for method, path, body in [
        ("GET", "/v1/admin/models", None),
        ("PUT", "/v1/admin/models/flux", {"provider": "replicate", "version": "black-forest-labs/flux-schnell", "price": 1}),
        ("PATCH", "/v1/admin/models/flux", {"price": 0}),
        ("GET", "/v1/admin/margin", None),
    ]:
        refused = await client.request(method, path, json=body, headers=project_admin)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["detail"] == "this key lacks the `admin` scope"

    # /v1 cannot mint one: asked for by name, alone or among others, it is a 403; by default it is not given.
    for scopes in (["admin"], ["assets:read", "admin"]):
        minted = await client.post("/v1/projects/acme/keys", json={"kind": "secret", "scopes": scopes}, headers=project_admin)
        assert minted.status_code == 403 and "only by the operator" in minted.json()["detail"], minted.text
    default = await client.post("/v1/projects/acme/keys", json={"kind": "secret"}, headers=project_admin)
    assert default.status_code == 201 and "admin" not in default.json()["key"]["scopes"]
    assert "keys:admin" in default.json()["key"]["scopes"]
    publishable = await client.post("/v1/projects/acme/keys", json={"kind": "publishable", "scopes": ["admin"]}, headers=project_admin)
    assert publishable.status_code == 400  # a publishable key holds `generate` only
    assert await admin_keys(url) == []

    # The operator's CLI grants it; that key reaches the operator routes and nothing else it was not given.
    secret = await asyncio.to_thread(operator_key, cli, database_url=url)
    operator = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/v1/admin/models", headers=operator)).status_code == 200
    assert (await client.get("/v1/models", headers=operator)).status_code == 403  # `admin` is not `assets:read`
    [admin_id] = await admin_keys(url)

    # Rotating hands out a new secret: /v1 does not rotate an admin key, so `keys:admin` cannot obtain one that way.
    rotated = await client.post(f"/v1/projects/acme/keys/{admin_id}/rotate", json={"grace_seconds": 0}, headers=project_admin)
    assert rotated.status_code == 403 and "only by the operator" in rotated.json()["detail"], rotated.text
    assert await admin_keys(url) == [admin_id]

    # A project may still revoke a key of its own, the operator's included.
    revoked = await client.delete(f"/v1/projects/acme/keys/{admin_id}", headers=project_admin)
    assert revoked.status_code == 200
    assert (await client.get("/v1/admin/models", headers=operator)).status_code == 401
