"""Bounded work on the image routes: no enlargement unless asked, hopeless variants refused fast and
remembered, a deadline per transform (503 + Retry-After), uploads decoded before the 201, reference
images sent at the model's size, and `/metrics`' Content-Type."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import pytest
import pyvips
from litestar.testing import AsyncTestClient

from delivery.app import open_services
from delivery.assets.ids import asset_id_for_upload, master_key
from delivery.assets.uploads import upload_asset
from delivery.db.assets import NewAsset, insert_asset
from delivery.db.projects import get_project_by_slug
from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from delivery.storage.fs import FileStorage
from harness.urls import urlencode
from tests import corpus, hostile
from tests.fakes import CountingProvider
from tests.images import decode
from tests.integration.test_api_generations import bearer
from tests.tenancy import make_tenant

DEADLINE, REFUSAL_TTL = 0.5, 1.5


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=str(tmp_path / "data"),
        log_requests=False,
        sweep_interval=0,
        transform_deadline=DEADLINE,
        refusal_ttl=REFUSAL_TTL,
    )


async def store(settings: Settings, demo: Demo, data: bytes, mime: str, *, salt: bytes = b"") -> tuple[str, str]:
    """A master stored as older versions stored uploads: object, then row, with no decode check. (id, storage key)."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        project = await get_project_by_slug(conn, slug=demo.project_slug)
        asset_id = asset_id_for_upload(project.id, data + salt)
        key = master_key(project_id=project.id, asset_id=asset_id, mime=mime)
        await FileStorage(settings.resolved_storage_url.removeprefix("file://")).put(key, data, content_type=mime)
        row = NewAsset(id=asset_id, project_id=project.id, source="uploaded", storage_key=key, mime=mime, width=1, height=1, bytes=len(data))
        await insert_asset(conn, asset=row)
        return asset_id, key
    finally:
        await conn.close()


def assert_error_image(response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.headers.get("x-error"))
    assert response.headers["cache-control"] == "no-store"
    image, fmt = decode(response.content)
    assert fmt == "png" and image.width <= 128


async def timed(client: AsyncTestClient, url: str):
    started = time.perf_counter()
    response = await client.get(url)
    return response, time.perf_counter() - started


async def test_the_reported_enlargement_is_served_at_the_masters_size(client: AsyncTestClient, settings: Settings, demo: Demo) -> None:
    asset_id, _ = await store(settings, demo, corpus.photo(128, 128).pngsave_buffer(), "image/png")
    response, took = await timed(client, f"/i/{asset_id}?w=8192&h=8192&dpr=4&fm=avif&q=100")
    assert response.status_code == 200, response.headers.get("x-error")
    image, fmt = decode(response.content)
    assert (image.width, image.height, fmt) == (128, 128, "avif")
    assert took < 5, took  # was ~40 MP of AVIF: 24-50 s of CPU
    enlarged = await client.get(f"/i/{asset_id}?w=8192&h=8192&dpr=4&fm=avif&q=100&upscale=1")
    assert decode(enlarged.content)[0].width == 512  # asked for, and allowed up to PROMPTPIX_MAX_UPSCALE (4)


async def test_an_unservable_variant_is_refused_from_the_header_in_milliseconds(client: AsyncTestClient, settings: Settings, demo: Demo) -> None:
    tall = pyvips.Image.black(1, 1_000_000).pngsave_buffer()
    asset_id, _ = await store(settings, demo, tall, "image/png")
    response, took = await timed(client, f"/i/{asset_id}?w=100&fm=webp")
    assert_error_image(response, 422)
    assert response.headers["x-error"] == "a 1x1000000 image cannot be encoded as webp"
    assert took < 3, took  # planned from the header: nothing decoded (was ~10 s and ~450 MB per view); ms when idle


async def test_a_refusal_is_remembered_briefly_then_tried_again(client: AsyncTestClient, settings: Settings, demo: Demo) -> None:
    asset_id, key = await store(settings, demo, corpus.truncated_jpeg(), "image/jpeg")
    first = await client.get(f"/i/{asset_id}?w=100&fm=png")
    assert_error_image(first, 422)
    assert first.headers["x-error"] == "source image is corrupt or truncated"
    # Repair the object behind the row: a remembered refusal does not look at it again...
    await FileStorage(settings.resolved_storage_url.removeprefix("file://")).put(key, corpus.photo(200, 100).jpegsave_buffer(), content_type="image/jpeg")
    client.app.state.services.masters.forget(lambda _: True)
    again = await client.get(f"/i/{asset_id}?w=100&fm=png")
    assert_error_image(again, 422)  # the repaired object would decode: only the remembered refusal answers so
    assert again.headers["x-error"] == "source image is corrupt or truncated"
    # ...until PROMPTPIX_REFUSAL_TTL has passed.
    time.sleep(REFUSAL_TTL + 0.1)
    repaired = await client.get(f"/i/{asset_id}?w=100&fm=png")
    assert repaired.status_code == 200 and decode(repaired.content)[0].width == 100


async def test_a_transform_past_the_deadline_is_503_with_retry_after(client: AsyncTestClient, settings: Settings, demo: Demo) -> None:
    asset_id, _ = await store(settings, demo, corpus.photo(3000, 3000).pngsave_buffer(), "image/png")
    url = f"/i/{asset_id}?blur=100&sharp=100&fm=png"
    response, took = await timed(client, url)
    assert_error_image(response, 503)
    assert response.headers["retry-after"] == "1"
    assert response.headers["x-error"] == f"making this image took longer than {DEADLINE:g} s; retry later"
    assert took < DEADLINE + 1.5, took  # unbounded, this transform takes ~2 s here; on a loaded machine far more
    again, again_took = await timed(client, url)
    # Remembered: the work is not started again per view (a rerun would take the whole deadline again).
    assert again.status_code == 503 and again_took < DEADLINE
    ordinary = await client.get(f"/i/{asset_id}?w=300&fm=jpg")
    assert ordinary.status_code == 200 and decode(ordinary.content)[0].width == 300


@pytest.mark.parametrize(("name", "status", "message"), [
    ("truncated-jpeg", 422, "the image is corrupt or truncated"),
    ("truncated-png", 422, "the image is corrupt or truncated"),
    ("heic-no-decoder", 415, "this image's codec cannot be decoded here; send JPEG, PNG, WebP, GIF, HEIF/AVIF with a codec this service reads"),
])  # fmt: skip
async def test_uploads_that_cannot_be_served_are_refused_before_the_201(client: AsyncTestClient, settings: Settings, name: str, status: int, message: str) -> None:
    tenant = await make_tenant(settings.database_url)
    data = dict((n, d) for n, d, _ in hostile.corpus())[name]
    response = await client.post("/v1/assets", files={"file": ("photo.jpg", data, "image/jpeg")}, headers=bearer(tenant))
    assert response.status_code == status, response.text
    assert response.json()["detail"] == message
    listed = await client.get("/v1/assets", headers=bearer(tenant))
    assert listed.json()["items"] == []


async def test_metrics_name_their_charset_once(client: AsyncTestClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].count("charset") == 1, response.headers["content-type"]
    assert response.headers["content-type"].startswith("text/plain; version=")


async def test_reference_images_reach_the_provider_at_the_models_size(
    client: AsyncTestClient, settings: Settings, demo: Demo, provider: CountingProvider
) -> None:
    logo = corpus.halves(2048, 1024, (255, 0, 0), (0, 0, 255)).pngsave_buffer()
    async with open_services(settings) as services:
        async with services.pool.acquire() as conn:
            project = await get_project_by_slug(conn, slug=demo.project_slug)
        await upload_asset(services, project, logo, name="logo")
    response = await client.get(f"/g/{demo.project_slug}?" + urlencode({"prompt": "a mug with @logo", "fm": "png", "key": demo.key_id}))
    assert response.status_code == 200, response.headers.get("x-error")
    [request] = provider.synthesized
    [reference] = request.references
    image, _ = decode(reference.data)
    assert (reference.name, image.width, image.height) == ("logo", settings.reference_max_side, settings.reference_max_side // 2)
    assert len(reference.data) < len(logo)
