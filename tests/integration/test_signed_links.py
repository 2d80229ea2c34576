"""Signed `/g/` links: the good link works, every tampered one is a 403 that writes and draws nothing."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from delivery.access.links import sign_link
from delivery.access.signing import sign_pairs
from delivery.db.api_keys import get_api_key
from delivery.db.projects import get_project_by_slug
from delivery.settings import Settings
from tests.fakes import CountingProvider
from tests.images import decode
from tests.tenancy import Tenant, fingerprint, make_tenant

PARAMS = {"prompt": "a red fox at dawn", "w": "400", "h": "300", "fm": "png"}


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=100)


async def sign(client: AsyncTestClient, tenant: Tenant, params: dict[str, str] = PARAMS, **extra: object) -> str:
    response = await client.post(
        f"/v1/projects/{tenant.project.slug}/links",
        json={"params": params, **extra},
        headers={"Authorization": f"Bearer {tenant.secret_key}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["path"]


async def sign_direct(client: AsyncTestClient, settings: Settings, tenant: Tenant, *, expires: int | None, key_id: str | None = None) -> str:
    conn = await asyncpg.connect(settings.database_url)
    try:
        project = await get_project_by_slug(conn, slug=tenant.project.slug)
        key = await get_api_key(conn, id=key_id or tenant.publishable_id)
        return await sign_link(
            conn, client.app.state.keyring, project=project, key=key, params=PARAMS, expires=expires, now=dt.datetime.now(dt.UTC)
        )
    finally:
        await conn.close()


def _pairs(link: str) -> tuple[str, list[str]]:
    path, _, query = link.partition("?")
    return path, query.split("&")


def _rebuild(path: str, pairs: list[str]) -> str:
    return f"{path}?{'&'.join(pairs)}"


def mutate_prompt(link: str) -> str:
    return link.replace("fox", "cat")


def mutate_width(link: str) -> str:
    return link.replace("w=400", "w=401")


def add_param(link: str) -> str:
    path, pairs = _pairs(link)
    return _rebuild(path, sorted([*pairs[:-1], "q=90"]) + pairs[-1:])


def remove_param(link: str) -> str:
    path, pairs = _pairs(link)
    return _rebuild(path, [p for p in pairs if not p.startswith("h=")])


def reorder(link: str) -> str:
    path, pairs = _pairs(link)
    return _rebuild(path, [pairs[1], pairs[0], *pairs[2:]])


def duplicate_param(link: str) -> str:
    path, pairs = _pairs(link)
    return _rebuild(path, [pairs[0], pairs[0], *pairs[1:]])


def duplicate_sig(link: str) -> str:
    path, pairs = _pairs(link)
    return _rebuild(path, [*pairs, pairs[-1]])


def drop_sig(link: str) -> str:
    return link.rsplit("&sig=", 1)[0]


def empty_sig(link: str) -> str:
    return link.rsplit("&sig=", 1)[0] + "&sig="


def truncate_sig(link: str) -> str:
    return link[:-4]


def flip_sig(link: str) -> str:
    return link[:-1] + ("A" if link[-1] != "A" else "B")


# Each attack, and the reason the refusal must give (so a 403 for the wrong reason fails).
ATTACKS: list[tuple[Callable[[str], str], str]] = [
    (mutate_prompt, "signature does not match"),
    (mutate_width, "signature does not match"),
    (add_param, "signature does not match"),
    (remove_param, "signature does not match"),
    (reorder, "order they were signed"),
    (duplicate_param, "more than once"),
    (duplicate_sig, "more than once"),
    (drop_sig, "signed links only"),
    (empty_sig, "signature does not match"),
    (truncate_sig, "signature does not match"),
    (flip_sig, "signature does not match"),
]


async def _refused_without_side_effects(
    client: AsyncTestClient, settings: Settings, provider: CountingProvider, link: str, reason: str = ""
) -> None:
    before, drawn = await fingerprint(settings.database_url or ""), len(provider.synthesized)
    response = await client.get(link)
    assert response.status_code == 403, (link, response.status_code, response.headers.get("x-error"))
    assert response.headers["cache-control"] == "no-store"
    assert reason in response.headers["x-error"]
    image, fmt = decode(response.content)
    assert fmt == "png" and image.width <= 128
    assert await fingerprint(settings.database_url or "") == before, "a refused link wrote to the database"
    assert len(provider.synthesized) == drawn, "a refused link reached the generator"


async def test_a_signed_link_generates_and_is_immutable(client: AsyncTestClient, tenant: Tenant, provider: CountingProvider) -> None:
    link = await sign(client, tenant)
    assert link.startswith("/g/acme?fm=png&h=300&key=pk_") and "&sig=" in link
    response = await client.get(link)
    assert response.status_code == 200, response.headers.get("x-error")
    assert response.headers["x-cache-status"] == "GENERATED"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    image, fmt = decode(response.content)
    assert (image.width, image.height, fmt) == (400, 292, "png")  # fit=clip into 400x300: the 4:3 class master is 1184x864
    assert len(provider.synthesized) == 1


@pytest.mark.parametrize(("attack", "reason"), ATTACKS, ids=[a.__name__ for a, _ in ATTACKS])
async def test_tampered_links_are_refused_with_no_writes_and_no_generation(
    client: AsyncTestClient, tenant: Tenant, settings: Settings, provider: CountingProvider, attack: Callable[[str], str], reason: str
) -> None:
    link = await sign(client, tenant)
    assert (await client.get(link)).status_code == 200  # the untouched link is good (and touches its key)
    tampered = attack(link)
    assert tampered != link
    await _refused_without_side_effects(client, settings, provider, tampered, reason)


async def test_an_expired_link_is_refused(client: AsyncTestClient, tenant: Tenant, settings: Settings, provider: CountingProvider) -> None:
    expired = await sign_direct(client, settings, tenant, expires=int(dt.datetime.now(dt.UTC).timestamp()) - 1)
    await _refused_without_side_effects(client, settings, provider, expired, "expired")


async def test_extending_exp_breaks_the_signature(client: AsyncTestClient, tenant: Tenant, settings: Settings, provider: CountingProvider) -> None:
    link = await sign(client, tenant, expires_in=60)
    exp = int(link.split("exp=")[1].split("&")[0])
    await _refused_without_side_effects(client, settings, provider, link.replace(f"exp={exp}", f"exp={exp + 86400}"), "signature")


async def test_a_link_signed_by_another_key_or_project_is_refused(
    client: AsyncTestClient, tenant: Tenant, settings: Settings, provider: CountingProvider
) -> None:
    other = await make_tenant(settings.database_url or "", slug="other", credits=10)
    foreign = await sign(client, other)
    # the other project's valid link, pointed at this project
    await _refused_without_side_effects(client, settings, provider, foreign.replace("/g/other", "/g/acme"), "unknown or revoked key")
    # this project's link with its key id swapped for a second live key of the same project
    created = await client.post(
        "/v1/projects/acme/keys", json={"kind": "publishable"}, headers={"Authorization": f"Bearer {tenant.secret_key}"}
    )
    second = created.json()["key"]["id"]
    link = await sign(client, tenant)
    await _refused_without_side_effects(client, settings, provider, link.replace(tenant.publishable_id, second), "signature")


async def test_equivalent_percent_encodings_verify(client: AsyncTestClient, tenant: Tenant) -> None:
    """The signature covers decoded values, so `+` and `%20` for a space are the same link."""
    link = await sign(client, tenant)
    assert "prompt=a%20red%20fox%20at%20dawn" in link
    plus = link.replace("a%20red%20fox%20at%20dawn", "a+red+fox+at+dawn")
    assert (await client.get(plus)).status_code == 200


async def test_cache_headers_never_outlive_exp_and_exp_is_not_in_the_cache_key(
    client: AsyncTestClient, tenant: Tenant, provider: CountingProvider
) -> None:
    first = await client.get(await sign(client, tenant, expires_in=600))
    control = first.headers["cache-control"]
    assert "immutable" not in control and control.startswith("public, max-age=")
    assert 590 <= int(control.rsplit("=", 1)[1]) <= 600
    second = await client.get(await sign(client, tenant, expires_in=900))
    assert second.headers["x-cache-status"] == "HIT"  # same image, signed twice: one cache entry
    assert second.headers["etag"] == first.headers["etag"]
    assert 890 <= int(second.headers["cache-control"].rsplit("=", 1)[1]) <= 900
    assert len(provider.synthesized) == 1


async def test_rotating_the_signing_secret_keeps_old_links_for_the_grace_period_only(
    client: AsyncTestClient, tenant: Tenant, settings: Settings, provider: CountingProvider
) -> None:
    auth = {"Authorization": f"Bearer {tenant.secret_key}"}
    old = await sign(client, tenant)
    rotated = await client.post(f"/v1/projects/acme/keys/{tenant.publishable_id}/signing-secrets", json={}, headers=auth)
    assert rotated.status_code == 201, rotated.text
    new = await sign(client, tenant)
    assert new != old
    assert (await client.get(old)).status_code == 200  # inside the default grace period
    assert (await client.get(new)).status_code == 200

    # A client can sign with the returned secret itself and get the server's exact link.
    secret = base64.urlsafe_b64decode(rotated.json()["signing_secret"] + "==")
    own = sign_pairs(secret, "/g/acme", [*PARAMS.items(), ("key", tenant.publishable_id)])
    assert f"/g/acme?{own}" == new

    again = await client.post(
        f"/v1/projects/acme/keys/{tenant.publishable_id}/signing-secrets", json={"grace_seconds": 0}, headers=auth
    )
    assert again.status_code == 201
    await _refused_without_side_effects(client, settings, provider, old, "signature")
    await _refused_without_side_effects(client, settings, provider, new, "signature")
    assert (await client.get(await sign(client, tenant))).status_code == 200


async def test_a_signed_link_behind_cloudflare_options_draws_only_the_master_it_names(
    client: AsyncTestClient, tenant: Tenant, provider: CountingProvider
) -> None:
    link = await sign(client, tenant)  # w=400&h=300: the 4:3 class
    path, query = link.split("?", 1)
    wide = await client.get(f"/cdn-cgi/image/width=320,height=90,fit=cover,format=webp{path}?{query}")
    assert wide.status_code == 200, wide.headers.get("x-error")
    assert wide.headers["cache-control"] == "public, max-age=31536000, immutable"
    image, fmt = decode(wide.content)
    assert (image.width, image.height, fmt) == (320, 90, "webp")  # cut from the 4:3 master, not a new 32:9 one
    encoded = await client.get(f"/cdn-cgi/image/width=100{path}%3F{query}")  # the query inside the path, as unpic writes it
    assert encoded.status_code == 200 and decode(encoded.content)[0].width == 100
    assert len(provider.synthesized) == 1
    tampered = await client.get(f"/cdn-cgi/image/width=100{path}?{query.replace('fox', 'cat')}")
    assert tampered.status_code == 403
    assert len(provider.synthesized) == 1
