"""The `/g/` hit path's lookup caches stay within their bounds: real `promptpix serve` processes, one database.

Every change is made in plain SQL, as another process or an operator would, so
only the triggers (migrations 011 and 017) can tell the servers. With the
change listener a revoked key, a deleted asset, a moved `@name`, an edited style
and a redefined project preset reach both processes within a second; with the
listener off, within the lookup TTL. Images are decoded to tell old from new.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
from litestar.testing import AsyncTestClient

from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from harness.processes import Serve, start_serve
from harness.urls import urlencode
from tests.images import decode
from tests.waiting import until

PROMPT = "a lighthouse"


def g_path(served: Serve, **params: str | int) -> str:
    return "/g/demo?" + urlencode({"prompt": PROMPT, **params, "key": served.key_id})


async def size(http: httpx.AsyncClient, url: str) -> tuple[int, int]:
    response = await http.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    image, fmt = decode(response.content)
    assert fmt == "png"
    return image.width, image.height


async def within(seconds: float, what: str, check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` until true; fail if that takes more than `seconds` (counted from the change just made)."""
    await until(check, what, timeout=seconds)


async def setup_rows(conn: asyncpg.Connection, servers: list[Serve], http: httpx.AsyncClient) -> dict[str, str]:
    """Two masters (a square root and a wide art-directed picture), `@logo` on the square one, a style and a project preset; every server warm."""
    first = servers[0]
    assert (await http.get(first.base + g_path(first, ar="1:1", w=64, h=64, fm="png"))).headers["x-cache-status"] == "GENERATED"
    assert (await http.get(first.base + g_path(first, ar="16:9", gen="new", w=64, fm="png"))).status_code == 200
    rows = await conn.fetch("SELECT id, width, height FROM assets ORDER BY created_at")
    square, wide = sorted(rows, key=lambda r: r["width"] / r["height"])
    project = await conn.fetchval("SELECT id FROM projects WHERE slug = 'demo'")
    await conn.execute("INSERT INTO asset_names (project_id, name, asset_id) VALUES ($1, 'logo', $2)", project, square["id"])
    await conn.execute("INSERT INTO styles (project_id, name, prompt) VALUES ($1, 'ink', 'sumi-e ink wash')", project)
    await conn.execute("INSERT INTO presets (project_id, name, query) VALUES ($1, 'tile', 'fm=png&h=40&w=40')", project)
    for served in servers:  # each process caches the project, the key, the name, the style, the preset, the asset
        for _ in range(2):
            assert await size(http, served.base + g_path(served, w=64, h=64, fm="png")) == (64, 64)
            assert await size(http, served.base + "/i/demo/@logo?w=64&fm=png") == (64, 64)
            assert await size(http, served.base + g_path(served, preset="tile")) == (40, 40)
            assert await size(http, f"{served.base}/i/{square['id']}?w=32&h=32&fm=png") == (32, 32)
            assert (await http.get(served.base + g_path(served, style="ink", w=64, h=64, fm="png"))).status_code == 200
    wide_height = round(64 * wide["height"] / wide["width"])  # what `w=64` of the wide master is
    return {"square": square["id"], "wide": wide["id"], "wide_height": str(wide_height)}


async def check_changes(conn: asyncpg.Connection, servers: list[Serve], http: httpx.AsyncClient, rows: dict[str, str], bound: float) -> None:
    """Make each change in SQL and wait for every server to show it, failing after `bound` seconds."""
    styled = {s.base: (await http.get(s.base + g_path(s, style="ink", w=64, h=64, fm="png"))).headers["etag"] for s in servers}

    await conn.execute("UPDATE asset_names SET asset_id = $1 WHERE name = 'logo'", rows["wide"])
    for served in servers:

        async def moved(served: Serve = served) -> bool:
            return await size(http, served.base + "/i/demo/@logo?w=64&fm=png") == (64, int(rows["wide_height"]))

        await within(bound, f"{served.base} shows the asset @logo moved to", moved)

    await conn.execute("UPDATE styles SET prompt = 'charcoal on grey paper' WHERE name = 'ink'")
    for served in servers:

        async def restyled(served: Serve = served) -> bool:
            response = await http.get(served.base + g_path(served, style="ink", w=64, h=64, fm="png"))
            return response.status_code == 200 and response.headers["etag"] != styled[served.base]

        await within(bound, f"{served.base} draws with the edited style", restyled)

    await conn.execute("UPDATE presets SET query = 'fm=png&h=24&w=24' WHERE name = 'tile'")
    for served in servers:

        async def redefined(served: Serve = served) -> bool:
            return await size(http, served.base + g_path(served, preset="tile")) == (24, 24)

        await within(bound, f"{served.base} expands the redefined preset", redefined)

    await conn.execute("UPDATE assets SET deleted_at = now() WHERE id = $1", rows["square"])
    for served in servers:

        async def gone(served: Serve = served) -> bool:
            return (await http.get(f"{served.base}/i/{rows['square']}?w=32&h=32&fm=png")).status_code == 404

        await within(bound, f"{served.base} answers 404 for the deleted asset", gone)
    # The prompt's asset is gone from the generation-key cache too: the link goes to the miss path, which
    # restores the row, rather than serving the deleted one.
    first = servers[0]

    async def restored() -> bool:
        assert await size(http, first.base + g_path(first, ar="1:1", w=64, h=64, fm="png")) == (64, 64)
        return bool(await conn.fetchval("SELECT deleted_at IS NULL FROM assets WHERE id = $1", rows["square"]))

    await within(bound, "the link no longer finds the deleted row in its cache", restored)

    await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE kind = 'publishable'")
    for served in servers:

        async def refused(served: Serve = served) -> bool:
            return (await http.get(served.base + g_path(served, w=64, h=64, fm="png"))).status_code == 403

        await within(bound, f"{served.base} refuses the revoked key", refused)


async def test_changes_reach_both_processes_within_a_second(tmp_path: Path, database_url: str) -> None:
    servers = [start_serve(data_dir=tmp_path / "data", database_url=database_url) for _ in range(2)]
    conn = await asyncpg.connect(database_url)
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            rows = await setup_rows(conn, servers, http)
            await check_changes(conn, servers, http, rows, bound=1.0)
    finally:
        await conn.close()
        for served in servers:
            served.stop()


async def test_without_the_listener_changes_are_seen_within_the_ttl(tmp_path: Path, database_url: str) -> None:
    ttl = 2.0
    env = {"PROMPTPIX_CHANGE_LISTENER": "false", "PROMPTPIX_LOOKUP_CACHE_TTL": str(ttl), "PROMPTPIX_CACHE_TTL": str(ttl)}
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url, env=env)
    conn = await asyncpg.connect(database_url)
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            rows = await setup_rows(conn, [served], http)
            # Nothing tells this process: the key it has cached is still taken right after its revocation.
            url = served.base + g_path(served, w=64, h=64, fm="png")
            assert (await http.get(url)).status_code == 200
            await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE kind = 'publishable'")
            assert (await http.get(url)).status_code == 200
            await conn.execute("UPDATE api_keys SET revoked_at = NULL WHERE kind = 'publishable'")
            await asyncio.sleep(ttl)  # the revocation above is forgotten before the checks start
            await check_changes(conn, [served], http, rows, bound=ttl + 1.0)
    finally:
        await conn.close()
        served.stop()


async def test_key_use_is_written_in_batches_and_at_shutdown(tmp_path: Path, database_url: str) -> None:
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url, env={"PROMPTPIX_KEY_USE_FLUSH": "3600"})
    conn = await asyncpg.connect(database_url)
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            for _ in range(3):
                assert (await http.get(served.base + g_path(served, w=64, h=64, fm="png"))).status_code == 200
        assert await conn.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1", served.key_id) is None  # not on the hit path
        before = await conn.fetchval("SELECT now()")
        served.stop()
        used = await conn.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1", served.key_id)
        assert used is not None and used < before  # the time of use, written at shutdown
    finally:
        await conn.close()


async def test_triggers_notify_changes_but_not_a_key_use(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    heard: list[dict[str, str]] = []
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener("promptpix_lookups", lambda *args: heard.append(json.loads(args[3])))
        org = await conn.fetchval("INSERT INTO organizations (name) VALUES ('o') RETURNING id")
        project = await conn.fetchval("INSERT INTO projects (organization_id, slug, name) VALUES ($1, 'p', 'P') RETURNING id", org)
        await conn.execute("INSERT INTO api_keys (id, project_id, kind, secret_hash) VALUES ('pk_x', $1, 'publishable', '\\x00')", project)
        await conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = 'pk_x'")
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = 'pk_x'")
        await conn.execute("INSERT INTO styles (project_id, name, prompt) VALUES ($1, 'ink', 'a')", project)
        await conn.execute("UPDATE styles SET name = 'wash' WHERE name = 'ink'")
        await until(lambda: len(heard) >= 6, "six notifications arrive", timeout=5)
        await asyncio.sleep(0.2)  # and no more
        assert heard == [
            {"table": "projects", "project": str(project), "name": "p"},
            {"table": "api_keys", "project": str(project), "name": "pk_x"},  # created
            {"table": "api_keys", "project": str(project), "name": "pk_x"},  # revoked; its use alone said nothing
            {"table": "styles", "project": str(project), "name": "ink"},
            {"table": "styles", "project": str(project), "name": "ink"},  # renamed: the old name and the new
            {"table": "styles", "project": str(project), "name": "wash"},
        ]
    finally:
        await listener.close()
        await conn.close()


async def test_a_listener_that_reconnects_starts_from_empty_caches(client: AsyncTestClient, settings: Settings, demo: Demo) -> None:
    """A change made while the listener is cut off is never notified to it: reconnecting clears every cache."""
    await until(lambda: client.app.state.invalidator.connected.is_set(), "the app listens", timeout=10)
    url = "/g/demo?" + urlencode({"prompt": PROMPT, "w": 64, "h": 64, "fm": "png", "key": demo.key_id})
    assert (await client.get(url)).status_code == 200
    assert (await client.get(url)).headers["x-cache-status"] == "HIT"
    conn = await asyncpg.connect(settings.database_url or "")
    try:
        listeners = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query = $1",
            "SELECT pg_try_advisory_lock($1)",  # the listener connection's last statement, and only its
        )
        assert listeners == 1
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", demo.key_id)
    finally:
        await conn.close()

    async def refused() -> bool:
        return (await client.get(url)).status_code == 403

    await until(refused, "the reconnected app refuses the key revoked meanwhile", timeout=10)  # its TTL is 30 s
