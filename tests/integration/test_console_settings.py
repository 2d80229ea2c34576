"""Console project settings: styles, presets and the default style, through the same rules as `/v1`."""

from __future__ import annotations

import asyncpg
from litestar.testing import AsyncTestClient

from delivery.db.organizations import create_organization
from delivery.db.projects import create_project
from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from tests.integration.test_console_auth import COOKIE, _sign_in


async def test_styles_presets_and_the_default_style(client: AsyncTestClient, settings: Settings, demo: Demo) -> None:
    cookie, csrf = await _sign_in(client, settings, demo.organization_id)
    headers = {"Cookie": f"{COOKIE}={cookie}", "Accept": "text/html"}

    async def post(path: str, **data: str) -> int:
        response = await client.post(path, data={"csrf": csrf, **data}, headers=headers, follow_redirects=False)
        return response.status_code

    assert await post("/console/p/demo/styles", name="ink", prompt="ink wash, loose brush", aspect_ratio="4:3", default="on") == 303
    assert await post("/console/p/demo/styles", name="neon", prompt="neon glow") == 303
    assert await post("/console/p/demo/presets", name="banner", params="w=1200&h=300&fm=webp") == 303
    page = await client.get("/console/p/demo/settings", headers=headers)
    assert page.status_code == 200
    assert 'data-style="ink"' in page.text and 'data-style="neon"' in page.text and "ink wash, loose brush" in page.text
    assert 'data-preset="banner"' in page.text and "fm=webp&amp;h=300&amp;w=1200" in page.text  # stored canonical, as /v1 stores it

    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT default_style FROM projects WHERE slug = 'demo'") == "ink"
        assert await conn.fetchval("SELECT aspect_class FROM styles WHERE name = 'ink'") == "4:3"
        assert await conn.fetchval("SELECT query FROM presets WHERE name = 'banner'") == "fm=webp&h=300&w=1200"

        # The same rules as /v1: bad aspect, built-in preset name, empty preset, bad names are refused and change nothing.
        for path, data, status in [
            ("/console/p/demo/styles", {"name": "ink", "prompt": "x", "aspect_ratio": "7:5"}, 422),
            ("/console/p/demo/styles", {"name": "Bad Name", "prompt": "x"}, 422),
            ("/console/p/demo/presets", {"name": "thumb", "params": "w=10"}, 422),
            ("/console/p/demo/presets", {"name": "plain", "params": "fit=clip"}, 422),
            ("/console/p/demo/presets", {"name": "huge", "params": "w=999999"}, 400),
            ("/console/p/demo/presets", {"name": "twice", "params": "w=10&w=20"}, 400),
            ("/console/p/demo/settings", {"name": "Demo", "default_style": "nope"}, 422),
            ("/console/p/demo/settings", {"name": "Demo", "allowed_origins": "not-an-origin"}, 422),
        ]:
            assert await post(path, **data) == status, (path, data)
        assert await conn.fetchval("SELECT aspect_class FROM styles WHERE name = 'ink'") == "4:3"
        assert await conn.fetchval("SELECT count(*) FROM presets") == 1

        # Project settings: name, origins and the default style; then deleting the default style clears it.
        assert await post("/console/p/demo/settings", name="Demo site", allowed_origins="https://shop.example", allow_unsigned="on", default_style="neon") == 303
        row = await conn.fetchrow("SELECT name, allowed_origins, allow_unsigned, default_style FROM projects WHERE slug = 'demo'")
        assert tuple(row) == ("Demo site", ["https://shop.example"], True, "neon")
        assert await post("/console/p/demo/styles", name="ink", prompt="ink", action="save") == 303  # saving without `default` keeps neon the default
        assert await conn.fetchval("SELECT default_style FROM projects WHERE slug = 'demo'") == "neon"
        assert await post("/console/p/demo/styles", name="neon", action="delete") == 303
        assert await conn.fetchval("SELECT default_style FROM projects WHERE slug = 'demo'") is None
        assert await post("/console/p/demo/presets", name="banner", action="delete") == 303
        assert await post("/console/p/demo/presets", name="banner", action="delete") == 404
        assert await conn.fetchval("SELECT count(*) FROM presets") == 0

        # A new project with a default style: the style is made with it.
        assert await post("/console/projects", slug="shop", name="Shop", style_name="house", style_prompt="warm light") == 303
        made = await conn.fetchrow("SELECT p.default_style, s.prompt FROM projects p JOIN styles s ON s.project_id = p.id WHERE p.slug = 'shop'")
        assert tuple(made) == ("house", "warm light")
        assert await post("/console/projects", slug="shop") == 409

        # Another organisation's project is as unknown as a missing one, on every settings form.
        other = await create_organization(conn, name="Other")
        await create_project(conn, organization_id=other.id, slug="other-site", name="Other site")
    finally:
        await conn.close()
    forms = [
        ("/console/p/other-site/styles", {"name": "x", "prompt": "x"}),
        ("/console/p/other-site/presets", {"name": "x", "params": "w=10"}),
        ("/console/p/other-site/settings", {"name": "mine"}),
    ]
    for path, data in forms:
        assert await post(path, **data) == 404, path
    assert (await client.get("/console/p/other-site/settings", headers=headers)).status_code == 404
