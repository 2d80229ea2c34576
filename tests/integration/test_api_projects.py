"""`/v1/organization` and `/v1/projects`: the caller's organisation and its projects, the scope rule, and isolation."""

from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from delivery.settings import Settings
from tests.images import solid
from tests.tenancy import Tenant, make_tenant


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=10)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _secret(client: AsyncTestClient, tenant: Tenant, scopes: list[str]) -> str:
    made = await client.post(f"/v1/projects/{tenant.project.slug}/keys", json={"kind": "secret", "scopes": scopes}, headers=bearer(tenant.secret_key))
    assert made.status_code == 201, made.text
    secret: str = made.json()["secret"]
    return secret


async def test_any_secret_key_reads_its_organisation(client: AsyncTestClient, tenant: Tenant) -> None:
    limited = await _secret(client, tenant, ["assets:read"])
    for key in (tenant.secret_key, limited):
        response = await client.get("/v1/organization", headers=bearer(key))
        assert response.status_code == 200, response.text
        assert response.json()["id"] == tenant.org and response.json()["name"] == "Acme" and response.json()["projects"] == 1
        assert response.headers["cache-control"] == "private, no-store"
    assert (await client.get("/v1/organization", headers=bearer(tenant.publishable_key))).status_code == 403
    assert (await client.get("/v1/organization")).status_code == 401


async def test_create_list_read_and_change_projects(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    body = {
        "slug": "shop",
        "name": "The shop",
        "allowed_origins": ["https://Shop.example/", "https://*.shop.example"],
        "default_style": {"name": "house", "prompt": "warm light", "aspect_ratio": "4:3"},
    }
    created = await client.post("/v1/projects", json=body, headers=bearer(tenant.secret_key))
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["slug"] == "shop" and view["name"] == "The shop" and view["default_style"] == "house"
    assert view["allowed_origins"] == ["https://shop.example", "https://*.shop.example"] and view["allow_unsigned"] is True

    listed = await client.get("/v1/projects", headers=bearer(tenant.secret_key))
    assert [p["slug"] for p in listed.json()] == ["acme", "shop"]
    read = await client.get("/v1/projects/shop", headers=bearer(tenant.secret_key))
    assert read.status_code == 200 and read.json() == view
    assert (await client.get("/v1/organization", headers=bearer(tenant.secret_key))).json()["projects"] == 2

    conn = await asyncpg.connect(settings.database_url)
    try:  # the default style is a real style of the new project, in the new project's organisation
        row = await conn.fetchrow(
            "SELECT p.organization_id, s.prompt, s.aspect_class FROM projects p JOIN styles s ON s.project_id = p.id AND s.name = p.default_style WHERE p.slug = 'shop'"
        )
        assert row is not None and tuple(row) == (tenant.org, "warm light", "4:3")
    finally:
        await conn.close()

    patched = await client.patch("/v1/projects/shop", json={"name": "Shop", "allowed_origins": [], "allow_unsigned": False}, headers=bearer(tenant.secret_key))
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["allowed_origins"], patched.json()["allow_unsigned"], patched.json()["default_style"]) == ("Shop", [], False, "house")
    cleared = await client.patch("/v1/projects/shop", json={"default_style": None}, headers=bearer(tenant.secret_key))
    assert cleared.json()["default_style"] is None and cleared.json()["name"] == "Shop"
    unknown_style = await client.patch("/v1/projects/shop", json={"default_style": "nope"}, headers=bearer(tenant.secret_key))
    assert unknown_style.status_code == 422 and "nope" in unknown_style.json()["detail"]
    # Its own project's default style, set through the project, is what /v1/styles reports.
    await client.put("/v1/styles/ink", json={"prompt": "ink"}, headers=bearer(tenant.secret_key))
    assert (await client.patch("/v1/projects/acme", json={"default_style": "ink"}, headers=bearer(tenant.secret_key))).status_code == 200
    assert (await client.get("/v1/styles/ink", headers=bearer(tenant.secret_key))).json()["default"] is True


async def test_bad_project_input_is_a_clear_error(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    await make_tenant(settings.database_url or "", slug="elsewhere")
    cases = [
        ({"slug": "acme"}, 409, "taken"),
        ({"slug": "elsewhere"}, 409, "taken"),  # slugs are unique across organisations: they are the /g/{slug} of links
        ({"slug": "Bad Slug"}, 422, "slug"),
        ({"slug": "-x"}, 422, "slug"),
        ({"slug": "x" * 64}, 422, "slug"),
        ({"slug": "ok", "allowed_origins": ["javascript:alert(1)"]}, 422, "not an origin"),
        ({"slug": "ok", "name": "a\x00b"}, 400, "control character (U+0000)"),  # refused at the edge (docs/security.md)
        ({"slug": "ok", "name": "a\u2028b"}, 422, "printable"),  # a line separator is no control character, nor printable
        ({"slug": "ok", "name": "n" * 201}, 422, "longer"),
        ({"slug": "ok", "default_style": {"name": "Bad Name"}}, 422, "name"),
        ({"slug": "ok", "default_style": {"name": "house", "aspect_ratio": "7:5"}}, 422, "aspect_ratio"),
        ({"slug": "ok", "default_style": {"name": "house", "prompt": "a\x00b"}}, 400, "control character (U+0000)"),
        ({"slug": "ok", "owner": 1}, 400, "owner"),
    ]
    for body, status, words in cases:
        response = await client.post("/v1/projects", json=body, headers=bearer(tenant.secret_key))
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["detail"] and response.headers["content-type"].startswith("application/problem+json")
    # A failed create leaves nothing behind: not the project, not half of its style.
    assert [p["slug"] for p in (await client.get("/v1/projects", headers=bearer(tenant.secret_key))).json()] == ["acme"]


async def test_projects_need_projects_admin_and_stay_in_the_organisation(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    other = await make_tenant(settings.database_url or "", slug="other")
    for method, path, body in [("GET", "/v1/projects/other", None), ("PATCH", "/v1/projects/other", {"name": "mine"}), ("GET", "/v1/projects/nope", None)]:
        response = await client.request(method, path, json=body, headers=bearer(tenant.secret_key))
        assert response.status_code == 404, (method, path, response.text)
    assert [p["slug"] for p in (await client.get("/v1/projects", headers=bearer(other.secret_key))).json()] == ["other"]
    assert (await client.get("/v1/projects/other", headers=bearer(other.secret_key))).json()["name"] == "other"

    limited = await _secret(client, tenant, ["assets:read", "assets:write", "keys:admin"])
    admin_only = [
        ("GET", "/v1/projects", None),
        ("POST", "/v1/projects", {"slug": "sneaky"}),
        ("GET", "/v1/projects/acme", None),
        ("PATCH", "/v1/projects/acme", {"name": "x"}),
    ]
    for method, path, body in admin_only:
        response = await client.request(method, path, json=body, headers=bearer(limited))
        assert response.status_code == 403 and "projects:admin" in response.json()["detail"], (method, path)


async def test_a_projects_admin_key_equips_a_new_project(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    """A new project starts without keys: a `projects:admin` key makes them (and signs its links), as the console does."""
    assert (await client.post("/v1/projects", json={"slug": "shop"}, headers=bearer(tenant.secret_key))).status_code == 201
    made = await client.post("/v1/projects/shop/keys", json={"kind": "secret", "name": "shop server"}, headers=bearer(tenant.secret_key))
    assert made.status_code == 201, made.text
    shop_key = made.json()["secret"]
    assert [k["name"] for k in (await client.get("/v1/projects/shop/keys", headers=bearer(tenant.secret_key))).json()] == ["shop server"]
    # The new key works for its own project: an upload lands in shop, not acme.
    uploaded = await client.post("/v1/assets", files={"file": ("x.png", solid(40, 30, (0, 90, 200)), "image/png")}, headers=bearer(shop_key))
    assert uploaded.status_code == 201, uploaded.text
    assert [a["id"] for a in (await client.get("/v1/assets", headers=bearer(shop_key))).json()["items"]] == [uploaded.json()["id"]]
    assert (await client.get("/v1/assets", headers=bearer(tenant.secret_key))).json()["items"] == []
    assert (await client.get("/v1/organization", headers=bearer(shop_key))).json()["projects"] == 2
    assert (await client.post("/v1/projects/shop/keys", json={"kind": "publishable"}, headers=bearer(tenant.secret_key))).status_code == 201
    link = await client.post("/v1/projects/shop/links", json={"params": {"prompt": "a red fox"}}, headers=bearer(tenant.secret_key))
    assert link.status_code == 200 and link.json()["path"].startswith("/g/shop?"), link.text

    keys_only = await _secret(client, tenant, ["keys:admin"])
    assert (await client.get("/v1/projects/shop/keys", headers=bearer(keys_only))).status_code == 403
    assert (await client.get("/v1/projects/acme/keys", headers=bearer(keys_only))).status_code == 200
    other = await make_tenant(settings.database_url or "", slug="other")
    response = await client.post("/v1/projects/shop/keys", json={"kind": "secret"}, headers=bearer(other.secret_key))
    assert response.status_code == 403 and "another project" in response.json()["detail"]
