"""`GET /v1/assets?q=`: PostgreSQL full-text search over alt text, tags, prompts and names, best match first."""

from __future__ import annotations

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.db.assets import search_document
from delivery.settings import Settings
from tests.fakes import CountingProvider
from tests.images import solid
from tests.integration.test_api_generations import bearer, upload
from tests.tenancy import Tenant, make_tenant


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=100)


async def seed(client: AsyncTestClient, tenant: Tenant) -> dict[str, str]:
    """Five assets with known words; the letter names each."""
    described = {
        "A": ("a red fox running through the snow", ["animal", "winter"], None),
        "B": ("a fox asleep", ["animal"], None),
        "C": ("snowy mountain at dawn", ["landscape"], None),
        "D": ("a city street", ["urban"], "fox"),
    }
    ids = {}
    for n, (letter, (alt, tags, name)) in enumerate(described.items()):
        fields = {"alt_text": alt, **({"name": name} if name else {})}
        asset = await upload(client, tenant, solid(20 + n, 20, (40 * n, 90, 10)), **fields)
        edited = await client.patch(f"/v1/assets/{asset['id']}", json={"tags": tags}, headers=bearer(tenant))
        assert edited.status_code == 200
        ids[letter] = asset["id"]
    made = await client.post("/v1/generations", json={"prompt": "foxes playing in autumn leaves"}, headers=bearer(tenant))
    assert made.status_code == 201, made.text
    ids["E"] = made.json()["asset"]["id"]
    return ids


async def test_search_ranks_by_full_text_match(client: AsyncTestClient, tenant: Tenant, provider: CountingProvider) -> None:
    ids = await seed(client, tenant)
    letter = {v: k for k, v in ids.items()}

    async def search(query: str, **params: str) -> list[str]:
        response = await client.get("/v1/assets", params={"q": query, **params}, headers=bearer(tenant))
        assert response.status_code == 200, response.text
        return [letter[a["id"]] for a in response.json()["items"]]

    # The @name first; then the generation, whose alt text, tags and prompts all say fox; then the alt
    # texts, the shorter first; the mountain has no fox.
    found = await search("fox")
    assert found[:3] == ["D", "E", "B"] and found == ["D", "E", "B", "A"]
    assert await search("foxes") == ["E", "B", "A"]  # stemmed: foxes is fox (a name is not stemmed)
    assert await search('"red fox"') == ["A"]  # a phrase
    assert await search("fox -asleep") == ["D", "E", "A"]  # minus excludes
    assert set(await search("mountain or street")) == {"C", "D"}
    assert await search("winter") == ["A"]  # tags
    assert await search("autumn leaves") == ["E"]  # the prompt
    assert await search("fox", tag="animal") == ["B", "A"]  # filters still apply
    assert await search("giraffe") == []
    assert await search("the") == []  # only a stop word: nothing to match

    seen, cursor = [], None  # pages of a search follow the ranking, each once
    while True:
        params = {"q": "fox", "limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/assets", params=params, headers=bearer(tenant))).json()
        seen += [letter[a["id"]] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["D", "E", "B", "A"]


async def test_unknown_list_parameters_are_refused(client: AsyncTestClient, tenant: Tenant) -> None:
    for query in ("query=fox", "tags=animal", "q=fox&sort=new"):
        response = await client.get(f"/v1/assets?{query}", headers=bearer(tenant))
        assert response.status_code == 400, query
        assert "unknown parameter" in response.json()["detail"]


async def test_the_search_uses_its_gin_index(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        # Enough rows, of which one mentions a fox, for the planner to choose by cost as in production.
        await conn.execute(
            """INSERT INTO assets (id, project_id, source, storage_key, mime, width, height, bytes, alt_text)
               SELECT md5(i::text), $1, 'uploaded', 'masters/x/' || i, 'image/png', 1, 1, 1,
                      CASE WHEN i = 1 THEN 'a fox' ELSE 'picture number ' || i END
               FROM generate_series(1, 5000) i""",
            tenant.project.id,
        )
        await conn.execute("ANALYZE assets")
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                f"EXPLAIN SELECT id FROM assets a WHERE a.deleted_at IS NULL AND {search_document('english')} @@ websearch_to_tsquery('english', 'fox')"
            )
        )
    finally:
        await conn.close()
    assert "assets_search_english" in plan


async def test_another_language_gets_its_own_index(settings: Settings, provider: CountingProvider) -> None:
    german = msgspec.structs.replace(settings, search_language="german")
    async with AsyncTestClient(app=create_app(german, provider=provider)) as client:
        tenant = await make_tenant(settings.database_url or "", credits=1)
        house = await upload(client, tenant, solid(30, 30, (1, 2, 3)), alt_text="die kleinen Häuser am See")
        response = await client.get("/v1/assets", params={"q": "Haus"}, headers=bearer(tenant))
        assert [a["id"] for a in response.json()["items"]] == [house["id"]]  # German stemming: Häuser ~ Haus
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE indexname = 'assets_search_german'") == 1
    finally:
        await conn.close()
