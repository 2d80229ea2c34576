"""Semantic search: embeddings from the real google-genai client against the fake Gemini, stored with pgvector
in real PostgreSQL, fused with the full-text ranking in `GET /v1/assets?q=`, and `GET /v1/assets/{id}/similar`."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from delivery.db.assets import search_sql
from delivery.db.embeddings import vector_literal
from delivery.ops.bootstrap import Demo
from delivery.services import Services
from delivery.settings import Settings
from generation import EMBEDDING_DIMENSIONS
from harness.fake_gemini import API_KEY, FakeGemini, Reply
from harness.processes import Serve
from tests.cli import Cli
from tests.images import solid
from tests.integration.test_api_generations import bearer, upload
from tests.integration.test_mcp import call, over_http
from tests.tenancy import Tenant, make_tenant

DESCRIBED = {  # letter -> (alt text, tags): the fake's synonym table makes paraphrases of these
    "A": ("a red fox running through the snow", ["animal", "winter"]),
    "B": ("a sleeping cat on a sofa", ["animal", "indoor"]),
    "C": ("snowy mountain at dawn", ["landscape"]),
    "D": ("a busy city street at night", ["urban"]),
    "E": ("a sailboat on the ocean", ["sea"]),
    "F": ("alpine summit at sunrise", ["landscape"]),
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_gemini: FakeGemini) -> Settings:
    # The generator stays the offline one the `client` fixture passes in; embeddings go to the fake Gemini.
    return Settings(
        database_url=database_url,
        data_dir=str(tmp_path / "data"),
        log_requests=False,
        sweep_interval=0,
        gemini_api_key=API_KEY,
        gemini_base_url=fake_gemini.url,
        embeddings="gemini",
    )


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=100)


def services_of(client: AsyncTestClient) -> Services:
    services: Services = client.app.state.services
    return services


async def embedded(client: AsyncTestClient) -> None:
    """Until the app's background embedder has nothing left. The app runs on the test client's own loop (another
    thread), so its queue is polled rather than awaited from here."""
    queue = services_of(client).embeddings
    for _ in range(600):
        if queue.idle:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the embedding queue did not drain in 30 s")


async def seed(client: AsyncTestClient, tenant: Tenant) -> dict[str, str]:
    ids = {}
    for n, (letter, (alt, tags)) in enumerate(DESCRIBED.items()):
        asset = await upload(client, tenant, solid(20 + n, 20, (30 * n, 90, 10)), alt_text=alt)
        edited = await client.patch(f"/v1/assets/{asset['id']}", json={"tags": tags}, headers=bearer(tenant))
        assert edited.status_code == 200
        ids[letter] = asset["id"]
    made = await client.post("/v1/generations", json={"prompt": "a puppy playing in the park"}, headers=bearer(tenant))
    assert made.status_code == 201, made.text
    ids["G"] = made.json()["asset"]["id"]
    await embedded(client)
    return ids


async def test_a_paraphrase_ranks_its_target_first(client: AsyncTestClient, tenant: Tenant, fake_gemini: FakeGemini) -> None:
    ids = await seed(client, tenant)
    letter = {v: k for k, v in ids.items()}

    async def search(query: str, **params: str) -> list[str]:
        response = await client.get("/v1/assets", params={"q": query, **params}, headers=bearer(tenant))
        assert response.status_code == 200, response.text
        return [letter[a["id"]] for a in response.json()["items"]]

    # No word of these is in any asset: full-text search alone finds nothing, the embeddings find the target.
    assert (await search("crimson vixen sprinting in a blizzard"))[0] == "A"
    assert (await search("kitten napping"))[0] == "B"
    assert (await search("hound in a park"))[0] == "G"  # a generated asset is embedded too (its prompt)
    assert await search("vessel on the waves") == ["E"]  # unrelated assets stay below the similarity floor
    assert await search("giraffe") == []
    # Exact words still rank by the full-text match too: both rankings agree on the fox.
    assert (await search("fox"))[0] == "A"
    paraphrase = "crimson vixen sprinting in a blizzard"
    assert await search(paraphrase, tag="winter") == ["A"] and await search(paraphrase, tag="urban") == []  # filters apply

    # The wire format the real client used: one batch per call, documents and queries with their task types.
    embeds = fake_gemini.of("embed")
    requests = [r for call in embeds for r in call.body["requests"]]
    assert {call.model for call in embeds} == {"gemini-embedding-001"}
    assert {r["outputDimensionality"] for r in requests} == {EMBEDDING_DIMENSIONS}
    assert {r["taskType"] for r in requests} == {"RETRIEVAL_DOCUMENT", "RETRIEVAL_QUERY"}
    documents = [text for call in embeds for r, text in zip(call.body["requests"], call.texts, strict=True) if r["taskType"] == "RETRIEVAL_DOCUMENT"]
    # Each text once (an upload's alt text, then with its tags, unless the worker's turn came after both): a text
    # already embedded is not sent again.
    assert len(documents) == len(set(documents)) and len(ids) <= len(documents) <= 2 * len(DESCRIBED) + 1
    calls = len(embeds)
    assert (await search("kitten napping"))[0] == "B" and len(fake_gemini.of("embed")) == calls  # the query's vector is cached

    # Pages of a fused search follow its order, each asset once.
    seen, cursor = [], None
    while True:
        params = {"q": "snowy summit at daybreak", "limit": "1", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/assets", params=params, headers=bearer(tenant))).json()
        seen += [letter[a["id"]] for a in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen[:2] == ["C", "F"] and len(seen) == len(set(seen))

    deleted = await client.delete(f"/v1/assets/{ids['A']}", headers=bearer(tenant))
    assert deleted.status_code == 204
    assert "A" not in await search("crimson vixen sprinting in a blizzard")


async def test_the_search_is_full_text_only_when_the_query_cannot_be_embedded(
    client: AsyncTestClient, tenant: Tenant, fake_gemini: FakeGemini
) -> None:
    await seed(client, tenant)
    fake_gemini.script("embed", Reply.error(503))
    response = await client.get("/v1/assets", params={"q": "fox"}, headers=bearer(tenant))
    assert response.status_code == 200 and len(response.json()["items"]) == 1  # the one full-text match
    paraphrase = await client.get("/v1/assets", params={"q": "crimson vixen sprinting in a blizzard"}, headers=bearer(tenant))
    assert paraphrase.status_code == 200 and len(paraphrase.json()["items"]) == 1  # embedded again: the fake answers


async def test_similar_orders_by_meaning(client: AsyncTestClient, tenant: Tenant) -> None:
    ids = await seed(client, tenant)
    letter = {v: k for k, v in ids.items()}
    response = await client.get(f"/v1/assets/{ids['C']}/similar", headers=bearer(tenant))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    order = [letter[i["asset"]["id"]] for i in items]
    similarities = [i["similarity"] for i in items]
    # The alpine summit at sunrise is the mountain at dawn in other words; the fox shares the snow; itself is left out.
    assert order[:2] == ["F", "A"] and "C" not in order and len(order) == len(ids) - 1
    assert similarities == sorted(similarities, reverse=True) and similarities[0] > 0.8
    limited = await client.get(f"/v1/assets/{ids['C']}/similar", params={"limit": "1"}, headers=bearer(tenant))
    assert [letter[i["asset"]["id"]] for i in limited.json()["items"]] == ["F"]

    unknown = await client.get(f"/v1/assets/{'0' * 32}/similar", headers=bearer(tenant))
    assert unknown.status_code == 404
    bad = await client.get(f"/v1/assets/{ids['C']}/similar", params={"top": "3"}, headers=bearer(tenant))
    assert bad.status_code == 400 and "top" in bad.json()["detail"]
    blank = await upload(client, tenant, solid(9, 9, (1, 2, 3)))  # nothing describes it: nothing to embed
    await embedded(client)
    none = await client.get(f"/v1/assets/{blank['id']}/similar", headers=bearer(tenant))
    assert none.status_code == 409 and "no embedding" in none.json()["detail"]


async def test_the_nearest_neighbour_scan_uses_the_hnsw_index(client: AsyncTestClient, tenant: Tenant, settings: Settings) -> None:
    """Enough rows that the planner prefers the index on its own (no enable_seqscan tricks)."""
    rng = random.Random(7)
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = [(f"{n:032x}", tenant.project.id, f"masters/x/{n:032x}.png") for n in range(3000)]
        await conn.executemany(
            """INSERT INTO assets (id, project_id, source, storage_key, mime, width, height, bytes, alt_text)
               VALUES ($1, $2, 'uploaded', $3, 'image/png', 1, 1, 1, 'x')""",
            rows,
        )
        await conn.executemany(
            "INSERT INTO asset_embeddings (asset_id, project_id, model, text_hash, embedding) VALUES ($1, $2, 'm', '', $3::vector)",
            [(r[0], r[1], vector_literal([rng.gauss(0, 1) for _ in range(EMBEDDING_DIMENSIONS)])) for r in rows],
        )
        await conn.execute("ANALYZE assets; ANALYZE asset_embeddings")
        query = vector_literal([rng.gauss(0, 1) for _ in range(EMBEDDING_DIMENSIONS)])
        args = [tenant.project.id, None, None, None, None, None, None, 50, "fox", None, None, query, "m", 100, 0.5]
        async with conn.transaction():
            await conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + search_sql("english", semantic=True), *args))
            found = await conn.fetch(search_sql("english", semantic=True), *args[:14], -1.0)
    finally:
        await conn.close()
    assert "Index Scan using asset_embeddings_hnsw" in plan, plan
    assert len(found) == 50  # the scan yields as many neighbours as asked for


@pytest.fixture
def env(settings: Settings, demo: Demo, cli: Cli, fake_gemini: FakeGemini) -> Settings:
    cli.env(
        PROMPTPIX_DATABASE_URL=settings.database_url or "",
        PROMPTPIX_DATA_DIR=settings.data_dir,
        GEMINI_API_KEY=API_KEY,
        PROMPTPIX_GEMINI_BASE_URL=fake_gemini.url,
        PROMPTPIX_GENERATOR="offline",
        PROMPTPIX_EMBEDDINGS="gemini",
    )
    return settings


def test_the_embed_command_catches_up_on_assets_without_a_vector(env: Settings, demo: Demo, cli: Cli) -> None:
    async def insert() -> None:  # rows written without the service, as before semantic search was turned on
        conn = await asyncpg.connect(env.database_url)
        try:
            project = await conn.fetchval("SELECT id FROM projects WHERE slug = $1", demo.project_slug)
            await conn.executemany(
                """INSERT INTO assets (id, project_id, source, storage_key, mime, width, height, bytes, alt_text)
                   VALUES ($1, $2, 'uploaded', 'masters/x', 'image/png', 1, 1, 1, $3)""",
                [("a" * 32, project, "a red fox"), ("b" * 32, project, "a cat"), ("c" * 32, project, "")],
            )
        finally:
            await conn.close()

    asyncio.run(insert())
    first = cli("assets", "embed", "demo")
    assert first.code == 0, first.err
    assert "2 assets embedded with gemini-embedding-001 (1 had nothing to embed)" in first.out
    again = cli("assets", "embed")
    assert again.code == 0 and "0 assets embedded" in again.out

    cli.env(PROMPTPIX_EMBEDDINGS="off")
    off = cli("assets", "embed")
    assert off.code == 1 and "semantic search is off" in off.err





async def test_the_mcp_search_tool_searches_by_meaning_too(live: Serve, database_url: str) -> None:
    """`promptpix serve` with the fake Gemini as generator and embedder (`auto`: GEMINI_API_KEY is set), through /mcp."""
    tenant = await make_tenant(database_url, credits=10)
    async with over_http(live.base, tenant.secret_key) as session:
        fox = await call(session, "generate_image", prompt="a red fox running through the snow")
        await call(session, "generate_image", prompt="a copper kettle on a windowsill")
        for _ in range(200):  # embedded in the background, a moment after the image is answered
            found = await call(session, "search_assets", query="crimson vixen sprinting in a blizzard")
            if found["items"]:
                break
            await asyncio.sleep(0.1)
    assert [i["asset_id"] for i in found["items"]] == [fox["image"]["asset_id"]]
