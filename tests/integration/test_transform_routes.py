"""`/i/` end to end on real PostgreSQL and storage: params, hostile masters, headers, negotiation, load shedding.

Masters are inserted the way uploads will store them (object first, then the
row), straight through the storage and queries modules.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import msgspec
import pytest
import pyvips
from litestar.testing import AsyncTestClient

from delivery.app import create_app, open_services
from delivery.assets.ids import asset_id_for_upload, master_key
from delivery.db.assets import NewAsset, get_asset, insert_asset
from delivery.db.projects import get_project_by_slug
from delivery.images.params import parse_transform
from delivery.images.variants import render_variant
from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from delivery.storage.fs import FileStorage
from tests import corpus
from tests.images import decode, pixel
from tests.waiting import until

Store = Callable[..., Awaitable[str]]


@pytest.fixture
async def store(settings: Settings, demo: Demo) -> Store:
    async def put(data: bytes, mime: str, *, focal: tuple[float, float] = (0.5, 0.5)) -> str:
        conn = await asyncpg.connect(settings.database_url)
        try:
            project = await get_project_by_slug(conn, slug=demo.project_slug)
            asset_id = asset_id_for_upload(project.id, data)
            key = master_key(project_id=project.id, asset_id=asset_id, mime=mime)
            await FileStorage(settings.resolved_storage_url.removeprefix("file://")).put(key, data, content_type=mime)
            row = NewAsset(
                id=asset_id, project_id=project.id, source="uploaded", storage_key=key, mime=mime,
                width=1, height=1, bytes=len(data), focal_x=focal[0], focal_y=focal[1],
            )
            await insert_asset(conn, asset=row)
            return asset_id
        finally:
            await conn.close()

    return put


def assert_error_image(response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.headers.get("x-error"))
    assert response.headers["cache-control"] == "no-store"
    image, fmt = decode(response.content)
    assert fmt == "png" and image.width <= 128


@pytest.mark.parametrize(
    ("query", "named"),
    [("w=100000", "w"), ("w=-1", "w"), ("w=NaN", "w"), ("w=100&w=200", "w"), ("fp-x=2", "fp-x"), ("preset=huge", "preset")],
)
async def test_bad_params_are_400_naming_the_param(client: AsyncTestClient, store: Store, query: str, named: str) -> None:
    asset = await store(corpus.photo(64, 64).jpegsave_buffer(), "image/jpeg")
    response = await client.get(f"/i/{asset}?{query}")
    assert_error_image(response, 400)
    assert f"`{named}`" in response.headers["x-error"]
    problem = await client.get(f"/i/{asset}?{query}", headers={"Accept": "application/json"})
    assert problem.status_code == 400 and f"`{named}`" in problem.json()["detail"]


HOSTILE = {
    "png-50000x50000": (corpus.png_bomb(), "image/png", 422),
    "truncated-jpeg": (corpus.truncated_jpeg(), "image/jpeg", 422),
    "pdf-as-jpg": (corpus.PDF, "image/jpeg", 415),
    "svg-as-jpg": (corpus.SVG, "image/jpeg", 415),
    "gif-3000-frames": (corpus.gif_frames(3000), "image/gif", 422),
}


@pytest.mark.parametrize("name", HOSTILE)
async def test_hostile_masters_get_their_status_and_the_worker_keeps_serving(client: AsyncTestClient, store: Store, name: str) -> None:
    data, mime, status = HOSTILE[name]
    bad = await store(data, mime)
    for query in ("w=100", "w=200&h=100&fm=webp", ""):
        response = await client.get(f"/i/{bad}?{query}")
        assert_error_image(response, status)
        assert not any(leak in response.headers["x-error"] for leak in ("masters/", "/tmp", "Traceback", "vips"))
    good = await store(corpus.photo(300, 200).jpegsave_buffer(), "image/jpeg")
    image, fmt = decode((await client.get(f"/i/{good}?w=150")).content)
    assert (image.width, image.height, fmt) == (150, 100, "jpg")


async def test_a_master_missing_from_storage_is_a_404_and_nothing_else_breaks(
    client: AsyncTestClient, store: Store, settings: Settings
) -> None:
    data = corpus.photo(300, 200).jpegsave_buffer()
    asset_id = await store(data, "image/jpeg")
    root = Path(settings.resolved_storage_url.removeprefix("file://"))
    for master in root.rglob(f"{asset_id}*"):
        master.unlink()  # the row stays, the object is gone
    response = await client.get(f"/i/{asset_id}?w=100")
    assert_error_image(response, 404)
    assert response.headers["x-error"] == "asset master is missing"
    other = await store(corpus.photo(300, 200, seed=2).jpegsave_buffer(), "image/jpeg")
    image, _ = decode((await client.get(f"/i/{other}?w=150")).content)
    assert (image.width, image.height) == (150, 100)


@pytest.mark.parametrize("master_cache_bytes", [64 * 1024 * 1024, 0], ids=["cached", "off"])
async def test_a_masters_next_variant_comes_from_the_master_cache(settings: Settings, store: Store, master_cache_bytes: int) -> None:
    """Proved by deleting the object after the first variant: only a cached master can still be transformed."""
    data = corpus.photo(400, 300).jpegsave_buffer()
    asset_id = await store(data, "image/jpeg")
    configured = msgspec.structs.replace(settings, master_cache_bytes=master_cache_bytes)
    async with AsyncTestClient(app=create_app(configured)) as client:
        first = await client.get(f"/i/{asset_id}?w=200&fm=png")
        assert first.headers["x-cache-status"] == "MISS"
        root = Path(settings.resolved_storage_url.removeprefix("file://"))
        for master in root.rglob(f"{asset_id}*"):
            master.unlink()
        second = await client.get(f"/i/{asset_id}?w=100&fm=png")
        if master_cache_bytes == 0:
            assert_error_image(second, 404)
            return
        assert second.headers["x-cache-status"] == "MISS"  # a new variant, transformed now
        image, fmt = decode(second.content)
        assert (image.width, image.height, fmt) == (100, 75, "png")
        reference = pyvips.Image.thumbnail_buffer(data, 100)
        assert abs(pixel(image, 0.5, 0.5)[0] - pixel(reference, 0.5, 0.5)[0]) < 8
        assert client.app.state.services.masters.size >= len(data)


async def test_cache_headers_etag_and_revalidation(client: AsyncTestClient, store: Store, settings: Settings) -> None:
    asset = await store(corpus.photo(800, 600).jpegsave_buffer(), "image/jpeg")
    url = f"/i/{asset}?w=200&fm=webp"
    first = await client.get(url)
    assert first.status_code == 200
    headers = first.headers
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["content-type"] == "image/webp"
    assert int(headers["content-length"]) == len(first.content)
    assert headers["x-cache-status"] == "MISS"
    assert "transform;dur=" in headers["server-timing"] and "encode;dur=" in headers["server-timing"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["access-control-allow-origin"] == "*"
    assert "vary" not in headers
    etag = headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")

    second = await client.get(f"/i/{asset}?fm=webp&w=200&dpr=1")  # same canonical variant
    assert second.headers["x-cache-status"] == "HIT" and second.headers["etag"] == etag
    assert "cache;dur=" in second.headers["server-timing"]
    assert second.content == first.content

    cached = await client.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag
    other = await client.get(f"/i/{asset}?w=201&fm=webp", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag

    async with AsyncTestClient(app=create_app(settings)) as fresh:  # empty LRU: 304 without a transform
        revalidated = await fresh.get(url, headers={"If-None-Match": f'"x", {etag}'})
        assert revalidated.status_code == 304 and revalidated.headers["etag"] == etag
        assert fresh.app.state.services.metrics.value("promptpix_transform_seconds_count") == 0


@pytest.mark.parametrize(
    ("accept", "mime", "expected"),
    [
        ("image/avif,image/webp,*/*", "image/jpeg", "avif"),
        ("image/webp,*/*", "image/jpeg", "webp"),
        ("image/jpeg,*/*;q=0.8", "image/jpeg", "jpg"),
        ("*/*", "image/png", "png"),
    ],
)
async def test_auto_format_negotiates_from_accept(client: AsyncTestClient, store: Store, accept: str, mime: str, expected: str) -> None:
    master = corpus.photo(400, 300).jpegsave_buffer() if mime == "image/jpeg" else corpus.alpha_png(400, 300)
    asset = await store(master, mime)
    response = await client.get(f"/i/{asset}?w=100&auto=format", headers={"Accept": accept})
    image, fmt = decode(response.content)
    assert (fmt, image.width) == (expected, 100)
    assert response.headers["vary"] == "Accept"
    again = await client.get(f"/i/{asset}?w=100&auto=format", headers={"Accept": accept})
    assert again.headers["x-cache-status"] == "HIT" and decode(again.content)[1] == expected


async def test_formats_negotiated_for_one_url_have_their_own_etags(client: AsyncTestClient, store: Store) -> None:
    asset = await store(corpus.photo(400, 300).jpegsave_buffer(), "image/jpeg")
    avif = await client.get(f"/i/{asset}?w=100&auto=format", headers={"Accept": "image/avif"})
    webp = await client.get(f"/i/{asset}?w=100&auto=format", headers={"Accept": "image/webp"})
    assert avif.headers["etag"] != webp.headers["etag"]
    explicit = await client.get(f"/i/{asset}?w=100&auto=format&fm=png", headers={"Accept": "image/avif"})
    assert decode(explicit.content)[1] == "png" and "vary" not in explicit.headers


async def test_presets_and_focal_crops_through_http(client: AsyncTestClient, store: Store) -> None:
    asset = await store(corpus.dot(1600, 900, 0.9, 0.15).pngsave_buffer(), "image/png", focal=(0.9, 0.15))
    og, fmt = decode((await client.get(f"/i/{asset}?preset=og")).content)
    assert (og.width, og.height, fmt) == (1200, 630, "jpg")
    square, _ = decode((await client.get(f"/i/{asset}?w=120&h=120&fit=crop&fm=png")).content)
    assert (square.width, square.height) == (120, 120)
    red = (square[0] > 180) & (square[1] < 90)
    assert red.max() > 0
    filled, _ = decode((await client.get(f"/i/{asset}?w=100&h=100&fit=fill&bg=0000ff&fm=png")).content)
    assert pixel(filled, 0.5, 0.02) == pytest.approx([0, 0, 255], abs=2)


async def test_identical_concurrent_misses_run_one_transform(client: AsyncTestClient, store: Store, settings: Settings) -> None:
    """On this test's own event loop (the test client serialises requests), eight renders really overlap."""
    asset_id = await store(corpus.photo(1200, 900).jpegsave_buffer(), "image/jpeg")
    params = parse_transform({"w": "300", "fm": "jpg"})
    async with open_services(settings) as services:
        async with services.pool.acquire() as conn:
            asset = await get_asset(conn, id=asset_id)
        results = await asyncio.gather(*(render_variant(services, asset, params, "") for _ in range(8)))
        assert len({variant.data for variant, _ in results}) == 1
        assert [hit for _, hit in results] == [False] * 8  # all waited on the one transform, none found it cached
        assert services.metrics.value("promptpix_transform_seconds_count") == 1
    image, fmt = decode(results[0][0].data)
    assert (image.width, image.height, fmt) == (300, 225, "jpg")


async def test_a_full_queue_sheds_load_with_503_and_retry_after(settings: Settings, store: Store) -> None:
    asset = await store(corpus.photo(200, 100).jpegsave_buffer(), "image/jpeg")
    tight = msgspec.structs.replace(settings, transform_threads=1, transform_queue=0)
    async with AsyncTestClient(app=create_app(tight)) as client:
        services = client.app.state.services
        release = threading.Event()
        occupying = asyncio.ensure_future(services.run_in_thread(release.wait, 10))
        await until(lambda: services.transforms_in_flight == 1, "the thread holds the one transform slot", timeout=10)
        try:
            busy = await client.get(f"/i/{asset}?w=50")
            assert_error_image(busy, 503)
            assert busy.headers["retry-after"] == "1"
        finally:
            release.set()
            await occupying
        await until(lambda: services.transforms_in_flight == 0, "the slot frees when the thread finishes", timeout=10)
        served = await client.get(f"/i/{asset}?w=50")
        assert served.status_code == 200 and decode(served.content)[0].width == 50


async def test_g_links_take_presets_and_auto_format(client: AsyncTestClient, demo: Demo) -> None:
    url = f"/g/{demo.project_slug}?prompt=a+kite&preset=card&auto=format&key={demo.key_id}"
    first = await client.get(url, headers={"Accept": "image/webp,*/*"})
    image, fmt = decode(first.content)
    assert (image.width, image.height, fmt) == (600, 400, "webp")
    assert first.headers["vary"] == "Accept" and first.headers["x-cache-status"] == "GENERATED"
    legacy = await client.get(url, headers={"Accept": "*/*"})
    assert decode(legacy.content)[1] == "png"  # the offline generator's masters are PNG
    assert legacy.headers["etag"] != first.headers["etag"]
    again = await client.get(url, headers={"Accept": "image/webp", "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
