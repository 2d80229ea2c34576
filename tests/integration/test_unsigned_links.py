"""Unsigned `/g/` links: only where the project allows them, only from allowed origins, limited per IP."""

from __future__ import annotations

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.settings import Settings
from harness.urls import urlencode
from tests.fakes import CountingProvider
from tests.images import decode
from tests.tenancy import Tenant, fingerprint, make_tenant

ORIGINS = ["https://shop.example", "https://*.cdn.example"]


def link(tenant: Tenant, prompt: str = "a teapot", **extra: str) -> str:
    return f"/g/{tenant.project.slug}?" + urlencode({"prompt": prompt, "w": "64", "fm": "png", "key": tenant.publishable_id, **extra})


async def test_a_project_that_allows_only_signed_links_refuses_unsigned_ones(
    client: AsyncTestClient, settings: Settings, provider: CountingProvider
) -> None:
    tenant = await make_tenant(settings.database_url or "", credits=10, origins=ORIGINS)
    before = await fingerprint(settings.database_url or "")
    response = await client.get(link(tenant), headers={"Origin": "https://shop.example"})
    assert response.status_code == 403 and "signed links only" in response.headers["x-error"]
    assert await fingerprint(settings.database_url or "") == before
    assert provider.synthesized == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "https://shop.example"}, 200),
        ({"Referer": "https://shop.example/products/1?x=y"}, 200),
        ({"Origin": "https://img.cdn.example"}, 200),
        ({"Origin": "https://a.b.cdn.example"}, 200),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "https://shop.example.evil.com"}, 403),
        ({"Origin": "http://shop.example"}, 403),
        ({"Origin": "https://shop.example:8443"}, 403),
        ({"Referer": "https://cdn.example/"}, 403),
        ({"Origin": "null"}, 403),
        ({}, 403),
    ],
)
async def test_unsigned_links_need_an_allowed_origin(
    client: AsyncTestClient, settings: Settings, headers: dict[str, str], status: int
) -> None:
    tenant = await make_tenant(settings.database_url or "", credits=10, origins=ORIGINS, allow_unsigned=True)
    response = await client.get(link(tenant), headers=headers)
    assert response.status_code == status, response.headers.get("x-error")
    image, fmt = decode(response.content)
    assert fmt == "png" and (image.width == 64 if status == 200 else image.width <= 128)


async def test_a_key_can_narrow_the_projects_origins(client: AsyncTestClient, settings: Settings) -> None:
    tenant = await make_tenant(settings.database_url or "", credits=10, origins=ORIGINS, allow_unsigned=True)
    created = await client.post(
        "/v1/projects/acme/keys",
        json={"kind": "publishable", "allowed_origins": ["https://shop.example"]},
        headers={"Authorization": f"Bearer {tenant.secret_key}"},
    )
    narrow = msgspec.structs.replace(tenant, publishable_id=created.json()["key"]["id"])
    assert (await client.get(link(narrow), headers={"Origin": "https://shop.example"})).status_code == 200
    assert (await client.get(link(narrow), headers={"Origin": "https://img.cdn.example"})).status_code == 403


async def test_exp_without_sig_is_a_bad_request(client: AsyncTestClient, settings: Settings) -> None:
    tenant = await make_tenant(settings.database_url or "", credits=10, origins=["*"], allow_unsigned=True)
    assert (await client.get(link(tenant, exp="9999999999"))).status_code == 400


async def test_unsigned_misses_are_limited_per_client_ip_and_hits_are_not(settings: Settings) -> None:
    provider = CountingProvider()
    limited = msgspec.structs.replace(settings, ip_misses_per_minute=2)
    async with AsyncTestClient(app=create_app(limited, provider=provider)) as client:
        tenant = await make_tenant(settings.database_url or "", credits=10, origins=["*"], allow_unsigned=True, rate_limit=1000)
        assert (await client.get(link(tenant, "one"))).status_code == 200
        assert (await client.get(link(tenant, "two"))).status_code == 200
        third = await client.get(link(tenant, "three"), headers={"Accept": "application/json"})
        assert third.status_code == 429 and int(third.headers["retry-after"]) >= 1
        assert "this client" in third.json()["detail"]
        for _ in range(3):
            hit = await client.get(link(tenant, "one"))
            assert hit.status_code == 200 and hit.headers["x-cache-status"] == "HIT"
    assert len(provider.synthesized) == 2
