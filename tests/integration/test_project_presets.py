"""A project's own presets in `/g/` URLs: expanded once the project is known, cached like aliases."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from delivery.settings import Settings
from harness.urls import urlencode
from tests.fakes import CountingProvider
from tests.images import decode
from tests.tenancy import make_tenant


async def test_g_links_expand_project_presets(client: AsyncTestClient, settings: Settings, provider: CountingProvider) -> None:
    tenant = await make_tenant(settings.database_url, plan="unlimited", allow_unsigned=True, origins=["*"])
    auth = {"Authorization": f"Bearer {tenant.secret_key}"}
    put = await client.put("/v1/presets/banner", json={"params": {"w": "300", "h": "100", "fit": "crop", "fm": "webp"}}, headers=auth)
    assert put.status_code == 200, put.text

    def link(**params: str) -> str:
        return f"/g/{tenant.project.slug}?" + urlencode({"prompt": "a harbour at noon", **params, "key": tenant.publishable_id})

    origin = {"Origin": "https://site.example"}
    banner = await client.get(link(preset="banner"), headers=origin)
    assert banner.status_code == 200, banner.text
    image, fmt = decode(banner.content)
    assert (image.width, image.height, fmt) == (300, 100, "webp")
    assert banner.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=86400"
    assert provider.synthesized[0].aspect_class == "4:3"  # the root's aspect; the preset's 3:1 box is an extension of it
    assert [r.aspect_class for r in provider.extended] == ["21:9"]

    explicit = await client.get(link(preset="banner", fm="jpg"), headers=origin)
    assert decode(explicit.content)[1] == "jpg"  # explicit params win over the preset
    builtin = await client.get(link(preset="thumb"), headers=origin)
    assert decode(builtin.content)[0].width == 200 and "immutable" in builtin.headers["cache-control"]
    unknown = await client.get(link(preset="nope"), headers={**origin, "Accept": "application/json"})
    assert unknown.status_code == 400 and "nope" in unknown.json()["detail"]
