"""`/v1/assets`, `/v1/names`, `/v1/styles`, `/v1/presets`: uploads, pages, edits, deletes, on real PostgreSQL."""

from __future__ import annotations

import asyncpg
import msgspec
import pytest
import pyvips
from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.db.presets import project_presets
from delivery.settings import Settings
from tests.fakes import CountingProvider, PaidProvider
from tests.images import decode, pixel, solid
from tests.integration.test_api_generations import CYAN, MAGENTA, bearer, close_to, two_tone, upload
from tests.tenancy import Tenant, make_tenant


@pytest.fixture
def provider() -> PaidProvider:
    """A paid provider's stand-in: offline images are never charged, and this module counts charges."""
    return PaidProvider()



@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=100)


async def test_uploads_are_validated_analysed_and_deduplicated(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    # A white image with one dark square at the right: the focal point follows the subject.
    canvas = solid(400, 200, (255, 255, 255))
    subject = pyvips.Image.new_from_buffer(canvas, "").draw_rect([0, 0, 0], 320, 80, 48, 48, fill=True).write_to_buffer(".jpg")
    asset = await upload(client, tenant, subject, name="subject", alt_text="a dark square")
    assert (asset["width"], asset["height"], asset["mime"]) == (400, 200, "image/jpeg")
    assert asset["focal_point"]["x"] > 0.6 and asset["alt_text"] == "a dark square" and asset["names"] == ["subject"]
    again = await upload(client, tenant, subject)
    assert again["id"] == asset["id"]

    for data, status in [(b"<svg/>", 415), (subject[:40], 422)]:  # other format; truncated header
        response = await client.post("/v1/assets", files={"file": ("x", data, "image/jpeg")}, headers=bearer(tenant))
        assert response.status_code == status, (status, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    missing = await client.post("/v1/assets", data={"name": "x"}, headers=bearer(tenant))
    assert missing.status_code == 400
    badly_named = await client.post("/v1/assets", files={"file": ("x", subject, "image/jpeg")}, data={"name": "Bad Name"}, headers=bearer(tenant))
    assert badly_named.status_code == 422


async def test_upload_limits_are_the_delivery_limits(settings: Settings, provider: CountingProvider) -> None:
    strict = msgspec.structs.replace(settings, max_source_bytes=2000)
    async with AsyncTestClient(app=create_app(strict, provider=provider)) as client:
        tenant = await make_tenant(settings.database_url or "", credits=1)
        big = solid(300, 300, (10, 200, 30), "png") + b"\0" * 3000
        response = await client.post("/v1/assets", files={"file": ("big.png", big, "image/png")}, headers=bearer(tenant))
        assert response.status_code == 413


async def test_assets_page_by_cursor_and_filter(client: AsyncTestClient, tenant: Tenant, provider: CountingProvider) -> None:
    uploaded = [await upload(client, tenant, solid(16 + i, 16, (i * 40, 0, 0))) for i in range(5)]
    made = await client.post("/v1/generations", json={"prompt": "a red kite over hills", "name": "kite"}, headers=bearer(tenant))
    generated = made.json()["asset"]
    seen, cursor = [], None
    while True:
        query = "/v1/assets?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(query, headers=bearer(tenant))).json()
        assert len(page["items"]) <= 2
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [generated["id"]] + [a["id"] for a in reversed(uploaded)]  # newest first, each once

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/v1/assets?{query}", headers=bearer(tenant))
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    assert await ids("source=generated") == [generated["id"]]
    assert len(await ids("source=uploaded")) == 5
    assert await ids("name=kite") == [generated["id"]]
    assert await ids("name=nobody") == []
    assert await ids(f"tag={generated['tags'][0]}") == [generated["id"]]
    bad = await client.get("/v1/assets?cursor=not-a-cursor", headers=bearer(tenant))
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]
    assert (await client.get("/v1/assets?source=painted", headers=bearer(tenant))).status_code == 400


async def test_patch_sets_focal_point_alt_text_and_name(client: AsyncTestClient, tenant: Tenant) -> None:
    # Magenta on the left half, cyan on the right: a narrow crop shows where the focal point is.
    asset = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    edited = await client.patch(
        f"/v1/assets/{asset['id']}",
        json={"focal_point": {"x": 1.0, "y": 0.5}, "alt_text": "logo", "name": "brand"},
        headers=bearer(tenant),
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["focal_point"] == {"x": 1.0, "y": 0.5} and body["alt_text"] == "logo" and body["names"] == ["brand"]
    crop = await client.get(f"/i/{asset['id']}?w=16&h=64&fm=png")
    assert close_to(pixel(decode(crop.content)[0], 0.5, 0.5), CYAN)
    read = await client.get(f"/v1/assets/{asset['id']}", headers=bearer(tenant))
    assert read.json() == body
    for patch, status in [({"focal_point": {"x": 2, "y": 0}}, 400), ({"name": "prev"}, 422), ({"colour": "red"}, 400)]:
        assert (await client.patch(f"/v1/assets/{asset['id']}", json=patch, headers=bearer(tenant))).status_code == status
    assert (await client.patch(f"/v1/assets/{'0' * 32}", json={"alt_text": "x"}, headers=bearer(tenant))).status_code == 404


async def test_patch_replaces_tags_and_leaves_them_when_absent(client: AsyncTestClient, tenant: Tenant) -> None:
    asset = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    tagged = await client.patch(f"/v1/assets/{asset['id']}", json={"tags": ["brand", "logo"]}, headers=bearer(tenant))
    assert tagged.status_code == 200 and tagged.json()["tags"] == ["brand", "logo"]
    kept = await client.patch(f"/v1/assets/{asset['id']}", json={"alt_text": "x"}, headers=bearer(tenant))
    assert kept.json()["tags"] == ["brand", "logo"]
    listed = await client.get("/v1/assets?tag=logo", headers=bearer(tenant))
    assert [a["id"] for a in listed.json()["items"]] == [asset["id"]]
    for tags in (["x" * 101], [""], ["t"] * 51):
        assert (await client.patch(f"/v1/assets/{asset['id']}", json={"tags": tags}, headers=bearer(tenant))).status_code == 400


async def test_delete_hides_an_asset_and_reuploading_restores_it(
    client: AsyncTestClient, tenant: Tenant, settings: Settings, provider: CountingProvider
) -> None:
    logo = await upload(client, tenant, two_tone(MAGENTA, CYAN), name="logo")
    assert (await client.delete(f"/v1/assets/{logo['id']}", headers=bearer(tenant))).status_code == 204
    assert (await client.get(f"/v1/assets/{logo['id']}", headers=bearer(tenant))).status_code == 404
    assert (await client.get(f"/i/{logo['id']}")).status_code == 404
    assert (await client.get("/i/acme/@logo")).status_code == 404
    assert (await client.get("/v1/assets", headers=bearer(tenant))).json()["items"] == []
    gone = await client.post("/v1/generations", json={"prompt": "a mug with @logo"}, headers=bearer(tenant))
    assert gone.status_code == 422 and provider.synthesized == []
    assert (await client.delete(f"/v1/assets/{logo['id']}", headers=bearer(tenant))).status_code == 404

    restored = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    assert restored["id"] == logo["id"] and restored["names"] == ["logo"]
    assert (await client.get("/i/acme/@logo")).status_code == 200

    # A generated asset that was deleted comes back, unchanged and unpaid, when its generation is asked for again.
    made = (await client.post("/v1/generations", json={"prompt": "a blue bird"}, headers=bearer(tenant))).json()
    await client.delete(f"/v1/assets/{made['asset']['id']}", headers=bearer(tenant))
    back = await client.post("/v1/generations", json={"prompt": "a blue bird"}, headers=bearer(tenant))
    assert back.json()["asset"]["id"] == made["asset"]["id"] and back.json()["generated"] is False
    assert len(provider.synthesized) == 1
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM ledger WHERE kind = 'debit'") == 1
    finally:
        await conn.close()


async def test_restore_brings_a_deleted_asset_back(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    logo = await upload(client, tenant, two_tone(MAGENTA, CYAN), name="logo")
    assert (await client.delete(f"/v1/assets/{logo['id']}", headers=bearer(tenant))).status_code == 204
    assert (await client.get("/i/acme/@logo")).status_code == 404

    restored = await client.post(f"/v1/assets/{logo['id']}/restore", headers=bearer(tenant))
    assert restored.status_code == 200, restored.text
    assert restored.json()["id"] == logo["id"] and restored.json()["names"] == ["logo"]
    served = await client.get("/i/acme/@logo")
    assert served.status_code == 200
    image, _ = decode(served.content)
    assert (image.width, image.height) == (64, 64) and close_to(pixel(image, 0.1, 0.5), MAGENTA) and close_to(pixel(image, 0.9, 0.5), CYAN)
    assert [a["id"] for a in (await client.get("/v1/assets", headers=bearer(tenant))).json()["items"]] == [logo["id"]]
    again = await client.post(f"/v1/assets/{logo['id']}/restore", headers=bearer(tenant))  # a live asset: returned as it is
    assert again.status_code == 200 and again.json()["id"] == logo["id"]

    other = await make_tenant(settings.database_url or "", slug="other")
    assert (await client.post(f"/v1/assets/{logo['id']}/restore", headers=bearer(other))).status_code == 404
    assert (await client.post("/v1/assets/not-an-asset/restore", headers=bearer(tenant))).status_code == 404
    reader = await client.post("/v1/projects/acme/keys", json={"kind": "secret", "scopes": ["assets:read"]}, headers=bearer(tenant))
    denied = await client.post(f"/v1/assets/{logo['id']}/restore", headers={"Authorization": f"Bearer {reader.json()['secret']}"})
    assert denied.status_code == 403 and "assets:write" in denied.json()["detail"]


async def test_names_put_list_delete_and_isolation(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    first = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    other = await make_tenant(settings.database_url or "", slug="other")
    theirs = await upload(client, other, two_tone(CYAN, MAGENTA))
    assert (await client.put("/v1/names/logo", json={"asset_id": theirs["id"]}, headers=bearer(tenant))).status_code == 404
    assert (await client.put("/v1/names/prev", json={"asset_id": first["id"]}, headers=bearer(tenant))).status_code == 422
    put = await client.put("/v1/names/logo", json={"asset_id": first["id"]}, headers=bearer(tenant))
    assert put.status_code == 200 and put.json()["asset_id"] == first["id"]
    listed = await client.get("/v1/names", headers=bearer(tenant))
    assert [(n["name"], n["asset_id"]) for n in listed.json()] == [("logo", first["id"])]
    assert (await client.get(f"/v1/assets/{theirs['id']}", headers=bearer(tenant))).status_code == 404
    assert (await client.delete("/v1/names/logo", headers=bearer(tenant))).status_code == 204
    assert (await client.delete("/v1/names/logo", headers=bearer(tenant))).status_code == 404
    assert (await client.get("/i/acme/@logo")).status_code == 404


async def test_styles_crud_and_default(client: AsyncTestClient, tenant: Tenant, provider: CountingProvider) -> None:
    put = await client.put("/v1/styles/ink", json={"prompt": "sumi-e ink", "default": True}, headers=bearer(tenant))
    assert put.status_code == 200 and put.json()["default"] is True
    made = await client.post("/v1/generations", json={"prompt": "a heron"}, headers=bearer(tenant))
    assert made.json()["asset"]["style"] == "ink" and provider.synthesized[-1].style_prompt == "sumi-e ink"
    assert (await client.get("/v1/styles/ink", headers=bearer(tenant))).json()["prompt"] == "sumi-e ink"
    assert [s["name"] for s in (await client.get("/v1/styles", headers=bearer(tenant))).json()] == ["ink"]
    bad = await client.put("/v1/styles/wide", json={"aspect_ratio": "7:3"}, headers=bearer(tenant))
    assert bad.status_code == 422 and "16:9" in bad.json()["detail"]
    undefault = await client.put("/v1/styles/ink", json={"prompt": "sumi-e ink"}, headers=bearer(tenant))
    assert undefault.json()["default"] is False
    assert (await client.delete("/v1/styles/ink", headers=bearer(tenant))).status_code == 204
    assert (await client.get("/v1/styles/ink", headers=bearer(tenant))).status_code == 404
    assert (await client.delete("/v1/styles/ink", headers=bearer(tenant))).status_code == 404


async def test_project_presets_are_validated_stored_canonical_and_listed_in_urls(
    client: AsyncTestClient, tenant: Tenant, settings: Settings
) -> None:
    put = await client.put("/v1/presets/banner", json={"params": {"w": "300", "fm": "webp", "h": "100", "fit": "crop"}}, headers=bearer(tenant))
    assert put.status_code == 200, put.text
    assert put.json()["query"] == "fit=crop&fm=webp&h=100&w=300" and put.json()["builtin"] is False
    for params, status in [({"w": "0"}, 400), ({"fit": "cover"}, 400), ({"colour": "red"}, 422), ({}, 422), ({"fit": "clip"}, 422)]:
        response = await client.put("/v1/presets/bad", json={"params": params}, headers=bearer(tenant))
        assert response.status_code == status, (params, response.text)
    reserved = await client.put("/v1/presets/thumb", json={"params": {"w": "50", "h": "50"}}, headers=bearer(tenant))
    assert reserved.status_code == 422 and "reserved" in reserved.json()["detail"]

    listed = {p["name"]: p for p in (await client.get("/v1/presets", headers=bearer(tenant))).json()}
    assert set(listed) == {"thumb", "card", "og", "hero", "avatar", "banner"}
    assert listed["thumb"]["builtin"] is True and listed["banner"]["builtin"] is False
    assert (await client.get("/v1/presets/card", headers=bearer(tenant))).json()["query"] == "fit=crop&h=400&w=600"

    # Large enough for every preset: nothing is enlarged past the master.
    big = pyvips.Image.new_from_buffer(two_tone(MAGENTA, CYAN), "").resize(16, kernel="nearest").pngsave_buffer()
    asset = await upload(client, tenant, big)
    banner = await client.get(asset["urls"]["presets"]["banner"].removeprefix("http://127.0.0.1:8080"))
    image, fmt = decode(banner.content)
    assert (image.width, image.height, fmt) == (300, 100, "webp")
    thumb, _ = decode((await client.get(asset["urls"]["presets"]["thumb"].removeprefix("http://127.0.0.1:8080"))).content)
    assert (thumb.width, thumb.height) == (200, 200)
    avatar, _ = decode((await client.get(asset["urls"]["presets"]["avatar"].removeprefix("http://127.0.0.1:8080"))).content)
    assert (avatar.width, avatar.height) == (128, 128)

    # `preset=` in URLs: the project's own preset expands once the asset's project is known,
    # explicit params win, and the response is cached like an alias (the preset can change).
    by_name = await client.get(f"/i/{asset['id']}?preset=banner&fm=png")
    image, fmt = decode(by_name.content)
    assert (image.width, image.height, fmt) == (300, 100, "png")
    assert by_name.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=86400"
    builtin = await client.get(f"/i/{asset['id']}?preset=thumb")
    assert decode(builtin.content)[0].width == 200 and "immutable" in builtin.headers["cache-control"]
    assert (await client.get(f"/i/{asset['id']}?preset=nope")).status_code == 400

    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await project_presets(conn, tenant.project.id) == {"banner": "fit=crop&fm=webp&h=100&w=300"}
    finally:
        await conn.close()
    assert (await client.delete("/v1/presets/banner", headers=bearer(tenant))).status_code == 204
    assert (await client.delete("/v1/presets/card", headers=bearer(tenant))).status_code == 404
    assert (await client.get("/v1/presets/banner", headers=bearer(tenant))).status_code == 404
