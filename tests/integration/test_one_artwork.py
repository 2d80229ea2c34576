"""One prompt, one artwork: every box of a prompt shows the root's pixels, cropped or extended once per class."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest
import pyvips
from litestar.testing import AsyncTestClient

from delivery.assets.ids import generation_key
from delivery.settings import Settings
from generation.models import ASPECT_CLASSES, nearest_aspect_class, placement
from harness.fake_gemini import FakeGemini, Reply
from harness.processes import start_serve
from harness.urls import urlencode
from tests.cli import Cli
from tests.fakes import PaidProvider
from tests.images import decode, mean_difference
from tests.integration.test_api_generations import upload
from tests.tenancy import Tenant, make_tenant

BOXES = {"16:9": (800, 450), "1:1": (600, 600), "4:3": (800, 600), "3:2": (900, 600), "9:16": (450, 800), "21:9": (840, 360)}
"""A six-breakpoint `<picture>`, each box with dpr 1 and 2."""
SAME_PIXELS = 6.0
"""Mean absolute difference (0-255) under which a window shows the root's pixels: resampling and 1 px rounding
stay well under it, another picture is far over it (asserted below)."""


@pytest.fixture
def provider() -> PaidProvider:
    return PaidProvider()


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=100, allow_unsigned=True, origins=["*"], rate_limit=1000)


def g_path(tenant: Tenant, prompt: str, **params: object) -> str:
    return f"/g/{tenant.project.slug}?" + urlencode({"prompt": prompt, **params, "fm": "png", "key": tenant.publishable_id})


async def rows(settings: Settings, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def balance(settings: Settings, tenant: Tenant) -> int:
    found = await rows(settings, "SELECT balance FROM billing_accounts WHERE organization_id = $1", tenant.org)
    return int(found[0]["balance"])


def root_window(result: pyvips.Image, root: pyvips.Image, master: tuple[int, int]) -> tuple[pyvips.Image, pyvips.Image]:
    """The part of `result` (a centred cover crop of `master`, which holds the root placed as extensions place it)
    that shows the root, and the root scaled to match it."""
    mw, mh = master
    left, top, pw, ph = placement(root.width, root.height, mw, mh)
    scale = max(result.width / mw, result.height / mh)
    cx, cy = (mw * scale - result.width) / 2, (mh * scale - result.height) / 2
    scaled = root.resize(pw * scale / root.width, vscale=ph * scale / root.height)
    ox, oy = left * scale - cx, top * scale - cy  # the root's top-left in the result
    inset = 6  # resampling reaches a few pixels over the root's border
    x0, y0 = max(0, round(ox)) + inset, max(0, round(oy)) + inset
    x1, y1 = min(result.width, round(ox + scaled.width)) - inset, min(result.height, round(oy + scaled.height)) - inset
    assert x1 - x0 > result.width // 3 and y1 - y0 > result.height // 3, "the root covers most of the result"
    window = result.crop(x0, y0, x1 - x0, y1 - y0)
    expected = scaled.crop(min(x0 - round(ox), scaled.width - window.width), min(y0 - round(oy), scaled.height - window.height), window.width, window.height)
    return window, expected


async def test_six_breakpoints_at_two_dprs_show_one_artwork_for_one_root_and_two_extensions(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, provider: PaidProvider
) -> None:
    prompt = "a lighthouse on a cliff at dusk"
    results: dict[tuple[str, int], pyvips.Image] = {}
    for (name, (w, h)) in BOXES.items():
        for dpr in (1, 2):
            response = await client.get(g_path(tenant, prompt, w=w, h=h, fit="crop", **{"fp-x": 0.5, "fp-y": 0.5}, dpr=dpr, upscale=1))
            assert response.status_code == 200, response.text
            image, fmt = decode(response.content)
            assert (image.width, image.height, fmt) == (w * dpr, h * dpr, "png")
            results[name, dpr] = image

    # One root at the deployment's root aspect (4:3): 1:1, 3:2 and 16:9 are crops keeping at least 70 % of it,
    # 9:16 and 21:9 are extensions, each made once for both dprs.
    assert [r.aspect_class for r in provider.synthesized] == ["4:3"]
    assert sorted(r.aspect_class for r in provider.extended) == ["21:9", "9:16"]
    masters = await rows(settings, "SELECT * FROM assets WHERE project_id = $1 ORDER BY created_at", tenant.project.id)
    (root_row,) = [m for m in masters if m["parent_id"] is None]
    derived = {nearest_aspect_class(m["width"], m["height"]): m for m in masters if m["parent_id"] == root_row["id"]}
    assert set(derived) == {"9:16", "21:9"} and all(m["derivation"] == "extend" for m in derived.values())
    assert len(masters) == 3
    assert await balance(settings, tenant) == 100 - settings.generation_price - 2 * settings.extension_price

    root, _ = decode((await client.get(f"/i/{root_row['id']}?fm=png")).content)
    for (name, dpr), image in results.items():
        master = derived.get(name)
        size = (master["width"], master["height"]) if master else (root.width, root.height)
        window, expected = root_window(image, root, size)
        assert mean_difference(window, expected) < SAME_PIXELS, (name, dpr)

    # The comparison can fail: another prompt's picture in the same window is far off.
    other, _ = decode((await client.get(g_path(tenant, "a red tram in the snow", w=800, h=600, fit="crop"))).content)
    window, expected = root_window(other, root, (root.width, root.height))
    assert mean_difference(window, expected) > 4 * SAME_PIXELS

    # Every later request of an extended class reuses its derived master: nothing more is drawn or charged.
    again = await client.get(g_path(tenant, prompt, w=360, h=640, fit="crop"))
    assert again.status_code == 200 and again.headers["x-cache-status"] != "GENERATED"
    assert len(provider.synthesized) == 2 and len(provider.extended) == 2


async def test_ar_names_the_root_gen_new_draws_its_own_and_old_keys_still_serve(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, provider: PaidProvider
) -> None:
    prompt = "a paper boat on a puddle"
    first = await client.get(g_path(tenant, prompt, w=320, ar="16:9", fit="crop"))
    assert first.status_code == 200 and first.headers["x-cache-status"] == "GENERATED"
    assert [r.aspect_class for r in provider.synthesized] == ["16:9"]
    square = await client.get(g_path(tenant, prompt, w=300, h=300, fit="crop"))  # 1:1 keeps 56 % of 16:9: extended
    assert decode(square.content)[0].width == 300
    assert [r.aspect_class for r in provider.extended] == ["1:1"] and len(provider.synthesized) == 1

    directed = await client.get(g_path(tenant, prompt, w=300, h=300, fit="crop", gen="new"))
    assert directed.status_code == 200 and directed.headers["x-cache-status"] == "GENERATED"
    assert [r.aspect_class for r in provider.synthesized] == ["16:9", "1:1"]
    assert mean_difference(decode(directed.content)[0], decode(square.content)[0]) > 4 * SAME_PIXELS
    assert (await client.get(g_path(tenant, prompt, w=300, h=300, fit="crop", gen="new"))).headers["x-cache-status"] != "GENERATED"
    assert (await client.get(g_path(tenant, prompt, w=300, gen="old"))).status_code == 400

    # An asset drawn before one-artwork keys (stored under its version-1 key, aspect class in it) keeps its URL.
    legacy_prompt = "a kite over the dunes"
    await client.get(g_path(tenant, legacy_prompt, w=400, h=300, fit="crop"))
    (stored,) = await rows(settings, "SELECT id, model FROM assets WHERE prompt = $1", legacy_prompt)
    old_key = generation_key(
        project_id=tenant.project.id, prompt=legacy_prompt, style=None, seed=None, model=stored["model"], aspect_class="16:9", version=1
    )
    await rows(settings, "UPDATE assets SET generation_key = $2 WHERE id = $1", stored["id"], old_key)
    drawn, extended = len(provider.synthesized), len(provider.extended)
    old_url = await client.get(g_path(tenant, legacy_prompt, w=800, h=450, fit="crop"))
    assert old_url.status_code == 200 and old_url.headers["x-cache-status"] != "GENERATED"
    assert (len(provider.synthesized), len(provider.extended)) == (drawn, extended)


async def test_fill_gen_extends_an_upload_keeping_its_pixels_in_the_middle(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, provider: PaidProvider
) -> None:
    xyz = pyvips.Image.xyz(400, 400)
    photo = ((xyz[0] * 0.6).bandjoin([xyz[1] * 0.6, (xyz[0] + xyz[1]) * 0.3]) + 10).cast("uchar")
    asset = await upload(client, tenant, photo.pngsave_buffer())
    before = await balance(settings, tenant)

    wide = await client.get(f"/i/{asset['id']}?w=960&h=540&fit=fill&fill=gen&upscale=1&fm=png")
    assert wide.status_code == 200, wide.text
    assert wide.headers["x-cache-status"] == "GENERATED"
    image, fmt = decode(wide.content)
    assert (image.width, image.height, fmt) == (960, 540, "png")
    assert [r.aspect_class for r in provider.extended] == ["16:9"] and (provider.extended[0].width, provider.extended[0].height) == (400, 400)
    assert await balance(settings, tenant) == before - settings.extension_price
    middle = image.crop(480 - 270 + 4, 4, 540 - 8, 540 - 8)  # the upload, scaled to the box's height, centred
    assert mean_difference(middle, photo.resize(540 / 400).crop(4, 4, 540 - 8, 540 - 8)) < SAME_PIXELS
    margin = image.crop(0, 0, 480 - 270 - 8, 540)
    assert mean_difference(margin, photo.resize(540 / 400).crop(0, 0, margin.width, 540)) > SAME_PIXELS  # drawn, not the photo

    again = await client.get(f"/i/{asset['id']}?w=480&h=270&fit=fill&fill=gen&upscale=1&fm=png")
    assert again.status_code == 200 and again.headers["x-cache-status"] != "GENERATED" and len(provider.extended) == 1
    assert await balance(settings, tenant) == before - settings.extension_price


async def test_without_an_extending_model_fill_gen_is_a_clear_422(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, provider: PaidProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    asset = await upload(client, tenant, pyvips.Image.black(64, 64, bands=3).pngsave_buffer())
    monkeypatch.setattr("delivery.prompts.derive.can_extend", lambda provider: False)
    refused = await client.get(f"/i/{asset['id']}?w=160&h=90&fit=fill&fill=gen", headers={"accept": "image/*"})
    assert refused.status_code == 422 and "cannot extend" in refused.headers["x-error"]
    assert decode(refused.content)[1] == "png" and provider.extended == []


async def test_the_extension_gemini_receives_carries_the_root_and_the_aspect_and_a_failure_is_refunded(
    settings: Settings, fake_gemini: FakeGemini, tmp_path: Path, database_url: str
) -> None:
    tenant = await make_tenant(database_url, credits=20, allow_unsigned=True, origins=["*"], rate_limit=1000)
    served = start_serve(
        data_dir=tmp_path / "data",
        database_url=database_url,
        env={"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": "test-key", "PROMPTPIX_GEMINI_BASE_URL": fake_gemini.url},
    )
    try:
        async with httpx.AsyncClient(base_url=served.base, timeout=60) as http:
            prompt = "a windmill in a tulip field"
            root = await http.get(g_path(tenant, prompt, w=400, h=300, fit="crop"))
            assert root.status_code == 200 and len(fake_gemini.of("synthesize")) == 1
            (root_row,) = await rows(settings, "SELECT * FROM assets WHERE prompt = $1", prompt)
            root_bytes = (tmp_path / "data" / "objects" / root_row["storage_key"]).read_bytes()

            fake_gemini.script("extend", Reply.error(500), Reply.error(500), Reply.error(500))
            failed = await http.get(g_path(tenant, prompt, w=270, h=480, fit="crop"), headers={"accept": "image/*"})
            assert failed.status_code == 503 and failed.headers["cache-control"] == "no-store"
            assert decode(failed.content)[0].width == 96  # the error image, never an unrelated picture
            assert await balance(settings, tenant) == 20 - 1
            ledger = await rows(settings, "SELECT kind FROM ledger WHERE organization_id = $1 ORDER BY id", tenant.org)
            assert [r["kind"] for r in ledger] == ["grant", "debit", "debit", "refund"]

            fake_gemini.script("extend", Reply.blocked())
            refused = await http.get(g_path(tenant, prompt, w=270, h=480, fit="crop"), headers={"accept": "image/*"})
            assert refused.status_code == 422 and decode(refused.content)[0].width == 96
            assert await balance(settings, tenant) == 20 - 1

            extended = await http.get(g_path(tenant, prompt, w=270, h=480, fit="crop"))
            assert extended.status_code == 200 and extended.headers["x-cache-status"] == "GENERATED"
            assert decode(extended.content)[0].width == 270
            sent = fake_gemini.of("extend")
            assert len(sent) == 5 and all(r.aspect_ratio == "9:16" for r in sent)
            assert [data for _, data in sent[-1].images] == [root_bytes] and sent[-1].images[0][0] == root_row["mime"]
            assert "Keep the given image exactly" in sent[-1].texts[0]
            assert await balance(settings, tenant) == 20 - 2
            assert len(fake_gemini.of("synthesize")) == 1
    finally:
        served.stop()


async def test_ten_concurrent_requests_for_a_new_class_over_two_processes_make_one_extension_and_one_debit(
    settings: Settings, fake_gemini: FakeGemini, tmp_path: Path, database_url: str
) -> None:
    tenant = await make_tenant(database_url, credits=20, allow_unsigned=True, origins=["*"], rate_limit=1000)
    shared = {
        "PROMPTPIX_GENERATOR": "gemini",
        "GEMINI_API_KEY": "test-key",
        "PROMPTPIX_GEMINI_BASE_URL": fake_gemini.url,
        "PROMPTPIX_STORAGE_URL": f"file://{tmp_path / 'objects'}",
    }
    processes = [start_serve(data_dir=tmp_path / f"p{i}", database_url=database_url, env=shared) for i in range(2)]
    try:
        prompt = "a harbour at first light"
        async with httpx.AsyncClient(timeout=60) as http:
            root = await http.get(processes[0].base + g_path(tenant, prompt, w=400, h=300, fit="crop"))
            assert root.status_code == 200
            fake_gemini.script("extend", Reply.delayed(2.0))  # the first extension is slow: the others pile up meanwhile
            wide = [processes[i % 2].base + g_path(tenant, prompt, w=840 - i, h=360, fit="crop") for i in range(10)]
            responses = await asyncio.gather(*(http.get(url) for url in wide))
        assert [r.status_code for r in responses] == [200] * 10
        assert [decode(r.content)[0].width for r in responses] == [840 - i for i in range(10)]
        assert len(fake_gemini.of("extend")) == 1 and fake_gemini.of("extend")[0].aspect_ratio == "21:9"
        ledger = await rows(settings, "SELECT kind, credits FROM ledger WHERE organization_id = $1 AND kind = 'debit'", tenant.org)
        assert len(ledger) == 2  # the root and the one extension
        derived = await rows(settings, "SELECT * FROM assets WHERE derivation = 'extend'")
        assert len(derived) == 1 and (derived[0]["width"], derived[0]["height"]) == ASPECT_CLASSES["21:9"]
        assert sum(r.headers["x-cache-status"] == "GENERATED" for r in responses) >= 1
    finally:
        for p in processes:
            p.stop()


async def test_a_project_sets_its_own_root_aspect(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, provider: PaidProvider, cli: Cli
) -> None:
    cli.env(PROMPTPIX_DATABASE_URL=settings.database_url or "", PROMPTPIX_DATA_DIR=settings.data_dir)
    ran = await asyncio.to_thread(cli, "projects", "root-aspect", tenant.project.slug, "16:9")
    assert ran.code == 0 and "16:9" in ran.out, ran
    await client.get(g_path(tenant, "a tram in the rain", w=300, h=300, fit="crop"))
    assert [r.aspect_class for r in provider.synthesized] == ["16:9"]  # no `ar`: the project's root aspect
    assert [r.aspect_class for r in provider.extended] == ["1:1"]
    assert (await asyncio.to_thread(cli, "projects", "root-aspect", tenant.project.slug, "7:5")).code != 0
    assert (await asyncio.to_thread(cli, "projects", "root-aspect", tenant.project.slug, "default")).code == 0
    await client.get(g_path(tenant, "a bus in the rain", w=300, h=300, fit="crop"))
    assert provider.synthesized[-1].aspect_class == settings.root_aspect


async def test_the_api_shows_a_derived_masters_lineage_and_lists_a_roots_derived_masters(
    client: AsyncTestClient, settings: Settings, tenant: Tenant, provider: PaidProvider
) -> None:
    auth = {"Authorization": f"Bearer {tenant.secret_key}"}
    tall = await client.get(g_path(tenant, "a windmill by a canal", w=450, h=800, fit="crop"))  # 9:16: the 4:3 root extended
    assert tall.status_code == 200, tall.text
    assert [r.aspect_class for r in provider.synthesized] == ["4:3"] and [r.aspect_class for r in provider.extended] == ["9:16"]
    logo = await upload(client, tenant, pyvips.Image.black(64, 64, bands=3).pngsave_buffer())

    listed = await client.get("/v1/assets", headers=auth)
    assert listed.status_code == 200, listed.text
    items = {a["id"]: a for a in listed.json()["items"]}
    assert len(items) == 3
    (root,) = [a for a in items.values() if a["source"] == "generated" and a["parent_id"] is None]
    (derived,) = [a for a in items.values() if a["parent_id"] is not None]
    assert derived["parent_id"] == root["id"] and derived["derivation"] == "extend"
    assert root["derivation"] is None and (items[logo["id"]]["parent_id"], items[logo["id"]]["derivation"]) == (None, None)
    assert (logo["parent_id"], logo["derivation"]) == (None, None)  # the upload's own answer has the fields too
    assert nearest_aspect_class(derived["width"], derived["height"]) == "9:16"

    one = await client.get(f"/v1/assets/{derived['id']}", headers=auth)
    assert one.status_code == 200 and (one.json()["parent_id"], one.json()["derivation"]) == (root["id"], "extend")
    master, fmt = decode((await client.get(f"/i/{derived['id']}?fm=png")).content)
    assert (master.width, master.height, fmt) == (derived["width"], derived["height"], "png")
    assert master.height > master.width  # the stored master is the tall extension, not the root

    children = await client.get("/v1/assets", params={"parent": root["id"]}, headers=auth)
    assert children.status_code == 200 and [a["id"] for a in children.json()["items"]] == [derived["id"]]
    for leaf in (derived["id"], logo["id"]):
        none = await client.get("/v1/assets", params={"parent": leaf}, headers=auth)
        assert none.status_code == 200 and none.json()["items"] == []
    searched = await client.get("/v1/assets", params={"parent": root["id"], "q": "windmill"}, headers=auth)
    assert searched.status_code == 200 and [a["id"] for a in searched.json()["items"]] == [derived["id"]]
    bad = await client.get("/v1/assets", params={"parent": "not-an-id"}, headers=auth)
    assert bad.status_code == 400 and "`parent`" in bad.json()["detail"], bad.text
    unknown = await client.get("/v1/assets", params={"parents": root["id"]}, headers=auth)
    assert unknown.status_code == 400 and "parent" in unknown.json()["detail"]


async def test_the_api_sets_a_projects_root_aspect(client: AsyncTestClient, settings: Settings, tenant: Tenant, provider: PaidProvider) -> None:
    auth = {"Authorization": f"Bearer {tenant.secret_key}"}
    path = f"/v1/projects/{tenant.project.slug}"
    shown = await client.get(path, headers=auth)
    assert shown.status_code == 200 and shown.json()["root_aspect"] is None  # the deployment's default
    patched = await client.patch(path, json={"root_aspect": "16:9"}, headers=auth)
    assert patched.status_code == 200 and patched.json()["root_aspect"] == "16:9", patched.text
    assert (await client.get(path, headers=auth)).json()["root_aspect"] == "16:9"

    drawn = await client.get(g_path(tenant, "a ferry at dawn", w=320, fit="max"))  # no `ar`, no box: the root as drawn
    assert drawn.status_code == 200, drawn.text
    assert [r.aspect_class for r in provider.synthesized] == ["16:9"] and provider.extended == []
    (root,) = await rows(settings, "SELECT id, width, height FROM assets WHERE project_id = $1", tenant.project.id)
    master, _ = decode((await client.get(f"/i/{root['id']}?fm=png")).content)
    assert (master.width, master.height) == (root["width"], root["height"]) == ASPECT_CLASSES["16:9"]

    for bad in ("7:5", "wide", 16, ""):
        refused = await client.patch(path, json={"root_aspect": bad}, headers=auth)
        assert refused.status_code in (400, 422), (bad, refused.text)
        assert "root_aspect" in refused.json()["detail"], refused.text
    refused = await client.patch(path, json={"root_aspect": "7:5"}, headers=auth)
    assert refused.status_code == 422 and "16:9" in refused.json()["detail"]
    assert (await client.get(path, headers=auth)).json()["root_aspect"] == "16:9"  # a refusal changes nothing

    untouched = await client.patch(path, json={"name": "Acme Images"}, headers=auth)
    assert untouched.status_code == 200 and untouched.json()["root_aspect"] == "16:9"  # left out: kept
    reset = await client.patch(path, json={"root_aspect": None}, headers=auth)
    assert reset.status_code == 200 and reset.json()["root_aspect"] is None
    await client.get(g_path(tenant, "a ferry at dusk", w=320, fit="max"))
    assert provider.synthesized[-1].aspect_class == settings.root_aspect
