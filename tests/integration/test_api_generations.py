"""`/v1` assets API end to end: upload, name, generate with `@logo`, idempotency, flows."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import msgspec
import pytest
import pyvips
from litestar.testing import AsyncTestClient, TestClient

from delivery.app import create_app
from delivery.db.billing import post_entry
from delivery.settings import Settings
from generation.models import GenerationRequest
from generation.providers.base import Synthesis
from tests.fakes import CountingProvider, PaidProvider
from tests.images import decode, pixel
from tests.tenancy import Tenant, make_tenant

MAGENTA, CYAN, YELLOW = (255, 0, 255), (0, 255, 255), (255, 255, 0)

@pytest.fixture
def provider() -> PaidProvider:
    """A paid provider's stand-in: offline images are never charged, and this module is about what is."""
    return PaidProvider()



@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=100)


def bearer(tenant: Tenant, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.secret_key}", **headers}


def two_tone(left: tuple[int, int, int], right: tuple[int, int, int]) -> bytes:
    """A 64x64 logo: `left` colour on the left half, `right` on the right."""
    half = pyvips.Image.black(32, 64, bands=3)
    return ((half + list(left)).join(half + list(right), "horizontal")).cast("uchar").write_to_buffer(".png")


def close_to(actual: list[float], expected: tuple[int, int, int], tolerance: float = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def first_tile(image: pyvips.Image, slot: int = 0) -> tuple[list[float], list[float]]:
    """The offline provider draws references as quarter-side tiles along the bottom left: (left half, right half) of tile `slot`."""
    side = min(image.width, image.height) // 4
    margin = side // 8
    x0 = margin + slot * (side + margin)
    y = (image.height - margin - side / 2) / image.height
    return pixel(image, (x0 + side * 0.25) / image.width, y), pixel(image, (x0 + side * 0.75) / image.width, y)


async def upload(client: AsyncTestClient, tenant: Tenant, data: bytes, **fields: str) -> dict:
    response = await client.post("/v1/assets", files={"file": ("logo.png", data, "image/png")}, data=fields, headers=bearer(tenant))
    assert response.status_code == 201, response.text
    return response.json()


async def fetch_image(client: AsyncTestClient, url: str) -> pyvips.Image:
    response = await client.get(url.removeprefix("http://127.0.0.1:8080"))
    assert response.status_code == 200, (url, response.text)
    return decode(response.content)[0]


async def test_a_logo_uploaded_named_and_referenced_is_in_the_generated_image(
    client: AsyncTestClient, tenant: Tenant, provider: CountingProvider
) -> None:
    logo = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    assert (logo["width"], logo["height"], logo["mime"], logo["source"]) == (64, 64, "image/png", "uploaded")
    named = await client.put("/v1/names/logo", json={"asset_id": logo["id"]}, headers=bearer(tenant))
    assert named.status_code == 200 and named.json()["url"].endswith("/i/acme/@logo")

    made = await client.post("/v1/generations", json={"prompt": "a mug with @logo", "aspect_ratio": "1:1"}, headers=bearer(tenant))
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "private, no-store"
    body = made.json()
    assert body["generated"] is True and body["asset"]["source"] == "generated"
    urls = body["asset"]["urls"]
    image = await fetch_image(client, urls["original"])
    assert (image.width, image.height) == (1024, 1024)
    left, right = first_tile(image)
    assert close_to(left, MAGENTA) and close_to(right, CYAN), (left, right)
    [request] = provider.synthesized
    assert [r.name for r in request.references] == ["logo"]

    assert set(urls["presets"]) == {"thumb", "card", "og", "hero", "avatar"}
    thumb = await fetch_image(client, urls["presets"]["thumb"])
    assert (thumb.width, thumb.height) == (200, 200)
    og = await client.get(urls["presets"]["og"].removeprefix("http://127.0.0.1:8080"))
    og_image, og_format = decode(og.content)
    assert (og_image.width, og_image.height, og_format) == (1024, 538, "jpg")  # og's 1200:630, cut at the 1024 px master's own size
    candidates = [c.rsplit(" ", 1) for c in urls["srcset"].split(", ")]
    assert [d for _, d in candidates] == ["320w", "640w", "960w", "1024w"]
    assert (await fetch_image(client, candidates[0][0])).width == 320

    # The signed /g/ link names the same generation: a hit, nothing drawn again.
    link = await client.get(body["link"].removeprefix("http://127.0.0.1:8080"))
    assert link.status_code == 200 and link.headers["x-cache-status"] in ("HIT", "MISS")
    assert close_to(first_tile(decode(link.content)[0])[0], MAGENTA)
    again = await client.post("/v1/generations", json={"prompt": "a mug with @logo"}, headers=bearer(tenant))
    assert again.json()["generated"] is False and again.json()["asset"]["id"] == body["asset"]["id"]
    assert len(provider.synthesized) == 1


async def test_generation_options_reach_the_provider_and_bad_ones_cost_nothing(
    client: AsyncTestClient, tenant: Tenant, provider: CountingProvider, settings: Settings
) -> None:
    styled = await client.put("/v1/styles/noir", json={"prompt": "film noir", "aspect_ratio": "16:9"}, headers=bearer(tenant))
    assert styled.status_code == 200 and styled.json()["default"] is False
    logo = await upload(client, tenant, two_tone(YELLOW, CYAN), name="badge")
    made = await client.post(
        "/v1/generations",
        json={"prompt": "a poster", "style": "noir", "seed": 7, "references": ["badge"], "name": "poster"},
        headers=bearer(tenant),
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["asset"]["width"], body["asset"]["height"]) == (1344, 768)
    assert body["asset"]["names"] == ["poster"] and body["link"] is None  # a link cannot carry extra references
    [request] = provider.synthesized
    assert (request.style_prompt, request.seed, [r.name for r in request.references]) == ("film noir", 7, ["badge"])
    assert close_to(first_tile(await fetch_image(client, body["asset"]["urls"]["original"]))[0], YELLOW)
    alias = await fetch_image(client, "/i/acme/@poster")
    assert (alias.width, alias.height) == (1344, 768)
    assert logo["names"] == ["badge"]

    for payload, status, words in [
        ({"prompt": "x", "style": "vaporwave"}, 422, "vaporwave"),
        ({"prompt": "x @ghost"}, 422, "@ghost"),
        ({"prompt": "x", "references": ["nothing"]}, 422, "@nothing"),
        ({"prompt": "x", "aspect_ratio": "wide"}, 400, "`aspect_ratio`"),
        ({"prompt": "x", "flow": 999}, 422, "flow"),
        ({"prompt": "x", "name": "Not A Name"}, 422, "not a valid name"),
        ({"prompt": "x", "unknown": 1}, 400, "unknown"),
        ({"prompt": ""}, 400, "prompt"),
    ]:
        response = await client.post("/v1/generations", json=payload, headers=bearer(tenant))
        assert response.status_code == status, (payload, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert words in response.json()["detail"], (payload, response.json())
    assert len(provider.synthesized) == 1
    conn = await asyncpg.connect(settings.database_url)
    try:
        balance = await conn.fetchval("SELECT balance FROM billing_accounts WHERE organization_id = $1", tenant.org)
    finally:
        await conn.close()
    assert balance == 99  # one generation charged, as on /g


async def test_generation_scopes_and_payment(client: AsyncTestClient, settings: Settings, provider: CountingProvider) -> None:
    broke = await make_tenant(settings.database_url or "", slug="broke", credits=0)
    refused = await client.post("/v1/generations", json={"prompt": "a fox"}, headers=bearer(broke))
    assert refused.status_code == 402 and provider.synthesized == []
    reader = await client.post(
        "/v1/projects/broke/keys", json={"kind": "secret", "scopes": ["assets:read"]}, headers=bearer(broke)
    )
    limited = msgspec.structs.replace(broke, secret_key=reader.json()["secret"])
    assert (await client.post("/v1/generations", json={"prompt": "a fox"}, headers=bearer(limited))).status_code == 403
    assert (await client.get("/v1/assets", headers=bearer(limited))).status_code == 200
    assert (await client.put("/v1/names/x", json={"asset_id": "0" * 32}, headers=bearer(limited))).status_code == 403
    assert (await client.post("/v1/generations", json={"prompt": "a fox"})).status_code == 401


async def test_idempotent_replays_return_the_first_response(
    client: AsyncTestClient, tenant: Tenant, provider: CountingProvider, settings: Settings
) -> None:
    headers = bearer(tenant, **{"Idempotency-Key": "order-1"})
    first = await client.post("/v1/generations", json={"prompt": "a lighthouse", "seed": 1}, headers=headers)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    replay = await client.post("/v1/generations", json={"seed": 1, "prompt": "a lighthouse"}, headers=headers)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    assert replay.headers["cache-control"] == "private, no-store"
    other = await client.post("/v1/generations", json={"prompt": "a lighthouse", "seed": 2}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    # A client error is final: replayed too, without running again.
    bad_headers = bearer(tenant, **{"Idempotency-Key": "order-2"})
    bad = await client.post("/v1/generations", json={"prompt": "x @ghost"}, headers=bad_headers)
    bad_again = await client.post("/v1/generations", json={"prompt": "x @ghost"}, headers=bad_headers)
    assert bad.status_code == bad_again.status_code == 422 and bad_again.content == bad.content
    assert bad_again.headers["idempotent-replayed"] == "true"
    assert len(provider.synthesized) == 1
    # Keys are per project: another project's same key is a new request.
    other_tenant = await make_tenant(settings.database_url or "", slug="other", credits=5)
    theirs = await client.post(
        "/v1/generations", json={"prompt": "a lighthouse", "seed": 1}, headers=bearer(other_tenant, **{"Idempotency-Key": "order-1"})
    )
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert theirs.json()["asset"]["id"] != first.json()["asset"]["id"]


async def test_a_job_answers_202_with_its_location_and_a_replay_answers_it_too(client: AsyncTestClient, tenant: Tenant) -> None:
    base = "http://127.0.0.1:8080"
    plain = await client.post("/v1/generations", json={"prompt": "a kite", "wait": False}, headers=bearer(tenant))
    assert plain.status_code == 202, plain.text
    assert plain.headers["location"] == f"{base}/v1/jobs/{plain.json()['id']}"
    followed = await client.get(plain.headers["location"].removeprefix(base), headers=bearer(tenant))
    assert followed.status_code == 200 and followed.json()["id"] == plain.json()["id"]
    assert followed.json()["prompt"] == "a kite"

    headers = bearer(tenant, **{"Idempotency-Key": "job-1", "Prefer": "respond-async"})
    first = await client.post("/v1/generations", json={"prompt": "a balloon"}, headers=headers)
    replay = await client.post("/v1/generations", json={"prompt": "a balloon"}, headers=headers)
    assert first.status_code == replay.status_code == 202 and replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    assert replay.headers["location"] == first.headers["location"] == f"{base}/v1/jobs/{first.json()['id']}"
    assert first.json()["id"] != plain.json()["id"]
    # A refused order is no job: no `Location`, first time or replayed.
    refused = bearer(tenant, **{"Idempotency-Key": "job-2"})
    for _ in range(2):
        bad = await client.post("/v1/generations", json={"prompt": "x @ghost", "wait": False}, headers=refused)
        assert bad.status_code == 422 and "location" not in bad.headers
    # A synchronous order answers 201 without one.
    done = await client.post("/v1/generations", json={"prompt": "a kite"}, headers=bearer(tenant))
    assert done.status_code == 201 and "location" not in done.headers


async def test_a_payment_refusal_is_not_stored(client: AsyncTestClient, settings: Settings, provider: CountingProvider) -> None:
    broke = await make_tenant(settings.database_url or "", slug="broke", credits=0)
    headers = bearer(broke, **{"Idempotency-Key": "k"})
    assert (await client.post("/v1/generations", json={"prompt": "a fox"}, headers=headers)).status_code == 402
    conn = await asyncpg.connect(settings.database_url)
    try:
        await post_entry(conn, organization_id=broke.org, kind="grant", credits=1, note="paid", now=dt.datetime.now(dt.UTC))
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    finally:
        await conn.close()
    paid = await client.post("/v1/generations", json={"prompt": "a fox"}, headers=headers)
    assert paid.status_code == 201 and len(provider.synthesized) == 1


async def test_fifty_concurrent_replays_make_one_generation_across_two_processes(
    settings: Settings, provider: PaidProvider, database_url: str
) -> None:
    """Two app instances (as two processes would) on one database; 25 identical requests to each, at once.

    Requests go through sync test clients from 50 threads: the async test client runs each
    request to completion before the next starts, so it could not show concurrency.
    """
    provider.delay = 0.5
    body = {"prompt": "a burst of identical retries", "name": "burst"}
    with TestClient(app=create_app(settings, provider=provider)) as one, TestClient(app=create_app(settings, provider=provider)) as two:
        tenant = await make_tenant(database_url, credits=100)  # once the apps have migrated
        headers = bearer(tenant, **{"Idempotency-Key": "burst"})
        with ThreadPoolExecutor(50) as pool:
            futures = [pool.submit(client.post, "/v1/generations", json=body, headers=headers) for client in [one, two] * 25]
            responses = await asyncio.to_thread(lambda: [f.result(timeout=120) for f in futures])
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert len(provider.synthesized) == 1
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM generations") == 1
        assert await conn.fetchval("SELECT count(*) FROM ledger WHERE kind = 'debit'") == 1
    finally:
        await conn.close()


async def test_a_flow_of_three_steps_chains_references_and_context(
    client: AsyncTestClient, tenant: Tenant, provider: CountingProvider, settings: Settings
) -> None:
    flow = await client.post("/v1/flows", json={"title": "mascot"}, headers=bearer(tenant))
    assert flow.status_code == 201 and flow.json()["steps"] == []
    flow_id = flow.json()["id"]
    prompts = ["a round orange fox mascot", "the same fox @prev waving", "a poster with @step1 large"]
    made = []
    for prompt in prompts:
        response = await client.post("/v1/generations", json={"prompt": prompt, "flow": flow_id}, headers=bearer(tenant))
        assert response.status_code == 201, response.text
        made.append(response.json())
    assert [m["step"] for m in made] == [{"flow": flow_id, "position": n} for n in (1, 2, 3)]
    assert all(m["link"] is None for m in made)

    first, second, third = provider.synthesized
    assert first.context == () and first.references == ()
    assert [r.name for r in second.references] == ["prev"] and second.context == (prompts[0],)
    assert [r.name for r in third.references] == ["step1"] and third.context == tuple(prompts[:2])

    step1 = await fetch_image(client, made[0]["asset"]["urls"]["original"])
    step3 = await fetch_image(client, made[2]["asset"]["urls"]["original"])
    # Step 1's picture, scaled into step 3's reference tile: compare the tile with step 1 shrunk to it.
    side = min(step3.width, step3.height) // 4
    margin = side // 8
    expected = step1.thumbnail_image(side, height=side)
    tile = step3.crop(margin, step3.height - margin - expected.height, expected.width, expected.height)
    assert (tile[0:3] - expected[0:3]).abs().avg() < 12
    unrelated = step3.crop(step3.width - expected.width - margin, margin, expected.width, expected.height)
    assert (unrelated[0:3] - expected[0:3]).abs().avg() > 20

    listed = await client.get(f"/v1/flows/{flow_id}", headers=bearer(tenant))
    assert listed.status_code == 200
    steps = listed.json()["steps"]
    assert [(s["position"], s["reference"], s["prompt"]) for s in steps] == [
        (n, f"@step{n}", p) for n, p in enumerate(prompts, start=1)
    ]
    assert [s["asset"]["id"] for s in steps] == [m["asset"]["id"] for m in made]
    in_flow = await client.get(f"/v1/assets?flow={flow_id}", headers=bearer(tenant))
    assert {a["id"] for a in in_flow.json()["items"]} == {m["asset"]["id"] for m in made}

    # The same prompt outside the flow has no earlier steps: `@prev` means nothing there.
    outside = await client.post("/v1/generations", json={"prompt": prompts[1]}, headers=bearer(tenant))
    assert outside.status_code == 422 and "@prev" in outside.json()["detail"]
    assert (await client.get("/v1/flows/999", headers=bearer(tenant))).status_code == 404
    other = await make_tenant(settings.database_url or "", slug="other")
    assert (await client.get(f"/v1/flows/{flow_id}", headers=bearer(other))).status_code == 404
    theirs = await client.post("/v1/generations", json={"prompt": "@prev again", "flow": flow_id}, headers=bearer(other))
    assert theirs.status_code == 422 and "flow" in theirs.json()["detail"]

    # A deleted step stays listed without its asset, and can no longer be referenced.
    assert (await client.delete(f"/v1/assets/{made[1]['asset']['id']}", headers=bearer(tenant))).status_code == 204
    after = (await client.get(f"/v1/flows/{flow_id}", headers=bearer(tenant))).json()["steps"]
    assert [s["asset"] is None for s in after] == [False, True, False]
    gone = await client.post("/v1/generations", json={"prompt": "again @step2", "flow": flow_id}, headers=bearer(tenant))
    assert gone.status_code == 422 and "@step2" in gone.json()["detail"]


async def test_idempotent_uploads(client: AsyncTestClient, tenant: Tenant) -> None:
    headers = bearer(tenant, **{"Idempotency-Key": "upload-1"})
    files = {"file": ("logo.png", two_tone(MAGENTA, CYAN), "image/png")}
    first = await client.post("/v1/assets", files=files, data={"name": "logo"}, headers=headers)
    again = await client.post("/v1/assets", files=files, data={"name": "logo"}, headers=headers)
    assert first.status_code == again.status_code == 201 and again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/assets", files={"file": ("x.png", two_tone(CYAN, MAGENTA), "image/png")}, headers=headers)
    assert other.status_code == 422


async def test_idempotency_keys_expire_and_abandoned_ones_are_taken_over(client: AsyncTestClient, settings: Settings, tenant: Tenant) -> None:
    from delivery.db.idempotency import begin, finish

    now = dt.datetime.now(dt.UTC)
    lease, ttl = dt.timedelta(seconds=150), dt.timedelta(days=1)
    claim = {"project_id": tenant.project.id, "key": "k", "lease": lease, "ttl": ttl}
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert (await begin(conn, fingerprint=b"a", now=now, **claim)).state == "lead"
        assert (await begin(conn, fingerprint=b"a", now=now, **claim)).state == "running"
        assert (await begin(conn, fingerprint=b"b", now=now, **claim)).state == "mismatch"
        # The first request's process died: once its lease ran out, a retry leads.
        assert (await begin(conn, fingerprint=b"a", now=now + lease, **claim)).state == "lead"
        await finish(conn, project_id=tenant.project.id, key="k", status=201, response=b"{}")
        done = await begin(conn, fingerprint=b"a", now=now + lease, **claim)
        assert (done.state, done.status, done.response) == ("done", 201, b"{}")
        assert (await begin(conn, fingerprint=b"a", now=now + 2 * lease, **claim)).state == "done"  # no lease on a stored answer
        # After the TTL the key is new again, for any request.
        assert (await begin(conn, fingerprint=b"c", now=now + lease + ttl, **claim)).state == "lead"
    finally:
        await conn.close()


class GatedProvider(CountingProvider):
    """Draws only once the test opens the gate, so a test can act while a generation is surely running."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.gate = threading.Event()

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        self.started.set()
        await asyncio.to_thread(self.gate.wait, 60)
        return await super().synthesize(request, prompt)


async def test_a_retry_in_another_process_waits_then_gets_409_while_the_first_runs(settings: Settings, database_url: str) -> None:
    gated = GatedProvider()
    patient = msgspec.structs.replace(settings, claim_timeout=0.3)
    body = {"prompt": "a slow drawing"}
    with TestClient(app=create_app(patient, provider=gated)) as one, TestClient(app=create_app(patient, provider=gated)) as two:
        tenant = await make_tenant(database_url, credits=10)
        headers = bearer(tenant, **{"Idempotency-Key": "slow"})
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(one.post, "/v1/generations", json=body, headers=headers)
            assert await asyncio.to_thread(gated.started.wait, 60)  # the first request is drawing now
            waiting = await asyncio.to_thread(two.post, "/v1/generations", json=body, headers=headers)
            assert waiting.status_code == 409 and waiting.headers["retry-after"] == "5", waiting.text
            gated.gate.set()
            done = await asyncio.to_thread(first.result, 60)
        retried = await asyncio.to_thread(two.post, "/v1/generations", json=body, headers=headers)
    assert done.status_code == retried.status_code == 201
    assert retried.content == done.content and retried.headers["idempotent-replayed"] == "true"
    assert len(gated.synthesized) == 1


async def test_concurrent_steps_of_one_flow_get_distinct_positions(settings: Settings, provider: PaidProvider, database_url: str) -> None:
    provider.delay = 0.2
    with TestClient(app=create_app(settings, provider=provider)) as client:
        tenant = await make_tenant(database_url, credits=100)
        flow_id = client.post("/v1/flows", json={}, headers=bearer(tenant)).json()["id"]
        with ThreadPoolExecutor(6) as pool:
            futures = [
                pool.submit(client.post, "/v1/generations", json={"prompt": f"panel {n}", "flow": flow_id}, headers=bearer(tenant))
                for n in range(6)
            ]
            responses = await asyncio.to_thread(lambda: [f.result(timeout=120) for f in futures])
        steps = client.get(f"/v1/flows/{flow_id}", headers=bearer(tenant)).json()["steps"]
    assert {r.status_code for r in responses} == {201}
    assert sorted(r.json()["step"]["position"] for r in responses) == [1, 2, 3, 4, 5, 6]
    assert [s["position"] for s in steps] == [1, 2, 3, 4, 5, 6]
    assert sorted(s["prompt"] for s in steps) == [f"panel {n}" for n in range(6)]
