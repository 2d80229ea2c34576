"""The MCP server, driven by the official `mcp` SDK's client over streamable HTTP (`/mcp`) and stdio (`promptpix mcp`).

A live `promptpix serve` (offline generator) on a fresh database, a tenant made
through the real code, and every URL a tool returns fetched and decoded.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from delivery.access.keys import KeySpec, create_key
from harness.processes import PROMPTPIX, Serve, Worker
from tests.images import decode, solid
from tests.tenancy import Tenant, make_tenant
from tests.waiting import until

TOOLS = {"generate_image", "image_url", "search_assets", "get_asset", "name_asset", "upload_image", "list_styles", "usage", "get_job", "cancel_job"}


@pytest.fixture
def live_env() -> dict[str, str]:
    # A 1 MB source limit makes the /mcp body limit (base64 of it, plus 1 MiB) small enough to cross in a test.
    return {"PROMPTPIX_MAX_SOURCE_BYTES": "1000000"}


@pytest.fixture
async def tenant(live: Serve, database_url: str) -> Tenant:
    return await make_tenant(database_url, credits=10)


@asynccontextmanager
async def over_http(base: str, key: str) -> AsyncIterator[ClientSession]:
    async with (
        httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=120) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def call(session: ClientSession, tool: str, /, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.isError, result.content
    assert result.structuredContent is not None
    return result.structuredContent


async def check_generate_and_find(session: ClientSession) -> None:
    listed = await session.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    for tool in listed.tools:
        assert tool.description and tool.inputSchema["type"] == "object", tool

    made = await call(session, "generate_image", prompt="a copper kettle on a windowsill", aspect="16:9")
    image = made["image"]
    assert made["generated"] is True and made["cost"] == 1 and made["remaining"] == 9
    assert (image["width"], image["height"]) == (1344, 768)  # the 16:9 aspect class
    status, body = fetch(image["url"])
    assert status == 200
    decoded, _ = decode(body)
    assert (decoded.width, decoded.height) == (1344, 768)

    tag = image["img"]["html"]
    assert tag.startswith("<img ") and 'sizes="' in tag and 'width="1344"' in tag and 'alt="' in tag
    first = re.search(r'srcset="([^" ]+) 320w', tag)
    assert first, tag
    status, body = fetch(first.group(1).replace("&amp;", "&"))
    assert status == 200 and decode(body)[0].width == 320

    again = await call(session, "generate_image", prompt="a copper kettle on a windowsill", aspect="16:9")
    assert again["generated"] is False and again["cost"] == 0 and again["image"]["asset_id"] == image["asset_id"]

    found = await call(session, "search_assets", query="KETTLE windowsill")
    assert [i["asset_id"] for i in found["items"]] == [image["asset_id"]]
    assert (await call(session, "search_assets", query="kettle teapot"))["items"] == []

    sized = await call(session, "image_url", asset=image["asset_id"], w=300, h=200, fit="crop", format="webp")
    status, body = fetch(sized["url"])
    decoded, fmt = decode(body)
    assert status == 200 and (decoded.width, decoded.height, fmt) == (300, 200, "webp")

    link = await call(session, "image_url", prompt="a copper kettle on a windowsill", w=200, params={"ar": "16:9"})
    assert link["signed"] is True and "sig=" in link["url"]  # the tenant's project takes signed links only
    status, body = fetch(link["url"])
    assert status == 200 and decode(body)[0].width == 200

    named = await call(session, "name_asset", id=image["asset_id"], name="kettle")
    assert named["names"] == ["kettle"]
    by_name = await call(session, "image_url", name="kettle", w=100)
    status, body = fetch(by_name["url"])
    assert status == 200 and decode(body)[0].width == 100

    unknown = await session.call_tool("get_asset", {"id": "0" * 32})
    assert unknown.isError and unknown.structuredContent == {"status": 404, "title": "Not Found", "detail": "asset not found"}


async def test_an_agent_over_http_generates_gets_an_img_tag_and_finds_it_again(live: Serve, tenant: Tenant) -> None:
    async with over_http(live.base, tenant.secret_key) as session:
        await check_generate_and_find(session)

        upload = base64.b64encode(solid(64, 48, (255, 0, 0))).decode()
        uploaded = await call(session, "upload_image", image=f"data:image/png;base64,{upload}", name="red")
        assert (uploaded["width"], uploaded["height"], uploaded["names"]) == (64, 48, ["red"])
        refused = await session.call_tool("upload_image", {"image": "https://example.com/a.png"})
        assert refused.isError and "does not fetch URLs" in refused.content[0].text  # type: ignore[union-attr]

        styles = await call(session, "list_styles")
        assert styles == {"styles": []}
        used = await call(session, "usage")
        assert used["generations_this_month"] == 1 and used["remaining"] == 9 and used["price"] == 1
        resources = await session.list_resources()
        assert {str(r.uri) for r in resources.resources} == {"promptpix://project/styles", "promptpix://project/presets"}
        presets = await session.read_resource("promptpix://project/presets")  # type: ignore[arg-type]
        assert '"thumb":"fit=crop&h=200&w=200"' in presets.contents[0].text  # type: ignore[union-attr]


async def test_an_agent_queues_jobs_follows_them_and_cancels_one(live: Serve, live_worker: Callable[..., Worker], tenant: Tenant) -> None:
    async with over_http(live.base, tenant.secret_key) as session:
        listed = {t.name: t for t in (await session.list_tools()).tools}
        assert listed["get_job"].annotations is not None and listed["get_job"].annotations.readOnlyHint is True
        assert listed["cancel_job"].annotations is not None and listed["cancel_job"].annotations.readOnlyHint is False

        # No worker runs yet: the job stays queued, and cancelling it refunds both reservations.
        queued = await call(session, "generate_image", prompt="a queued fox", wait=False, count=2)
        assert (queued["image"], queued["generated"], queued["cost"], queued["remaining"]) == (None, False, 2, 8)
        job = queued["job"]
        assert (job["status"], job["count"], job["asset_ids"], job["images"]) == ("queued", 2, [], [])
        cancelled = await call(session, "cancel_job", id=job["id"])
        assert (cancelled["id"], cancelled["status"]) == (job["id"], "cancelled")
        assert (await call(session, "usage"))["remaining"] == 10
        again = await session.call_tool("cancel_job", {"id": job["id"]})
        assert again.isError and again.structuredContent is not None and again.structuredContent["status"] == 409
        several = await session.call_tool("generate_image", {"prompt": "two plums", "count": 2})
        assert several.isError and "wait" in several.content[0].text  # type: ignore[union-attr]
        missing = await session.call_tool("get_job", {"id": "job_000000000000000000000000"})
        assert missing.isError and missing.structuredContent == {"status": 404, "title": "Not Found", "detail": "job not found"}

        live_worker()
        started = (await call(session, "generate_image", prompt="two plums", aspect="16:9", wait=False, count=2))["job"]
        seen: dict[str, Any] = {}

        async def succeeded() -> bool:
            nonlocal seen
            seen = await call(session, "get_job", id=started["id"])
            assert seen["status"] in {"queued", "running", "succeeded"}, seen
            return bool(seen["status"] == "succeeded")

        await until(succeeded, "the job succeeded", timeout=120, interval=0.1)
        assert len(set(seen["asset_ids"])) == 2 and [i["asset_id"] for i in seen["images"]] == seen["asset_ids"]
        for image in seen["images"]:
            assert image["img"]["html"].startswith("<img ") and (image["width"], image["height"]) == (1344, 768)
            status, body = fetch(image["url"] + "?w=336&fm=png")
            decoded, fmt = decode(body)
            assert (status, fmt, decoded.width, decoded.height) == (200, "png", 336, 192)
        assert (await call(session, "usage"))["remaining"] == 8


async def test_a_wrong_or_missing_key_is_refused_and_scopes_are_enforced(live: Serve, tenant: Tenant, database_url: str) -> None:
    hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello}
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient() as client:
        for headers, status in [
            ({}, 401),
            ({"Authorization": "Bearer pp_sk_nope_nope"}, 401),
            ({"Authorization": f"Bearer {tenant.publishable_key}"}, 403),
            ({"Authorization": f"Bearer {tenant.secret_key[:-1]}x"}, 401),
        ]:
            response = await client.post(f"{live.base}/mcp", json=initialize, headers={**accept, **headers})
            assert response.status_code == status, (headers, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")

        auth = {"Authorization": f"Bearer {tenant.secret_key}", **accept, "Content-Type": "application/json"}
        huge = b'{"pad": "' + b"x" * 2_500_000 + b'"}'
        response = await client.post(f"{live.base}/mcp", content=huge, headers=auth)
        assert response.status_code == 413 and "larger than 2381909 bytes" in response.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the body is counted as it arrives
            for _ in range(50):
                yield b"x" * 100_000

        response = await client.post(f"{live.base}/mcp", content=chunks(), headers=auth)
        assert response.status_code == 413, response.text

    conn = await asyncpg.connect(database_url)
    try:
        reader = await create_key(conn, project_id=tenant.project.id, spec=KeySpec(kind="secret", scopes=["assets:read"]))
    finally:
        await conn.close()
    async with over_http(live.base, reader.full_key) as session:
        result = await session.call_tool("generate_image", {"prompt": "a kettle"})
        assert result.isError
        assert result.structuredContent == {"status": 403, "title": "Forbidden", "detail": "this key lacks the `generate` scope"}
        assert (await call(session, "search_assets"))["items"] == []  # what it may do, it can
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM generations") == 0
    finally:
        await conn.close()


async def test_an_agent_over_stdio_generates_and_fetches_the_image(live: Serve, tenant: Tenant, tmp_path: Path) -> None:
    env = {**os.environ, "PROMPTPIX_URL": live.base, "PROMPTPIX_API_KEY": tenant.secret_key}
    params = StdioServerParameters(command=PROMPTPIX, args=["mcp"], env=env)
    with open(tmp_path / "bridge.log", "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            await check_generate_and_find(session)
            logo = tmp_path / "logo.png"
            logo.write_bytes(solid(40, 30, (0, 0, 255)))
            uploaded = await call(session, "upload_image", image=str(logo))  # a local path: the bridge reads it
            assert (uploaded["width"], uploaded["height"]) == (40, 30)


def test_the_stdio_bridge_says_why_a_key_is_refused(live: Serve) -> None:
    import subprocess

    env = {**os.environ, "PROMPTPIX_URL": live.base, "PROMPTPIX_API_KEY": "pp_sk_nope_nope"}
    done = subprocess.run([PROMPTPIX, "mcp"], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert "refused the key: 401" in done.stderr
