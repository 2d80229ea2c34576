"""Console sign-in, sessions and CSRF, through the app: forged, expired and signed-out sessions, cross-site posts, other organisations."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import asyncpg
from litestar.testing import AsyncTestClient

from delivery.access.keys import KeySpec, create_key
from delivery.cli.console import console_link
from delivery.db.organizations import create_organization
from delivery.db.projects import create_project
from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from tests.cli import Cli
from tests.images import solid
from tests.tenancy import operator_key

COOKIE = "promptpix_console"


async def _link(settings: Settings, organization_id: int) -> str:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await console_link(conn, settings, organization_id)
    finally:
        await conn.close()


async def _sign_in(client: AsyncTestClient, settings: Settings, organization_id: int) -> tuple[str, str]:
    """The session cookie and the CSRF token of a fresh session."""
    link = await _link(settings, organization_id)
    response = await client.get(link.split("127.0.0.1:8080", 1)[1] if "127.0.0.1:8080" in link else link, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console"
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    cookie = re.search(rf"{COOKIE}=([^;]+)", header)
    assert cookie is not None
    client.cookies.clear()
    page = await client.get("/console", headers={"Cookie": f"{COOKIE}={cookie[1]}"})
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return cookie[1], csrf[1]


async def test_a_link_opens_one_session_once(client: AsyncTestClient, settings: Settings, demo: Demo) -> None:
    link = await _link(settings, demo.organization_id)
    path = "/" + link.split("/", 3)[3]
    assert (await client.get(path, follow_redirects=False)).status_code == 303
    client.cookies.clear()
    again = await client.get(path, follow_redirects=False)
    assert again.status_code == 401 and "already used" in again.text and "set-cookie" not in again.headers
    assert (await client.get("/console/signin?token=made-up", follow_redirects=False)).status_code == 401


async def test_forged_expired_and_signed_out_sessions_are_refused(client: AsyncTestClient, settings: Settings, demo: Demo) -> None:
    cookie, csrf = await _sign_in(client, settings, demo.organization_id)
    session_id, mac = cookie.split(".")
    forged = [f"{session_id[:-1]}{'A' if session_id[-1] != 'A' else 'B'}.{mac}", f"{session_id}.{mac[::-1]}", "nonsense", session_id]
    for value in forged:
        refused = await client.get("/console/usage", headers={"Cookie": f"{COOKIE}={value}"}, follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"] == "/console/signin", value
        post = await client.post("/console/projects", data={"csrf": csrf, "slug": "x"}, headers={"Cookie": f"{COOKIE}={value}"})
        assert post.status_code == 401

    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("UPDATE console_sessions SET expires_at = $1", dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    finally:
        await conn.close()
    expired = await client.get("/console", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False)
    assert expired.status_code == 303 and expired.headers["location"] == "/console/signin"

    cookie, csrf = await _sign_in(client, settings, demo.organization_id)
    out = await client.post("/console/signout", data={"csrf": csrf}, headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False)
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    assert (await client.get("/console", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False)).status_code == 303


async def test_cross_site_form_posts_are_refused(client: AsyncTestClient, settings: Settings, demo: Demo) -> None:
    cookie, csrf = await _sign_in(client, settings, demo.organization_id)
    headers = {"Cookie": f"{COOKIE}={cookie}", "Accept": "text/html"}
    no_token = await client.post("/console/projects", data={"slug": "evil"}, headers=headers)
    wrong_token = await client.post("/console/projects", data={"slug": "evil", "csrf": csrf[:-2] + "xx"}, headers=headers)
    other_site = await client.post("/console/projects", data={"slug": "evil", "csrf": csrf}, headers={**headers, "Origin": "https://evil.example"})
    for refused in (no_token, wrong_token, other_site):
        assert refused.status_code == 403 and "did not come from the console" in refused.text
    ok = await client.post(
        "/console/projects", data={"slug": "fine", "csrf": csrf}, headers={**headers, "Origin": "http://testserver.local"}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/console/p/fine/keys"
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM projects WHERE slug = 'evil'") == 0
        assert await conn.fetchval("SELECT organization_id FROM projects WHERE slug = 'fine'") == demo.organization_id
    finally:
        await conn.close()


async def test_an_admin_sees_only_their_organisation(client: AsyncTestClient, settings: Settings, demo: Demo) -> None:
    cookie, csrf = await _sign_in(client, settings, demo.organization_id)
    headers = {"Cookie": f"{COOKIE}={cookie}", "Accept": "application/json"}
    uploaded = await client.post("/console/p/demo/assets", data={"csrf": csrf}, files={"file": ("red.png", solid(64, 48, (200, 0, 0)), "image/png")}, headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    asset_id = uploaded.json()["id"]
    assert (await client.get(f"/console/p/demo/assets/{asset_id}", headers=headers)).status_code == 200

    conn = await asyncpg.connect(settings.database_url)
    try:
        other = await create_organization(conn, name="Other")
        project = await create_project(conn, organization_id=other.id, slug="other-site", name="Other site")
        await create_key(conn, project_id=project.id, spec=KeySpec(kind="publishable"))
    finally:
        await conn.close()
    intruder, intruder_csrf = await _sign_in(client, settings, other.id)
    seen = {"Cookie": f"{COOKIE}={intruder}", "Accept": "text/html"}
    for path in ("/console/p/demo/assets", f"/console/p/demo/assets/{asset_id}", "/console/p/demo/keys"):
        response = await client.get(path, headers=seen)
        assert response.status_code == 404 and asset_id not in response.text, path
    own = await client.get("/console/p/other-site/assets", headers=seen)
    assert own.status_code == 200 and asset_id not in own.text and "demo" not in re.sub(r"<nav.*?</nav>", "", own.text, flags=re.S).split("<main")[1]
    delete = await client.post(f"/console/p/demo/assets/{asset_id}", data={"csrf": intruder_csrf, "action": "delete"}, headers=seen)
    assert delete.status_code == 404
    assert (await client.get(f"/console/p/demo/assets/{asset_id}", headers=headers)).status_code == 200  # still there


async def test_the_console_cannot_mint_or_rotate_an_operator_key(client: AsyncTestClient, settings: Settings, demo: Demo, cli: Cli) -> None:
    cookie, csrf = await _sign_in(client, settings, demo.organization_id)
    headers = {"Cookie": f"{COOKIE}={cookie}", "Accept": "text/html", "Origin": "http://testserver.local"}
    page = await client.get("/console/p/demo/keys", headers=headers)
    assert page.status_code == 200 and 'value="keys:admin"' in page.text and 'value="admin"' not in page.text
    forged = await client.post("/console/p/demo/keys", data={"csrf": csrf, "kind": "secret", "scope": "admin"}, headers=headers)
    assert forged.status_code == 403 and "only by the operator" in forged.text

    operator = await asyncio.to_thread(operator_key, cli, database_url=settings.database_url or "", project="demo")
    key_id = "_".join(operator.split("_")[1:3])
    rotated = await client.post(f"/console/p/demo/keys/{key_id}", data={"csrf": csrf, "action": "rotate"}, headers=headers)
    assert rotated.status_code == 403 and "only by the operator" in rotated.text
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM api_keys WHERE 'admin' = ANY(scopes)") == 1
    finally:
        await conn.close()
