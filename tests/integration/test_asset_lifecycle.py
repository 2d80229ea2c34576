"""Edits and deletes reach every process's caches: versioned variant keys and ETags, PostgreSQL LISTEN/NOTIFY.

Two app instances on one database stand for two workers (or two machines): each
has its own variant LRU and its own change listener. A crop is decoded to see
which half of a two-tone image it shows, so a stale cache cannot pass as fresh.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.settings import Settings
from tests.fakes import CountingProvider
from tests.images import decode, pixel
from tests.integration.test_api_generations import CYAN, MAGENTA, bearer, close_to, two_tone, upload
from tests.tenancy import Tenant, make_tenant
from tests.waiting import heard_up_to_now, until

CROP = "?w=16&h=64&fit=crop&fm=png"  # a narrow window of a 64x64 image: it shows the half the focal point is in


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=100)


@pytest.fixture
async def other(client: AsyncTestClient, settings: Settings, provider: CountingProvider) -> AsyncIterator[AsyncTestClient]:
    """A second process on the same database and storage, listening for changes."""
    async with AsyncTestClient(app=create_app(settings, provider=provider)) as second:
        await until(lambda: second.app.state.invalidator.connected.is_set(), "the second app listens", timeout=10)
        yield second


async def listening(client: AsyncTestClient) -> None:
    await until(lambda: client.app.state.invalidator.connected.is_set(), "the app listens", timeout=10)


def colour(body: bytes) -> list[float]:
    image, fmt = decode(body)
    assert (image.width, image.height, fmt) == (16, 64, "png")
    return pixel(image, 0.5, 0.5)


async def test_a_patched_focal_point_changes_the_crop_and_etag_at_once(
    client: AsyncTestClient, tenant: Tenant, settings: Settings
) -> None:
    asset = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    url = f"/i/{asset['id']}{CROP}"
    await client.patch(f"/v1/assets/{asset['id']}", json={"focal_point": {"x": 0.0, "y": 0.5}}, headers=bearer(tenant))
    await heard_up_to_now(client.app, settings.database_url or "")  # the PATCH's own notification, heard late, would empty the cache
    first = await client.get(url)
    again = await client.get(url)
    assert close_to(colour(first.content), MAGENTA) and again.headers["x-cache-status"] == "HIT"
    assert again.headers["etag"] == first.headers["etag"]

    edited = await client.patch(f"/v1/assets/{asset['id']}", json={"focal_point": {"x": 1.0, "y": 0.5}}, headers=bearer(tenant))
    assert edited.status_code == 200, edited.text
    after = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and after.headers["x-cache-status"] == "MISS"
    assert close_to(colour(after.content), CYAN) and after.headers["etag"] != first.headers["etag"]
    # Alt text is what `fm=json` shows: a new version too, but the same crop.
    described = await client.patch(f"/v1/assets/{asset['id']}", json={"alt_text": "logo"}, headers=bearer(tenant))
    assert described.status_code == 200
    relabelled = await client.get(url)
    assert close_to(colour(relabelled.content), CYAN) and relabelled.headers["etag"] not in (first.headers["etag"], after.headers["etag"])
    # An edit that changes nothing keeps the version, and so the ETag.
    same = await client.patch(f"/v1/assets/{asset['id']}", json={"alt_text": "logo"}, headers=bearer(tenant))
    assert same.status_code == 200
    kept = await client.get(url)
    assert kept.headers["etag"] == relabelled.headers["etag"]


async def test_a_change_reaches_the_other_process_within_a_second(
    client: AsyncTestClient, other: AsyncTestClient, tenant: Tenant, settings: Settings
) -> None:
    await listening(client)
    asset = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    url = f"/i/{asset['id']}{CROP}"
    await client.patch(f"/v1/assets/{asset['id']}", json={"focal_point": {"x": 0.0, "y": 0.5}}, headers=bearer(tenant))
    for app in (client, other):  # the setup's own notifications, heard late, would empty the caches filled next
        await heard_up_to_now(app.app, settings.database_url or "")
    for app in (client, other):  # both processes cache the magenta crop
        await app.get(url)
        cached = await app.get(url)
        assert cached.headers["x-cache-status"] == "HIT" and close_to(colour(cached.content), MAGENTA)
    old_etag = cached.headers["etag"]

    await client.patch(f"/v1/assets/{asset['id']}", json={"focal_point": {"x": 1.0, "y": 0.5}}, headers=bearer(tenant))
    started = time.monotonic()

    async def shows_cyan() -> bool:
        response = await other.get(url)
        return close_to(colour(response.content), CYAN)

    await until(shows_cyan, "the other process serves the new crop", timeout=1.0)
    assert time.monotonic() - started < 1.0
    fresh = await other.get(url)
    assert fresh.headers["etag"] != old_etag and fresh.headers["etag"] == (await client.get(url)).headers["etag"]

    deleted = await client.delete(f"/v1/assets/{asset['id']}", headers=bearer(tenant))
    assert deleted.status_code == 204
    assert (await client.get(url)).status_code == 404

    async def gone() -> bool:
        return (await other.get(url)).status_code == 404

    await until(gone, "the other process answers 404", timeout=1.0)

    restored = await other.post(f"/v1/assets/{asset['id']}/restore", headers=bearer(tenant))
    assert restored.status_code == 200
    back = await client.get(url)
    assert back.status_code == 200 and back.headers["etag"] not in (old_etag, fresh.headers["etag"])


async def test_a_change_made_in_sql_is_notified_too(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    """The trigger, not the route, bumps the version and notifies: any writer (CLI, console, sweep) is covered."""
    await listening(client)
    asset = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    url = f"/i/{asset['id']}{CROP}"
    await heard_up_to_now(client.app, settings.database_url or "")
    await client.get(url)
    assert (await client.get(url)).headers["x-cache-status"] == "HIT"
    conn = await asyncpg.connect(settings.database_url)
    try:
        version = await conn.fetchval("UPDATE assets SET focal_x = 1.0 WHERE id = $1 RETURNING version", asset["id"])
        assert version == 2
        unchanged = await conn.fetchval("UPDATE assets SET focal_x = 1.0 WHERE id = $1 RETURNING version", asset["id"])
        assert unchanged == 2
    finally:
        await conn.close()

    async def shows_cyan() -> bool:
        return close_to(colour((await client.get(url)).content), CYAN)

    await until(shows_cyan, "the listener drops the cached crop", timeout=1.0)
