"""The production nginx config, run by the real nginx in front of a real `promptpix serve`.

The app is counted through its own `/metrics` (asked directly, not through
nginx), so "nginx answered and the app was not called" is observed, not assumed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import asyncpg
import httpx
import pytest

from harness.processes import Nginx, Serve, find_nginx, metric, start_nginx, start_serve
from harness.urls import urlencode
from tests.conftest import require
from tests.images import decode

G_ROUTE = {"route": "/g/{project}"}
I_ROUTE = {"route": "/i/{asset_id}"}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Serve]:
    # A short artificial delay keeps a cold generation in flight long enough for requests to pile up.
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url, env={"PROMPTPIX_OFFLINE_DELAY": "1"})
    yield served
    served.stop()


@pytest.fixture
def edge(app: Serve, tmp_path: Path) -> Iterator[Nginx]:
    binary = find_nginx()
    require(binary is not None, "nginx and libnginx-mod-http-cache-purge (Debian packages)")
    assert binary is not None
    nginx = start_nginx(binary, tmp_path / "nginx", [app.port])
    yield nginx
    nginx.stop()


def g_path(prompt: str, **params: object) -> str:
    return "/g/demo?" + urlencode({"prompt": prompt, "w": 64, "h": 48, "fit": "crop", "fm": "png", **params})


def g_query(prompt: str, *pairs: str) -> str:
    """A /g/ path with extra raw `name=value` pairs spliced in at the start, middle and end."""
    middle = urlencode({"prompt": prompt, "w": 64, "h": 48, "fit": "crop"})
    return "/g/demo?" + "&".join([*pairs[:1], middle, *pairs[1:2], "fm=png", *pairs[2:]])


def app_requests(app: Serve, route: dict[str, str], status: str | None = None) -> float:
    return metric(app.base, "promptpix_http_requests_total", **route, **({"status": status} if status else {}))


async def generations(app: Serve) -> int:
    conn = await asyncpg.connect(app.database_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM generations")
    finally:
        await conn.close()


async def test_first_request_misses_the_second_is_answered_by_nginx_alone(app: Serve, edge: Nginx) -> None:
    async with httpx.AsyncClient(base_url=edge.base, timeout=60) as http:
        generated = await http.get(g_path("a lighthouse", key=app.key_id))
        assert generated.status_code == 200, generated.text
        assert (generated.headers["x-cache-status"], generated.headers["x-edge-cache"]) == ("GENERATED", "MISS")
        conn = await asyncpg.connect(app.database_url)
        try:
            asset = await conn.fetchrow("SELECT id, width, height FROM assets")
        finally:
            await conn.close()

        first = await http.get(f"/i/{asset['id']}?w=32&fm=webp")
        second = await http.get(f"/i/{asset['id']}?w=32&fm=webp")
    assert first.status_code == second.status_code == 200
    assert (first.headers["x-cache-status"], first.headers["x-edge-cache"]) == ("MISS", "MISS")
    assert (second.headers["x-cache-status"], second.headers["x-edge-cache"]) == ("HIT", "HIT")
    assert second.headers.get_list("x-cache-status") == ["HIT"]  # nginx's value replaces the app's, never both
    assert second.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert second.headers["etag"] == first.headers["etag"]
    image, fmt = decode(second.content)
    assert (image.width, image.height, fmt) == (32, round(32 * asset["height"] / asset["width"]), "webp")
    assert second.content == first.content
    assert app_requests(app, I_ROUTE) == 1  # the second never reached the app


async def test_signed_and_resigned_links_share_one_nginx_entry(app: Serve, edge: Nginx) -> None:
    key = f"key={app.key_id}"
    async with httpx.AsyncClient(base_url=edge.base, timeout=60) as http:
        first = await http.get(g_query("a red kite", key))
        assert first.status_code == 200, first.text
        assert first.headers["x-cache-status"] == "GENERATED"
        variants = [
            g_query("a red kite", key, "sig=c2lnbmVkLW9uY2U", "exp=1900000000"),
            g_query("a red kite", "exp=2000000000", "sig=cmUtc2lnbmVk", key),
            g_query("a red kite", "sig=YW5vdGhlcg", "key=pk_someoneelse", "exp=1"),
        ]
        again = [await http.get(path) for path in variants]
        # `monkey` is not `key`: it stays in nginx's key and reaches the app, which redirects to the spelling without it.
        lookalike = await http.get(g_query("a red kite", key, "monkey=1"))
    for response in again:
        assert response.status_code == 200
        assert (response.headers["x-cache-status"], response.headers["x-edge-cache"]) == ("HIT", "HIT")
        assert response.content == first.content
    assert lookalike.status_code == 301 and lookalike.headers["location"] == g_query("a red kite", key)
    assert app_requests(app, G_ROUTE, "200") == 1
    assert await generations(app) == 1


def cached_entries(edge: Nginx) -> list[Path]:
    return [path for path in (edge.root / "cache" / "promptpix").rglob("*") if path.is_file()]


async def test_other_spellings_and_ignored_params_store_no_second_nginx_entry(app: Serve, edge: Nginx) -> None:
    """Each spelling reaches nginx as its own key; the app answers all but one with a 301, which nginx does not store."""
    canonical = g_query("a red kite", f"key={app.key_id}")
    spellings = [
        canonical + "&",
        canonical.replace("&w=64", "&&w=64"),
        canonical.replace("&w=64", "&%77=64"),
        canonical.replace("%20", "+"),
        canonical + "&ixlib=python-4.0.0",
        canonical + "&utm_source=mail&utm_source=feed",
    ]
    async with httpx.AsyncClient(base_url=edge.base, timeout=60) as http:
        first = await http.get(canonical)
        assert first.status_code == 200, first.text
        entries = await until_entries(edge, 1)
        for path in spellings:
            redirect = await http.get(path)
            if redirect.status_code == 200:  # nginx's own key already drops a trailing `&`
                assert redirect.headers["x-edge-cache"] == "HIT" and redirect.content == first.content, path
                continue
            assert (redirect.status_code, redirect.headers["location"]) == (301, canonical), path
            followed = await http.get(redirect.headers["location"])
            assert followed.headers["x-edge-cache"] == "HIT" and followed.content == first.content
    assert cached_entries(edge) == entries
    assert app_requests(app, G_ROUTE, "200") == 1


async def until_entries(edge: Nginx, count: int) -> list[Path]:
    """nginx writes the cache file once the response is complete: wait for it, with a deadline."""
    for _ in range(100):
        entries = cached_entries(edge)
        if len(entries) >= count:
            return entries
        await asyncio.sleep(0.05)
    raise AssertionError(f"nginx stored {len(cached_entries(edge))} entries, expected {count}")


async def test_errors_are_never_cached(app: Serve, edge: Nginx) -> None:
    paths = [g_path("a fox"), "/i/" + "0" * 32, g_path("a fox", key=app.key_id, w=0)]
    async with httpx.AsyncClient(base_url=edge.base, timeout=60) as http:
        for path in paths:
            for _ in range(2):
                response = await http.get(path)
                assert response.status_code in (400, 401, 404), (path, response.status_code)
                assert response.headers["cache-control"] == "no-store"
                assert response.headers["x-edge-cache"] == "MISS"
                image, fmt = decode(response.content)  # the error image reached the browser intact
                assert fmt == "png" and image.width <= 128
    assert app_requests(app, G_ROUTE) == 4
    assert app_requests(app, I_ROUTE) == 2


async def test_64_identical_cold_requests_reach_the_app_once(app: Serve, edge: Nginx) -> None:
    path = g_path("a crowd at a concert", key=app.key_id)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=edge.base, timeout=120, limits=limits) as http:
        responses = await asyncio.gather(*(http.get(path) for _ in range(64)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    image, fmt = decode(responses[0].content)
    assert (image.width, image.height, fmt) == (64, 48, "png")
    statuses = sorted(r.headers["x-cache-status"] for r in responses)
    assert statuses.count("GENERATED") == 1 and statuses.count("HIT") == 63
    assert app_requests(app, G_ROUTE) == 1
    assert await generations(app) == 1


async def test_new_images_are_rate_limited_per_client_but_cache_hits_are_not(app: Serve, edge: Nginx) -> None:
    async with httpx.AsyncClient(base_url=edge.base, timeout=60) as http:
        cached = g_path("a quiet harbour", key=app.key_id)
        assert (await http.get(cached)).status_code == 200
        # Misses the app answers fast (unknown project), each claiming to be another client:
        # CF-Connecting-IP is trusted only from Cloudflare's addresses, so they all count as one.
        misses = [
            http.get(f"/g/nope?prompt=p{i}&key={app.key_id}", headers={"CF-Connecting-IP": f"198.51.100.{i}"})
            for i in range(60)
        ]
        answers = await asyncio.gather(*misses)
        limited = [r for r in answers if r.status_code == 429]
        assert limited, [r.status_code for r in answers]
        assert {r.status_code for r in answers} == {404, 429}
        assert limited[0].headers["retry-after"] == "10"
        assert limited[0].headers["cache-control"] == "no-store"
        hit = await http.get(cached)
    assert hit.status_code == 200 and hit.headers["x-edge-cache"] == "HIT"
    assert app_requests(app, G_ROUTE, "404") == len(answers) - len(limited)


class _CacheableAnything(BaseHTTPRequestHandler):
    """An upstream that marks every answer cacheable, whatever its status: nginx must still refuse non-200s."""

    calls: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.calls.append(self.path)
        status = int(self.path.rsplit("/", 1)[1].split("?")[0])
        body = b"body"
        self.send_response(status)
        self.send_header("Cache-Control", "public, max-age=600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


async def test_only_200_is_stored_even_when_an_error_claims_to_be_cacheable(tmp_path: Path) -> None:
    binary = find_nginx()
    require(binary is not None, "nginx and libnginx-mod-http-cache-purge (Debian packages)")
    assert binary is not None
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _CacheableAnything)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    nginx = start_nginx(binary, tmp_path / "nginx", [upstream.server_address[1]])
    try:
        async with httpx.AsyncClient(base_url=nginx.base, timeout=30) as http:
            for status in (200, 404, 410, 500):
                answers = [await http.get(f"/i/{status}") for _ in range(2)]
                assert [a.status_code for a in answers] == [status, status]
                edge = [a.headers["x-edge-cache"] for a in answers]
                assert edge == (["MISS", "HIT"] if status == 200 else ["MISS", "MISS"]), (status, edge)
    finally:
        nginx.stop()
        upstream.shutdown()
    assert _CacheableAnything.calls == ["/i/200", "/i/404", "/i/404", "/i/410", "/i/410", "/i/500", "/i/500"]


async def test_cloudflare_urls_are_cached_once_and_generations_take_the_gate(app: Serve, edge: Nginx) -> None:
    """`/cdn-cgi/image/` is cached like its source route; a /g source goes through the rate-limit gate."""
    prompt = urlencode({"prompt": "a paper boat", "key": app.key_id})
    async with httpx.AsyncClient(base_url=edge.base, timeout=60) as http:
        generated = await http.get(f"/cdn-cgi/image/width=64,height=48,fit=cover,format=png/g/demo%3F{prompt}")
        again = await http.get(f"/cdn-cgi/image/width=64,height=48,fit=cover,format=png/g/demo%3F{prompt}")
        conn = await asyncpg.connect(app.database_url)
        try:
            asset_id = await conn.fetchval("SELECT id FROM assets")
        finally:
            await conn.close()
        first = await http.get(f"/cdn-cgi/image/width=32,format=webp/i/{asset_id}")
        second = await http.get(f"/cdn-cgi/image/width=32,format=webp/i/{asset_id}")
    assert (generated.status_code, generated.headers["x-cache-status"], generated.headers["x-edge-cache"]) == (200, "GENERATED", "MISS")
    assert (again.headers["x-cache-status"], again.headers["x-edge-cache"]) == ("HIT", "HIT")
    image, fmt = decode(again.content)
    assert (image.width, image.height, fmt) == (64, 48, "png")
    assert (first.headers["x-cache-status"], second.headers["x-cache-status"], second.headers["x-edge-cache"]) == ("MISS", "HIT", "HIT")
    assert second.headers["cache-control"] == "public, max-age=31536000, immutable"
    image, fmt = decode(second.content)
    assert (image.width, fmt) == (32, "webp")
    assert await generations(app) == 1
