"""The safety gate before any spend, and what is (never) charged: on real PostgreSQL, through `/g/` and `/v1`.

A refused prompt leaves no generation row, no debit and no provider call; the
moderation call goes to the real google-genai client against the Gemini fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.settings import Settings
from harness.fake_gemini import API_KEY, FakeGemini, Reply
from tests.cli import Cli
from tests.fakes import CountingProvider, PaidProvider
from tests.images import decode
from tests.integration.test_billing import balance, signed_links
from tests.tenancy import make_tenant


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, data_dir=str(tmp_path / "data"), log_requests=False, sweep_interval=0,
        prompt_blocklist="gore, blood bath", prompt_allowlist="blood bath bombs",
    )


@pytest.fixture
def provider() -> PaidProvider:
    return PaidProvider()


async def counts(url: str) -> tuple[int, int]:
    """(generation rows, debits)"""
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM generations"), await conn.fetchval("SELECT count(*) FROM ledger WHERE kind = 'debit'")
    finally:
        await conn.close()


async def test_blocked_prompts_are_422_with_no_row_no_debit_and_no_provider_call(
    client: AsyncTestClient, settings: Settings, provider: PaidProvider
) -> None:
    url = settings.database_url or ""
    tenant = await make_tenant(url, credits=5)
    blocked, nul, allowed = await signed_links(client, settings, tenant, ["a GORE scene", "a fox\x00at dawn", "blood bath bombs on a shelf"])
    response = await client.get(blocked, headers={"accept": "application/json"})
    assert response.status_code == 422 and "contains a blocked term (gore)" in response.json()["detail"], response.text
    assert response.json()["detail"].startswith("this prompt is not allowed: ")
    refused = await client.get(nul, headers={"accept": "application/json"})  # refused at the edge, before the gate
    assert refused.status_code == 400 and "control character (U+0000)" in refused.json()["detail"], refused.text
    assert await counts(url) == (0, 0) and provider.synthesized == [] and await balance(url, tenant.org) == 5

    drawn = await client.get(allowed)  # the allowlisted phrase holds a blocked phrase
    assert drawn.status_code == 200 and decode(drawn.content)[0].width == 64
    assert await counts(url) == (1, 1) and await balance(url, tenant.org) == 4

    metrics = (await client.get("/metrics")).text
    assert 'promptpix_prompts_blocked_total{check="safety"} 1.0' in metrics


async def test_a_projects_own_terms_apply_to_its_prompts_and_the_api(
    client: AsyncTestClient, settings: Settings, provider: PaidProvider, cli: Cli
) -> None:
    url = settings.database_url or ""
    tenant = await make_tenant(url, credits=5)
    cli.env(clean=True, PROMPTPIX_DATABASE_URL=url)
    done = await asyncio.to_thread(cli, "projects", "prompt-policy", "acme", "--block", " Fox ", "--allow", "fox terrier")  # the CLI runs its own loop
    assert done.code == 0 and "blocked fox; allowed fox terrier" in done.out, done
    fox, terrier = await signed_links(client, settings, tenant, ["a red fox", "a fox terrier"])
    assert (await client.get(fox)).status_code == 422
    assert (await client.get(terrier)).status_code == 200
    api = await client.post("/v1/generations", json={"prompt": "another fox"}, headers={"Authorization": f"Bearer {tenant.secret_key}"})
    assert api.status_code == 422 and "blocked term (fox)" in api.json()["detail"]
    assert len(provider.synthesized) == 1 and await counts(url) == (1, 1)
    assert (await asyncio.to_thread(cli, "projects", "prompt-policy", "nope")).code != 0


async def test_a_projects_terms_through_v1_use_the_clis_rules_and_only_an_operator_may_allow(
    client: AsyncTestClient, settings: Settings, provider: PaidProvider, cli: Cli
) -> None:
    url = settings.database_url or ""
    tenant = await make_tenant(url, credits=5)
    await make_tenant(url, slug="other")
    project = {"Authorization": f"Bearer {tenant.secret_key}"}
    policy = "/v1/projects/acme/prompt-policy"
    assert (await client.get(policy, headers=project)).json() == {"blocklist": [], "allowlist": []}

    # keys:admin blocks more: normalised as the CLI stores them (trimmed, case-folded, no repeats).
    put = await client.put(policy, json={"blocklist": [" Red  FOX ", "red fox", "owl"]}, headers=project)
    assert put.status_code == 200 and put.json() == {"blocklist": ["red fox", "owl"], "allowlist": []}, put.text
    fox, owl, terrier = await signed_links(client, settings, tenant, ["a red fox", "an OWL", "a red fox terrier"])
    for link in (fox, owl, terrier):
        refused = await client.get(link, headers={"accept": "application/json"})
        assert refused.status_code == 422 and "blocked term" in refused.json()["detail"]
    assert await counts(url) == (0, 0) and provider.synthesized == []

    # Allowed phrases are taken out before the deployment's blocklist is matched too: only the operator changes them.
    for body in ({"allowlist": ["red fox terrier"]}, {"blocklist": [], "allowlist": ["gore"]}):
        refused = await client.put(policy, json=body, headers=project)
        assert refused.status_code == 403 and "needs the `admin` scope" in refused.json()["detail"], refused.text
    assert (await client.get(policy, headers=project)).json() == {"blocklist": ["red fox", "owl"], "allowlist": []}
    same = await client.put(policy, json={"blocklist": ["owl"], "allowlist": []}, headers=project)  # the allowlist as it is
    assert same.status_code == 200 and same.json() == {"blocklist": ["owl"], "allowlist": []}

    everything = await asyncio.to_thread(make_operator_tenant_key, cli, url)
    allowed = await client.put(policy, json={"allowlist": ["red fox terrier"]}, headers={"Authorization": f"Bearer {everything}"})
    assert allowed.status_code == 200 and allowed.json() == {"blocklist": ["owl"], "allowlist": ["red fox terrier"]}
    assert (await client.get(terrier)).status_code == 200 and (await client.get(owl)).status_code == 422
    assert await counts(url) == (1, 1) and len(provider.synthesized) == 1

    # The CLI and /v1 write the same columns through the same function.
    cli.env(PROMPTPIX_DATABASE_URL=url)
    added = await asyncio.to_thread(cli, "projects", "prompt-policy", "acme", "--block", "Heron")
    assert added.code == 0 and "blocked owl, heron; allowed red fox terrier" in added.out, added
    assert (await client.get(policy, headers=project)).json() == {"blocklist": ["owl", "heron"], "allowlist": ["red fox terrier"]}

    for body, words in [
        ({"blocklist": ["a\ue000b"]}, "control or unassigned characters"),  # private use: NUL is refused at the edge
        ({"blocklist": ["x" * (settings.max_prompt_chars + 1)]}, "longer than the longest prompt"),
        ({"blocklist": [str(i) for i in range(settings.max_project_prompt_terms + 1)]}, f"at most {settings.max_project_prompt_terms} terms"),
    ]:
        refused = await client.put(policy, json=body, headers=project)
        assert refused.status_code == 422 and words in refused.json()["detail"], refused.text
    assert (await client.put(policy, json={"blocklist": ["x"], "extra": 1}, headers=project)).status_code == 400
    assert (await client.put("/v1/projects/other/prompt-policy", json={"blocklist": ["x"]}, headers=project)).status_code == 403
    reader = await client.post("/v1/projects/acme/keys", json={"kind": "secret", "scopes": ["assets:read", "generate"]}, headers=project)
    assert (await client.get(policy, headers={"Authorization": f"Bearer {reader.json()['secret']}"})).status_code == 403
    assert (await client.get(policy, headers=project)).json()["blocklist"] == ["owl", "heron"]


def make_operator_tenant_key(cli: Cli, url: str) -> str:
    """The operator's key for this project: `admin` for the allowlist, `keys:admin` for the route."""
    cli.env(PROMPTPIX_DATABASE_URL=url)
    done = cli("keys", "create", "--project", "acme", "--kind", "secret", "--scope", "admin", "--scope", "keys:admin")
    assert done.code == 0, done
    return done.out.strip().splitlines()[-1]


@pytest.fixture
async def moderated(settings: Settings, fake_gemini: FakeGemini, provider: PaidProvider) -> AsyncIterator[AsyncTestClient]:
    gated = msgspec.structs.replace(settings, moderation="gemini", gemini_api_key=API_KEY, gemini_base_url=fake_gemini.url)
    async with AsyncTestClient(app=create_app(gated, provider=provider)) as test_client:
        yield test_client


async def test_moderation_refuses_before_any_spend_and_lets_the_rest_through(
    moderated: AsyncTestClient, settings: Settings, provider: PaidProvider, fake_gemini: FakeGemini
) -> None:
    url = settings.database_url or ""
    tenant = await make_tenant(url, credits=5)
    refused, fine, local = await signed_links(moderated, settings, tenant, ["a forbidden picture", "a quiet harbour", "gore"])
    response = await moderated.get(refused, headers={"accept": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"] == "this prompt is not allowed: the prompt was refused by moderation: fake unsafe category"
    assert await counts(url) == (0, 0) and provider.synthesized == []
    [asked] = fake_gemini.of("moderate")
    assert asked.texts == ("a forbidden picture",) and asked.model == "gemini-2.5-flash" and "classifier" in (asked.system_instruction or "")

    assert (await moderated.get(local)).status_code == 422
    assert len(fake_gemini.of("moderate")) == 1  # the local policy answered first: no classifier call

    assert (await moderated.get(fine)).status_code == 200
    assert len(fake_gemini.of("moderate")) == 2 and len(provider.synthesized) == 1 and await counts(url) == (1, 1)
    assert (await moderated.get(fine)).status_code == 200  # a cache hit is not screened again
    assert len(fake_gemini.of("moderate")) == 2

    fake_gemini.script("moderate", Reply.error(503), Reply.error(503))
    down = (await signed_links(moderated, settings, tenant, ["an unscreened prompt"]))[0]
    assert (await moderated.get(down, headers={"accept": "application/json"})).status_code == 503  # never drawn unscreened
    assert await counts(url) == (1, 1) and len(provider.synthesized) == 1


async def test_offline_images_are_never_charged(database_url: str, tmp_path: Path) -> None:
    """The offline generator draws placeholders: on a prepaid account with no credits, and on a free plan's allowance."""
    settings = Settings(database_url=database_url, data_dir=str(tmp_path / "data"), log_requests=False, sweep_interval=0)
    offline = CountingProvider()
    async with AsyncTestClient(app=create_app(settings, provider=offline)) as client:
        broke = await make_tenant(database_url, slug="broke", credits=0)
        free = await make_tenant(database_url, slug="free", plan="free", monthly_allowance=1)
        links = await signed_links(client, settings, broke, ["a fox", "a heron"]) + await signed_links(client, settings, free, ["a kite", "a boat"])
        assert [(await client.get(link)).status_code for link in links] == [200, 200, 200, 200]
    assert len(offline.synthesized) == 4
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM generations WHERE status = 'succeeded' AND cost = 0") == 4
        assert await conn.fetchval("SELECT count(*) FROM ledger WHERE kind <> 'grant'") == 0
        assert await conn.fetchval("SELECT used_this_period FROM billing_accounts WHERE organization_id = $1", free.org) == 0
    finally:
        await conn.close()


def test_production_without_a_provider_refuses_to_start(cli: Cli, database_url: str) -> None:
    cli.env(clean=True, PROMPTPIX_ENV="production", PROMPTPIX_SECRET_KEY="q8Zr1v-5hYxNwB2kLmT4pQe7sD9uFjAa0cVbXgHi3oK", PROMPTPIX_DATABASE_URL=database_url)
    done = cli("serve")
    assert done.code != 0
    assert "PROMPTPIX_ENV=production needs a real generator: set GEMINI_API_KEY or REPLICATE_API_TOKEN" in done.err
