"""Edits and deletes reach the edge: real nginx (the committed config, cache-purge module) in front of
`promptpix serve --workers 2`, and the fake Cloudflare API recording purges by tag.

nginx is started first (on the app's port chosen in advance) so the app can be
told where to send its `PURGE` requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.fake_cloudflare import TOKEN, ZONE, FakeCloudflare
from harness.processes import Nginx, Serve, find_nginx, free_port, start_nginx, start_serve
from tests.conftest import require
from tests.images import decode, pixel
from tests.integration.test_api_generations import CYAN, MAGENTA, close_to, two_tone
from tests.tenancy import make_tenant
from tests.waiting import until

CROP = "?w=16&h=64&fit=crop&fm=png"


@pytest.fixture
def cloudflare() -> Iterator[FakeCloudflare]:
    with FakeCloudflare() as fake:
        yield fake


@pytest.fixture
def stack(database_url: str, tmp_path: Path, cloudflare: FakeCloudflare) -> Iterator[tuple[Serve, Nginx]]:
    binary = find_nginx()
    require(binary is not None, "nginx and libnginx-mod-http-cache-purge (Debian packages)")
    assert binary is not None
    app_port = free_port()
    nginx = start_nginx(binary, tmp_path / "nginx", [app_port])
    env = {
        "PROMPTPIX_NGINX_PURGE_URLS": nginx.base,
        "PROMPTPIX_CLOUDFLARE_ZONE_ID": ZONE,
        "PROMPTPIX_CLOUDFLARE_API_TOKEN": TOKEN,
        "PROMPTPIX_CLOUDFLARE_API_URL": cloudflare.url,
        "PROMPTPIX_CLOUDFLARE_PURGE_INTERVAL": "0.2",
    }
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url, workers=2, port=app_port, env=env)
    yield served, nginx
    served.stop()
    nginx.stop()


def colour(response: httpx.Response) -> list[float]:
    assert response.status_code == 200, response.text
    image, fmt = decode(response.content)
    assert (image.width, image.height, fmt) == (16, 64, "png")
    return pixel(image, 0.5, 0.5)


async def test_an_edit_and_a_delete_are_purged_from_nginx_and_cloudflare(
    stack: tuple[Serve, Nginx], cloudflare: FakeCloudflare, database_url: str
) -> None:
    served, nginx = stack
    tenant = await make_tenant(database_url, credits=10)
    auth = {"Authorization": f"Bearer {tenant.secret_key}"}
    async with httpx.AsyncClient(base_url=nginx.base, timeout=30) as edge, httpx.AsyncClient(base_url=served.base, timeout=30) as app:
        made = await edge.post("/v1/assets", files={"file": ("logo.png", two_tone(MAGENTA, CYAN), "image/png")}, headers=auth)
        assert made.status_code == 201, made.text
        asset = made.json()["id"]
        url = f"/i/{asset}{CROP}"
        assert cloudflare.purges == []  # a new asset has nothing to purge
        await edge.patch(f"/v1/assets/{asset}", json={"focal_point": {"x": 0.0, "y": 0.5}}, headers=auth)
        await until(lambda: len(cloudflare.accepted()) == 1, "the first edit is purged at Cloudflare", timeout=5)

        first = await edge.get(url)
        cached = await edge.get(url)
        assert first.headers["x-edge-cache"] == "MISS" and cached.headers["x-edge-cache"] == "HIT"
        assert close_to(colour(cached), MAGENTA) and cached.headers["etag"] == first.headers["etag"]
        assert first.headers["cache-tag"] == f"asset-{asset},project-{tenant.project.id}"
        assert "x-accel-expires" not in first.headers  # nginx keeps it to itself
        for _ in range(20):  # both workers cache the magenta crop (the socket spreads connections between them)
            async with httpx.AsyncClient(base_url=served.base, timeout=30) as fresh:
                assert close_to(colour(await fresh.get(url)), MAGENTA)

        edited = await edge.patch(f"/v1/assets/{asset}", json={"focal_point": {"x": 1.0, "y": 0.5}}, headers=auth)
        assert edited.status_code == 200
        started = time.monotonic()

        async def edge_shows_cyan() -> bool:
            return close_to(colour(await edge.get(url)), CYAN)

        await until(edge_shows_cyan, "nginx serves the new crop", timeout=1.0)
        assert time.monotonic() - started < 1.0
        after = await edge.get(url)
        assert after.headers["etag"] != first.headers["etag"] and after.headers["x-edge-cache"] == "HIT"
        for _ in range(20):  # no worker still has the old crop
            async with httpx.AsyncClient(base_url=served.base, timeout=30) as fresh:
                assert close_to(colour(await fresh.get(url)), CYAN)
        await until(lambda: len(cloudflare.accepted()) == 2, "Cloudflare is asked to purge", timeout=5)
        await asyncio.sleep(0.5)  # one change, one purge, whichever of the two workers made it: nothing else follows
        purge = cloudflare.accepted()[-1]
        assert len(cloudflare.purges) == 2 and purge.zone == ZONE and purge.body == {"tags": [f"asset-{asset}"]}

        # A PURGE from elsewhere than the app's networks would be refused; from here it is the app's own.
        deleted = await edge.delete(f"/v1/assets/{asset}", headers=auth)
        assert deleted.status_code == 204

        async def gone_everywhere() -> bool:
            return (await edge.get(url)).status_code == 404 and (await app.get(url)).status_code == 404

        await until(gone_everywhere, "nginx and the app answer 404", timeout=1.0)
        await until(lambda: len(cloudflare.accepted()) == 3, "the delete is purged at Cloudflare", timeout=5)
        assert cloudflare.tags() == [f"asset-{asset}"] * 3
