"""`@name` is matched without regard to case everywhere, with one message for a name that does not exist."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from delivery.settings import Settings
from tests.fakes import CountingProvider
from tests.images import decode, solid
from tests.tenancy import Tenant, make_tenant


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=10, allow_unsigned=True, origins=["*"])


async def test_names_are_case_insensitive_in_urls_and_prompts_with_one_message(
    client: AsyncTestClient, tenant: Tenant, provider: CountingProvider
) -> None:
    auth = {"Authorization": f"Bearer {tenant.secret_key}"}
    uploaded = await client.post("/v1/assets", files={"file": ("logo.png", solid(40, 30, (255, 0, 255)), "image/png")}, headers=auth)
    assert uploaded.status_code == 201, uploaded.text
    asset = uploaded.json()["id"]
    assert (await client.put("/v1/names/logo", json={"asset_id": asset}, headers=auth)).status_code == 200
    slug = tenant.project.slug
    for spelling in ("logo", "Logo", "LOGO"):
        response = await client.get(f"/i/{slug}/@{spelling}?fm=png")
        assert response.status_code == 200, (spelling, response.status_code)
        image, fmt = decode(response.content)
        assert (image.width, image.height, fmt) == (40, 30, "png")
        cloudflare = await client.get(f"/cdn-cgi/image/format=png/i/{slug}/@{spelling}")
        assert cloudflare.status_code == 200, (spelling, cloudflare.status_code)
    drawn = await client.get(f"/g/{slug}?prompt=a%20card%20with%20%40LOGO&key={tenant.publishable_id}&fm=png")
    assert drawn.status_code == 200
    assert [r.name for r in provider.synthesized[0].references] == ["logo"]

    as_json = {"Accept": "application/json"}
    missing_url = await client.get(f"/i/{slug}/@Mascot", headers=as_json)
    missing_prompt = await client.get(f"/g/{slug}?prompt=a%20card%20with%20%40Mascot&key={tenant.publishable_id}", headers=as_json)
    assert (missing_url.status_code, missing_prompt.status_code) == (404, 422)
    assert missing_url.json()["detail"] == missing_prompt.json()["detail"] == "no asset is named @mascot"
