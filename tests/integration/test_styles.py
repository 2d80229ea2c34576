"""Styles on `/g/`: prompt additions, default aspect, the project default, and the generation key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from delivery.db.projects import get_project_by_slug
from delivery.db.styles import delete_style, put_style, set_default_style
from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from harness.urls import urlencode
from tests.fakes import CountingProvider
from tests.images import decode
from tests.waiting import heard_up_to_now


@pytest.fixture
async def conn(settings: Settings, demo: Demo) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(settings.database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def project_id(conn: asyncpg.Connection, demo: Demo) -> int:
    return (await get_project_by_slug(conn, slug=demo.project_slug)).id


def g_url(demo: Demo, **params: object) -> str:
    return f"/g/{demo.project_slug}?" + urlencode({**params, "fm": "png", "key": demo.key_id})


async def test_a_style_adds_its_prompt_and_its_default_aspect(
    client: AsyncTestClient, demo: Demo, provider: CountingProvider, conn: asyncpg.Connection, project_id: int
) -> None:
    await put_style(conn, project_id=project_id, name="noir", prompt="high-contrast black and white film noir", aspect_class="16:9")
    response = await client.get(g_url(demo, prompt="a cat on a roof", style="noir"))
    assert response.status_code == 200, response.text
    image, _ = decode(response.content)
    assert (image.width, image.height) == (1344, 768)  # the style's aspect: the link gave none
    assert response.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=86400"  # styles can be edited
    [request] = provider.synthesized
    assert (request.style, request.style_prompt) == ("noir", "high-contrast black and white film noir")
    stored = await conn.fetchrow("SELECT style, enhanced_prompt FROM assets")
    assert stored["style"] == "noir" and "film noir" in stored["enhanced_prompt"]

    square, _ = decode((await client.get(g_url(demo, prompt="a cat on a roof", style="noir", ar="1:1", fit="crop"))).content)
    assert square.width == square.height  # the same artwork, extended: 1:1 would keep 56 % of the 16:9 root
    assert len(provider.synthesized) == 1 and [r.aspect_class for r in provider.extended] == ["1:1"]
    other, _ = decode((await client.get(g_url(demo, prompt="a dog on a roof", style="noir", ar="1:1"))).content)
    assert other.width == other.height  # an explicit `ar` wins over the style for a new root
    assert provider.synthesized[-1].aspect_class == "1:1"


async def test_unknown_styles_are_a_422(client: AsyncTestClient, demo: Demo, provider: CountingProvider) -> None:
    response = await client.get(g_url(demo, prompt="a cat", style="vaporwave"), headers={"Accept": "application/json"})
    assert response.status_code == 422 and "`vaporwave`" in response.json()["detail"]
    assert provider.synthesized == []


async def test_the_project_default_style_applies_when_a_link_names_none(
    client: AsyncTestClient, demo: Demo, provider: CountingProvider, conn: asyncpg.Connection, project_id: int, settings: Settings
) -> None:
    plain = await client.get(g_url(demo, prompt="a harbour at dusk"))
    await put_style(conn, project_id=project_id, name="ink", prompt="sumi-e ink wash")
    await set_default_style(conn, project_id=project_id, name="ink")
    await heard_up_to_now(client.app, settings.database_url or "")  # the lookup caches learn of it by notification
    styled = await client.get(g_url(demo, prompt="a harbour at dusk"))
    assert styled.headers["x-cache-status"] == "GENERATED"
    assert provider.synthesized[-1].style_prompt == "sumi-e ink wash"
    a, _ = decode(plain.content)
    b, _ = decode(styled.content)
    assert (a - b).abs().avg() > 5
    named = await client.get(g_url(demo, prompt="a harbour at dusk", style="ink"))
    assert named.headers["x-cache-status"] in ("HIT", "MISS")  # the default, named: the same key
    assert len(provider.synthesized) == 2

    assert not await set_default_style(conn, project_id=project_id, name="missing")  # no such style: nothing changes
    assert await conn.fetchval("SELECT default_style FROM projects WHERE id = $1", project_id) == "ink"
    assert await delete_style(conn, project_id=project_id, name="ink")
    assert not await delete_style(conn, project_id=project_id, name="ink")
    assert await conn.fetchval("SELECT default_style FROM projects WHERE id = $1", project_id) is None


async def test_editing_a_style_makes_new_images(
    client: AsyncTestClient, demo: Demo, provider: CountingProvider, conn: asyncpg.Connection, project_id: int, settings: Settings
) -> None:
    await put_style(conn, project_id=project_id, name="brand", prompt="pastel colours")
    url = g_url(demo, prompt="a teapot", style="brand")
    first = await client.get(url)
    assert (await client.get(url)).headers["x-cache-status"] == "HIT"
    await put_style(conn, project_id=project_id, name="brand", prompt="neon colours")
    await heard_up_to_now(client.app, settings.database_url or "")
    edited = await client.get(url)
    assert edited.headers["x-cache-status"] == "GENERATED"
    assert [r.style_prompt for r in provider.synthesized] == ["pastel colours", "neon colours"]
    a, _ = decode(first.content)
    b, _ = decode(edited.content)
    assert (a - b).abs().avg() > 5
