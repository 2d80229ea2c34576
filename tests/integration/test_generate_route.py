"""`/g/` and `/i/` on real PostgreSQL and filesystem storage, with the offline generator."""

from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.db.assets import Asset
from delivery.images import variants
from delivery.images.cache import ByteLRU
from delivery.images.params import TransformParams
from delivery.images.variants import Variant, VariantSpec
from delivery.ops.bootstrap import Demo
from delivery.services import Services
from delivery.settings import Settings
from harness.urls import urlencode
from tests.fakes import CountingProvider
from tests.images import decode


def g_url(demo: Demo, **params: object) -> str:
    return f"/g/{demo.project_slug}?" + urlencode({**params, "key": demo.key_id})


async def test_miss_generates_then_hit_serves_without_the_generator(
    client: AsyncTestClient, demo: Demo, provider: CountingProvider
) -> None:
    url = g_url(demo, prompt="a fox at dawn", w=640, h=360, fit="crop", fm="webp")
    first = await client.get(url)
    assert first.status_code == 200, first.text
    assert first.headers["x-cache-status"] == "GENERATED"
    assert first.headers["content-type"] == "image/webp"
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "generate;dur=" in first.headers["server-timing"]
    image, fmt = decode(first.content)
    assert (image.width, image.height, fmt) == (640, 360, "webp")
    assert len(provider.synthesized) == 1
    assert provider.synthesized[0].aspect_class == "4:3"  # no `ar`: the root aspect; 16:9 keeps 75 % of it, a crop
    assert provider.extended == []

    second = await client.get(url)
    assert second.headers["x-cache-status"] == "HIT"
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert len(provider.synthesized) == 1


async def test_another_variant_of_the_same_master_is_a_transform_not_a_generation(
    client: AsyncTestClient, demo: Demo, provider: CountingProvider
) -> None:
    await client.get(g_url(demo, prompt="a fox at dawn", w=640, h=360, fm="webp"))
    other = await client.get(g_url(demo, prompt="a  fox at dawn ", w=320, ar="16:9", fit="crop", fm="jpg"))
    assert other.headers["x-cache-status"] == "MISS"
    image, fmt = decode(other.content)
    assert (image.width, image.height, fmt) == (320, 180, "jpg")
    assert len(provider.synthesized) == 1


async def test_different_prompts_make_different_images(client: AsyncTestClient, demo: Demo) -> None:
    a, _ = decode((await client.get(g_url(demo, prompt="a fox", w=200, h=200, fm="png"))).content)
    b, _ = decode((await client.get(g_url(demo, prompt="a whale", w=200, h=200, fm="png"))).content)
    assert (a - b).abs().avg() > 10


async def test_i_serves_the_stored_asset_transformed(client: AsyncTestClient, demo: Demo, settings: Settings) -> None:
    await client.get(g_url(demo, prompt="a red barn", ar="4:3", fm="png"))
    conn = await asyncpg.connect(settings.database_url)
    try:
        asset = await conn.fetchrow("SELECT id, width, height, offline, model FROM assets")
    finally:
        await conn.close()
    assert asset["offline"] is True and asset["model"] == "offline-render-1"

    original = await client.get(f"/i/{asset['id']}")
    image, fmt = decode(original.content)
    assert (image.width, image.height, fmt) == (asset["width"], asset["height"], "png")
    assert original.headers["cache-control"] == "public, max-age=31536000, immutable"

    small = await client.get(f"/i/{asset['id']}?w=100&fm=avif")
    image, fmt = decode(small.content)
    assert (image.width, fmt) == (100, "avif")

    etag = small.headers["etag"]
    again = await client.get(f"/i/{asset['id']}?fm=avif&w=100", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


async def test_assets_survive_a_restart(settings: Settings, demo: Demo, client: AsyncTestClient) -> None:
    url = g_url(demo, prompt="a lighthouse", w=300, h=300, fm="jpg")
    first = await client.get(url)
    assert first.headers["x-cache-status"] == "GENERATED"

    restarted_provider = CountingProvider()
    async with AsyncTestClient(app=create_app(settings, provider=restarted_provider)) as restarted:
        again = await restarted.get(url)
    assert again.status_code == 200
    assert again.headers["x-cache-status"] == "MISS"  # new process: empty LRU, stored master
    assert restarted_provider.synthesized == []
    a, _ = decode(first.content)
    b, _ = decode(again.content)
    assert (a - b).abs().avg() < 1


async def test_errors_on_image_urls_are_small_images_that_are_never_cached(
    client: AsyncTestClient, demo: Demo, provider: CountingProvider
) -> None:
    cases = [
        (f"/g/{demo.project_slug}?prompt=x", 401),
        (f"/g/{demo.project_slug}?prompt=x&key=pk_nope", 403),
        ("/g/nope?prompt=x&key=" + demo.key_id, 404),
        (g_url(demo, prompt="x", w=100000), 400),
        (g_url(demo, prompt="x", fit="cover"), 400),
        (g_url(demo, w=10), 400),
        ("/i/" + "0" * 32, 404),
        ("/i/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404),
        ("/i/%252e%252e%252fetc", 404),
    ]
    for url, status in cases:
        response = await client.get(url)
        assert response.status_code == status, (url, response.status_code)
        assert response.headers["cache-control"] == "no-store"
        image, fmt = decode(response.content)
        assert fmt == "png" and image.width <= 128
    assert provider.synthesized == []


async def test_json_clients_get_problem_details_without_internals(client: AsyncTestClient, demo: Demo) -> None:
    response = await client.get(g_url(demo, prompt="x", w="NaN"), headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 400 and "`w`" in body["detail"]
    assert "Traceback" not in response.text and "/work" not in response.text


async def test_head_and_if_none_match_on_a_master_hit_neither_read_nor_transform(
    client: AsyncTestClient, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    await client.get(g_url(demo, prompt="a heron in reeds", w=640, ar="16:9", fit="crop", fm="webp"))
    services = client.app.state.services
    renders: list[str] = []
    reads: list[str] = []
    render, read = variants._render, services.storage.get

    async def counting_render(services: Services, asset: Asset, params: TransformParams, spec: VariantSpec) -> Variant:
        renders.append(spec.key)
        return await render(services, asset, params, spec)

    async def counting_read(key: str) -> bytes:
        reads.append(key)
        return await read(key)

    monkeypatch.setattr(variants, "_render", counting_render)
    monkeypatch.setattr(services.storage, "get", counting_read)
    monkeypatch.setattr(services, "masters", ByteLRU(0, lambda m: len(m.data)))  # a master-cache hit would hide a read
    url = g_url(demo, prompt="a heron in reeds", w=320, ar="16:9", fit="crop", fm="avif")  # a variant not made yet

    head = await client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "image/avif" and head.headers["cache-control"].endswith("immutable")
    held = await client.get(url, headers={"If-None-Match": head.headers["etag"]})
    assert held.status_code == 304 and held.content == b""
    assert renders == [] and reads == []

    made = await client.get(url)
    assert made.status_code == 200 and made.headers["etag"] == head.headers["etag"]
    image, fmt = decode(made.content)
    assert (image.width, image.height, fmt) == (320, 180, "avif")
    assert len(renders) == 1 and len(reads) == 1
    again = await client.head(url)  # the variant is cached now: its full headers, Content-Length included
    assert again.headers["content-length"] == str(len(made.content)) and len(renders) == 1
