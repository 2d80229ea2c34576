"""Hostile bytes at the edges: NUL and other control characters, invalid UTF-8, deep JSON, huge integers.

Every route in the OpenAPI schema is swept with NUL in its path, its query and
its JSON body: each answer is a 4xx with a message, never a 5xx, and nothing
reaches the provider. Header values only ever carry escaped ASCII.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from delivery.settings import Settings
from harness.processes import start_serve
from tests.fakes import CountingProvider
from tests.tenancy import Tenant, make_tenant

HOSTILE = ["%00", "a%00b", "%0a", "a%0d%0ab", "%1b", "%7f", "%ff", "%c3%28", "%ed%a0%80"]
"""NUL, LF, CR LF, ESC, DEL, and three invalid UTF-8 sequences (a lone byte, a bad continuation, a surrogate)."""


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=50, operator=True, allow_unsigned=True, origins=["*"])


def bearer(tenant: Tenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.secret_key}"}


async def operations(client: AsyncTestClient) -> list[tuple[str, str, dict[str, Any]]]:
    schema = (await client.get("/schema/openapi.json")).json()
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete", "head")
    ]


def with_path_params(path: str, value: str, tenant: Tenant) -> str:
    """Every `{param}` of the path set to `value`, except the project, which is the tenant's so the route is reached."""

    def one(match: re.Match[str]) -> str:
        return tenant.project.slug if match[1] in ("project", "slug") else value

    return re.sub(r"\{([^}]+)\}", one, path)


def assert_refused(response: Any, where: str) -> None:
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    for name, value in response.headers.items():
        assert value.isascii() and not re.search(r"[\x00-\x1f\x7f]", value), f"{where}: header {name}={value!r}"


async def test_every_route_refuses_hostile_bytes_in_path_and_query_without_a_5xx(client: AsyncTestClient, tenant: Tenant, provider: CountingProvider) -> None:
    ops = await operations(client)
    assert len(ops) > 40  # the sweep covers the whole API, not a sample
    for method, template, operation in ops:
        names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"] or ["prompt"]
        for value in HOSTILE:
            path = with_path_params(template, f"x{value}", tenant)
            response = await client.request(method, path, headers=bearer(tenant))
            if "{" in template:
                assert_refused(response, f"{method} {path}")
            query = "&".join(f"{name}={value}" for name in names)
            target = with_path_params(template, "x", tenant)
            response = await client.request(method, f"{target}?{query}", headers=bearer(tenant))
            assert_refused(response, f"{method} {target}?{query}")
            if "{" not in template and response.status_code != 405:
                assert response.status_code == 400, f"{method} {target}?{query}: {response.status_code}"
    assert provider.synthesized == []


async def test_every_json_body_with_nul_or_control_characters_is_a_400(client: AsyncTestClient, tenant: Tenant, provider: CountingProvider) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    components = schema.get("components", {}).get("schemas", {})
    checked = 0
    for method, template, operation in await operations(client):
        body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body_schema is None:
            continue
        if "$ref" in body_schema:
            body_schema = components[body_schema["$ref"].rsplit("/", 1)[1]]
        properties = body_schema.get("properties", {})
        strings = [name for name, spec in properties.items() if spec.get("type") == "string" or "string" in str(spec.get("oneOf", ""))]
        target = with_path_params(template, "x", tenant)
        for text in ("a\x00b", "line\x1bone", "\ud800"):
            body = {name: text for name in strings} or {"x": text}
            raw = json.dumps(body).encode()
            response = await client.request(method, target, content=raw, headers={**bearer(tenant), "Content-Type": "application/json"})
            assert_refused(response, f"{method} {target} {raw!r}")
            checked += 1
    assert checked > 20
    assert provider.synthesized == []


async def test_prompt_with_nul_never_reaches_the_provider(client: AsyncTestClient, tenant: Tenant, provider: CountingProvider) -> None:
    slug = tenant.project.slug
    for prompt in ("%00", "a%00fox", "fox%0d%0aSet-Cookie:%20x=1", "%c3%28"):
        response = await client.get(f"/g/{slug}?prompt={prompt}&key={tenant.publishable_id}", headers={"Accept": "image/*"})
        assert response.status_code == 400, prompt
        assert response.headers["content-type"] == "image/png"  # an <img> gets an error image
        assert "control character" in response.headers["x-error"] or "UTF-8" in response.headers["x-error"]
    body = {"prompt": "a\u0000fox"}
    response = await client.post("/v1/generations", json=body, headers=bearer(tenant))
    assert response.status_code == 400 and "control character" in response.json()["detail"]
    assert provider.synthesized == []


async def test_deep_json_and_huge_integers_are_400s(client: AsyncTestClient, tenant: Tenant) -> None:
    slug = tenant.project.slug
    deep = b"[" * 100_000
    for path in (f"/v1/projects/{slug}/keys", f"/v1/projects/{slug}/links", "/v1/generations", "/v1/flows"):
        response = await client.post(path, content=deep, headers={**bearer(tenant), "Content-Type": "application/json"})
        assert response.status_code == 400, (path, response.text[:200])
    beyond = [2**40, 2**63, 10**30, -(2**63) - 1]  # past any lifetime, int64, and a number no integer type holds
    for path, field, numbers in (
        (f"/v1/projects/{slug}/keys", "rate_limit", [2**31, *beyond]),  # an int4 column
        (f"/v1/projects/{slug}/keys", "expires_in", beyond),
        (f"/v1/projects/{slug}/keys/{tenant.secret_id}/rotate", "grace_seconds", beyond),
        (f"/v1/projects/{slug}/keys/{tenant.publishable_id}/signing-secrets", "grace_seconds", beyond),
        (f"/v1/projects/{slug}/links", "expires_in", [2**53, 2**63, 10**30]),  # an `exp` past what /g/ accepts
        ("/v1/generations", "seed", [2**31, *beyond]),
        ("/v1/generations", "flow", [2**63, 10**30]),
    ):
        for number in numbers:
            body: dict[str, Any] = {"kind": "secret"} if path.endswith("/keys") else {}
            if path.endswith(("/links",)):
                body["params"] = {"prompt": "a fox"}
            if path == "/v1/generations":
                body["prompt"] = "a fox"
            response = await client.post(path, json={**body, field: number}, headers=bearer(tenant))
            assert response.status_code == 400, (path, field, number, response.status_code, response.text[:200])
            assert field.removesuffix("ires_in") in response.json()["detail"], response.json()  # links: `exp`


async def test_the_links_api_signs_only_links_g_serves(client: AsyncTestClient, tenant: Tenant) -> None:
    slug = tenant.project.slug
    for params in ({"prompt": "a\u0000fox"}, {"prompt": ""}, {"prompt": "a fox", "seed": "-1"}, {"prompt": "a fox", "w": "99999"}):
        response = await client.post(f"/v1/projects/{slug}/links", json={"params": params}, headers=bearer(tenant))
        assert response.status_code == 400, (params, response.text[:200])
    response = await client.post(f"/v1/projects/{slug}/links", json={"params": {"prompt": "a fox"}, "expires_in": 2**60}, headers=bearer(tenant))
    assert response.status_code == 400, response.text[:200]
    assert "`exp`" in response.json()["detail"] or "`expires_in`" in response.json()["detail"]


async def test_names_and_ids_with_a_trailing_newline_are_refused(client: AsyncTestClient, tenant: Tenant) -> None:
    slug = tenant.project.slug
    for method, path in (
        ("GET", f"/i/{'a' * 32}%0a"),
        ("GET", f"/i/{slug}/@logo%0a"),
        ("DELETE", "/v1/names/logo%0a"),
        ("GET", "/v1/styles/x%0a"),
        ("GET", f"/i/{'a' * 32}?ar=16:9%0a"),
        ("GET", f"/i/{'a' * 32}?w=100%0a"),
        ("GET", f"/i/{'a' * 32}?bg=fff%0a"),
        ("GET", f"/g/{slug}?prompt=fox&key={tenant.publishable_id}&seed=1%0a"),
    ):
        response = await client.request(method, path, headers=bearer(tenant))
        assert response.status_code == 400, (path, response.status_code, response.text[:200])


async def test_param_names_with_cr_lf_nul_or_non_latin1_never_reach_a_header(client: AsyncTestClient, tenant: Tenant) -> None:
    slug = tenant.project.slug
    for name in ("a%0d%0aSet-Cookie:%20x", "w%00", "%e2%98%83", "%c3%a9"):
        for base in (f"/g/{slug}?prompt=fox&key={tenant.publishable_id}&", f"/i/{'a' * 32}?", "/cdn-cgi/image/width=10/i/" + "a" * 32 + "?"):
            response = await client.get(f"{base}{name}=1", headers={"Accept": "image/*"}, follow_redirects=False)
            assert_refused(response, f"{base}{name}")


def raw_get(port: int, target: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    """One GET written byte for byte (no client library re-encodes the target): the status and headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: image/*\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data, f"{target!r}: the connection closed without a response"
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    status = int(head[0].split()[1])
    return status, [tuple(line.split(b": ", 1)) for line in head[1:]]  # type: ignore[misc]  # a header line is name: value


def test_a_real_server_answers_hostile_names_and_values_with_a_400_and_ascii_headers(tmp_path: Path, database_url: str) -> None:
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url)
    try:
        key = next(line.split("key=")[1].split("&")[0] for line in served.lines if "/g/demo?" in line)
        asset = "a" * 32
        targets = [
            f"/g/demo?prompt=fox&key={key}&a%0d%0aSet-Cookie:%20x=1".encode(),
            f"/g/demo?prompt=fox&key={key}&w%00=1".encode(),
            f"/g/demo?prompt=%00&key={key}".encode(),
            f"/i/{asset}?%e2%98%83=1&%e2%98%83=2".encode(),
            f"/i/{asset}?w=%ff".encode(),
            f"/i/{asset}%00".encode(),
            b"/i/\xe2\x98\x83?w=1",  # raw UTF-8 in the path
            b"/i/\xff",
            f"/cdn-cgi/image/width=10,%e2%98%83=1/i/{asset}".encode(),
            f"/cdn-cgi/image/width=10/i/{asset}?a%0a=1".encode(),
        ]
        for target in targets:
            status, headers = raw_get(served.port, target)
            if b"%e2%98%83" in target:  # a printable name, ignored: a 301 to the spelling without it
                assert status == 301, (target, status)
            else:
                assert status == 400, (target, status)
            for name, value in headers:
                assert value.isascii() and not re.search(rb"[\x00-\x1f\x7f]", value), (target, name, value)
    finally:
        served.stop()
