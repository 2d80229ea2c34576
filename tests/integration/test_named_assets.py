"""Uploads, `@name` references in prompts and `/i/{project}/@{name}`, on fs and on SeaweedFS S3."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import asyncpg
import msgspec
import pytest
import pyvips
from litestar.testing import AsyncTestClient

from delivery.app import open_services
from delivery.assets.uploads import upload_asset
from delivery.db.asset_names import set_name
from delivery.db.assets import Asset
from delivery.db.projects import get_project_by_slug
from delivery.errors import InvalidName, ReservedName, SourceTooLarge, SourceUnreadable, UnsupportedSourceFormat
from delivery.ops.bootstrap import Demo
from delivery.services import Services
from delivery.settings import Settings
from harness.urls import urlencode
from tests.fakes import CountingProvider
from tests.images import decode, pixel
from tests.s3server import S3Server
from tests.waiting import heard_up_to_now

MAGENTA, CYAN, YELLOW = (255, 0, 255), (0, 255, 255), (255, 255, 0)


@pytest.fixture(params=["fs", "s3"])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """The app on each storage backend."""
    base = Settings(database_url=database_url, data_dir=str(tmp_path / "data"), log_requests=False, sweep_interval=0)
    if request.param == "fs":
        return base
    server: S3Server = request.getfixturevalue("seaweedfs")
    return msgspec.structs.replace(
        base,
        storage_url=f"s3://{server.new_bucket()}",
        s3_endpoint=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    )


def two_tone(left: tuple[int, int, int], right: tuple[int, int, int], fmt: str = ".png") -> bytes:
    """A 64x64 logo: `left` colour on the left half, `right` on the right."""
    half = pyvips.Image.black(32, 64, bands=3)
    return ((half + list(left)).join(half + list(right), "horizontal")).cast("uchar").write_to_buffer(fmt)


@pytest.fixture
async def services(settings: Settings, demo: Demo) -> AsyncIterator[Services]:
    """The test's own pools and clients: the test client runs the app on another event loop."""
    async with open_services(settings) as opened:
        yield opened


async def upload(services: Services, demo: Demo, data: bytes, name: str | None = None) -> Asset:
    async with services.pool.acquire() as conn:
        project = await get_project_by_slug(conn, slug=demo.project_slug)
    return await upload_asset(services, project, data, name=name)


def g_url(demo: Demo, **params: object) -> str:
    return f"/g/{demo.project_slug}?" + urlencode({**params, "key": demo.key_id})


def close_to(actual: list[float], expected: tuple[int, int, int], tolerance: float = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def strip_colours(image: pyvips.Image) -> tuple[list[float], list[float]]:
    """The offline provider draws the first reference as a quarter-side tile at the bottom left."""
    side, margin = image.width // 4, image.width // 32
    y = (image.height - margin - side / 2) / image.height
    return pixel(image, (margin + side * 0.25) / image.width, y), pixel(image, (margin + side * 0.75) / image.width, y)


async def test_ready_on_each_backend(client: AsyncTestClient) -> None:
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["storage"] == "ok"


async def test_a_named_logo_in_a_prompt_reaches_the_image(
    client: AsyncTestClient, demo: Demo, services: Services, provider: CountingProvider
) -> None:
    logo = await upload(services, demo, two_tone(MAGENTA, CYAN), name="logo")
    assert (logo.source, logo.width, logo.height, logo.mime) == ("uploaded", 64, 64, "image/png")

    response = await client.get(g_url(demo, prompt="a mug with @logo", ar="1:1", fm="png"))
    assert response.status_code == 200, response.text
    assert response.headers["x-cache-status"] == "GENERATED"
    # `@logo` can move to another asset, so the URL is cached like the alias, not forever.
    assert response.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=86400"
    image, _ = decode(response.content)
    assert (image.width, image.height) == (1024, 1024)
    left, right = strip_colours(image)
    assert close_to(left, MAGENTA) and close_to(right, CYAN), (left, right)
    [request] = provider.synthesized
    assert [(r.name, r.mime) for r in request.references] == [("logo", "image/png")]

    plain_response = await client.get(g_url(demo, prompt="a mug with", ar="1:1", fm="png"))
    assert plain_response.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain, _ = decode(plain_response.content)
    assert not close_to(strip_colours(plain)[0], MAGENTA)


async def test_moving_a_name_makes_a_new_image_and_moves_the_alias(
    client: AsyncTestClient, demo: Demo, services: Services, provider: CountingProvider, settings: Settings
) -> None:
    first_logo = await upload(services, demo, two_tone(MAGENTA, CYAN), name="logo")
    url = g_url(demo, prompt="a mug with @logo", fm="png")
    first = await client.get(url)
    alias = await client.get(f"/i/{demo.project_slug}/@logo?fm=png")
    assert alias.status_code == 200
    assert alias.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=86400"
    assert alias.headers["etag"]
    assert close_to(pixel(decode(alias.content)[0], 0.25, 0.5), MAGENTA)
    unchanged = await client.get(f"/i/{demo.project_slug}/@logo?fm=png", headers={"If-None-Match": alias.headers["etag"]})
    assert unchanged.status_code == 304

    second_logo = await upload(services, demo, two_tone(YELLOW, MAGENTA), name="logo")
    assert second_logo.id != first_logo.id
    await heard_up_to_now(client.app, settings.database_url or "")  # the app learns of the move by notification
    again = await client.get(url)
    assert again.headers["x-cache-status"] == "GENERATED"
    left, _ = strip_colours(decode(again.content)[0])
    assert close_to(left, YELLOW)
    assert len(provider.synthesized) == 2

    moved = await client.get(f"/i/{demo.project_slug}/@logo?fm=png", headers={"If-None-Match": alias.headers["etag"]})
    assert moved.status_code == 200 and moved.headers["etag"] != alias.headers["etag"]
    assert close_to(pixel(decode(moved.content)[0], 0.25, 0.5), YELLOW)
    # The first image is still its own asset, forever at its /i/ URL.
    conn = await asyncpg.connect(settings.database_url)
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM assets WHERE source = 'generated' ORDER BY created_at")]
    finally:
        await conn.close()
    assert len(ids) == 2
    old = await client.get(f"/i/{ids[0]}?fm=png")
    assert old.content and close_to(strip_colours(decode(old.content)[0])[0], MAGENTA)
    assert first.status_code == 200


async def test_unknown_names_are_a_422_that_names_them(
    client: AsyncTestClient, demo: Demo, services: Services, provider: CountingProvider) -> None:
    await upload(services, demo, two_tone(MAGENTA, CYAN), name="logo")
    response = await client.get(g_url(demo, prompt="@logo beside @mascot and @Badge"), headers={"Accept": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "@mascot" in detail and "@badge" in detail and "@logo" not in detail
    as_image = await client.get(g_url(demo, prompt="a mug with @nope"))
    assert as_image.status_code == 422 and "@nope" in as_image.headers["x-error"]
    assert decode(as_image.content)[1] == "png"
    assert provider.synthesized == []

    email = await client.get(g_url(demo, prompt="write to me@example.com", w=64, h=64))
    assert email.status_code == 200 and provider.synthesized[0].references == ()


async def test_uploads_are_validated_with_the_delivery_limits_and_deduplicated(
    client: AsyncTestClient, demo: Demo, services: Services, settings: Settings
) -> None:
    with pytest.raises(UnsupportedSourceFormat, match=r"^source is not a supported image \(JPEG, PNG"):
        await upload(services, demo, b"<svg>not a raster image</svg>")
    with pytest.raises(SourceUnreadable, match=r"^source image is corrupt or truncated$"):  # cut inside its header: truncated, not another format
        await upload(services, demo, two_tone(MAGENTA, CYAN)[:60])
    with pytest.raises(InvalidName, match=r"^`Not A Name` is not a valid name"):
        await upload(services, demo, two_tone(MAGENTA, CYAN), name="Not A Name")
    assert [o async for o in services.storage.list("")] == []

    async with open_services(msgspec.structs.replace(settings, max_source_bytes=100)) as strict:
        with pytest.raises(SourceTooLarge, match=r"^source image is larger than 100 bytes$"):
            await upload(strict, demo, two_tone(MAGENTA, CYAN, ".jpg"))

    jpeg = two_tone(MAGENTA, CYAN, ".jpg")
    first, again = await upload(services, demo, jpeg), await upload(services, demo, jpeg)
    assert first.id == again.id and first.mime == "image/jpeg"
    assert [o.key async for o in services.storage.list("masters/")] == [first.storage_key]
    assert 0.0 <= first.focal_x <= 1.0 and first.colors


async def test_names_stay_inside_their_project(
    client: AsyncTestClient, demo: Demo, services: Services, settings: Settings) -> None:
    logo = await upload(services, demo, two_tone(MAGENTA, CYAN), name="logo")
    conn = await asyncpg.connect(settings.database_url)
    try:
        other = await conn.fetchval(
            "INSERT INTO projects (organization_id, slug, name) SELECT organization_id, 'other', 'Other' FROM projects LIMIT 1 RETURNING id"
        )
        assert await set_name(conn, project_id=other, name="logo", asset_id=logo.id) is None  # another project's asset
        for reserved in ("prev", "step2"):
            with pytest.raises(ReservedName, match=f"^`{reserved}` is reserved for flow steps$"):
                await set_name(conn, project_id=logo.project_id, name=reserved, asset_id=logo.id)
        for bad in ("-x", "a" * 65, "ünï"):
            with pytest.raises(InvalidName, match=f"^`{bad}` is not a valid name"):
                await set_name(conn, project_id=logo.project_id, name=bad, asset_id=logo.id)
    finally:
        await conn.close()
    assert (await client.get("/i/other/@logo")).status_code == 404


TRAVERSALS = [
    "/i/{p}/@..%2f..%2fsecret",
    "/i/{p}/%40%2e%2e",
    "/i/{p}/@%2e%2e",
    "/i/{p}/@%252e%252e%252fsecret",
    "/i/{p}/%2e%2e",
    "/i/%2e%2e/@logo",
    "/i/%2e%2e%2f%2e%2e/@logo",
    "/i/{p}/@logo%2f..%2f..%2fsecret",
    "/i/{p}/@LOGO%00",
    "/i/%252e%252e%252f{p}",
    "/i/..%2fmasters",
    "/i/{p}/@",
]


async def test_traversal_attempts_are_404_and_touch_nothing(
    client: AsyncTestClient, demo: Demo, services: Services, settings: Settings) -> None:
    await upload(services, demo, two_tone(MAGENTA, CYAN), name="logo")
    before = {o.key: o.size async for o in services.storage.list("")}
    outside = Path(settings.data_dir) / "secret"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_bytes(b"secret")
    for template in TRAVERSALS:
        url = template.format(p=quote(demo.project_slug))
        response = await client.get(url)
        expected = 400 if "%00" in url else 404  # a control character in a path is refused before any route
        assert response.status_code == expected, (url, response.status_code)
        assert response.headers["cache-control"] == "no-store"
    assert outside.read_bytes() == b"secret"
    assert {o.key: o.size async for o in services.storage.list("")} == before
    assert (await client.get(f"/i/{demo.project_slug}/@logo")).status_code == 200
