"""The Python SDK (clients/python, `promptpix-client`) against a live `promptpix serve`: every `/v1` resource, retries, URLs."""

from __future__ import annotations

import datetime as dt
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import asyncpg
import pytest
from promptpix_client import AsyncClient, Client, JobFailed, PromptpixError, image_url, named_url, sign_link, srcset

from delivery.access.keys import KeySpec, create_key
from harness.fake_gemini import FakeGemini, Reply
from harness.processes import Serve, Worker
from tests.images import decode, solid
from tests.tenancy import Tenant, make_tenant


@pytest.fixture
async def tenant(live: Serve, database_url: str) -> Tenant:
    return await make_tenant(database_url, credits=20)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_every_resource_round_trips(live: Serve, tenant: Tenant) -> None:
    slug = tenant.project.slug
    with Client(live.base, tenant.secret_key) as pp:
        # assets: upload (with name and alt text), read, list, search, edit
        logo = pp.upload_asset(solid(64, 32, (0, 255, 0)), filename="logo.png", name="logo", alt_text="a green bar")
        assert (logo.width, logo.height, logo.names, logo.alt_text) == (64, 32, ["logo"], "a green bar")
        assert pp.get_asset(logo.id) == logo
        edited = pp.update_asset(logo.id, focal_point=(0.25, 0.75), alt_text="green")
        assert (edited.focal_point.x, edited.focal_point.y, edited.alt_text) == (0.25, 0.75, "green")

        # styles and presets
        style = pp.put_style("poster", "flat colours, bold shapes", aspect_ratio="3:4")
        assert (style.name, style.aspect_ratio, style.default) == ("poster", "3:4", False)
        assert [s.name for s in pp.list_styles()] == ["poster"] and pp.get_style("poster").prompt == "flat colours, bold shapes"
        preset = pp.put_preset("banner", {"w": 600, "h": 200, "fm": "webp"})
        assert preset.query == "fm=webp&h=200&w=600" and not preset.builtin
        assert {"banner", "thumb", "og"} <= {p.name for p in pp.list_presets()} and pp.get_preset("thumb").builtin

        # generations in a flow, named, with a reference
        flow = pp.create_flow("campaign")
        made = pp.create_generation("a poster with @logo", style="poster", flow=flow.id, name="poster")
        assert made.generated and made.step is not None and made.step.position == 1
        assert (made.asset.width, made.asset.height) == (864, 1184)  # the 3:4 aspect class
        again = pp.create_generation("a poster with @logo", style="poster")
        assert not again.generated and again.asset.id == made.asset.id and again.link is not None
        status, body = fetch(again.link)
        assert status == 200 and decode(body)[0].width == 864
        got = pp.get_flow(flow.id)
        assert [s.reference for s in got.steps] == ["@step1"] and got.steps[0].asset is not None

        # names
        assert {n.name for n in pp.list_names()} == {"logo", "poster"}
        moved = pp.put_name("hero", made.asset.id)
        assert moved.url == f"{live.base}/i/{slug}/@hero" and fetch(moved.url)[0] == 200
        pp.delete_name("hero")
        with pytest.raises(PromptpixError) as gone:
            pp.delete_name("hero")
        assert gone.value.status == 404 and gone.value.detail == "no asset is named @hero"

        # lists: filters, search and paging
        assert [a.id for a in pp.list_assets(source="uploaded").items] == [logo.id]
        assert [a.id for a in pp.list_assets(q="POSTER logo").items] == [made.asset.id]
        assert [a.id for a in pp.iter_assets(limit=1)] == [made.asset.id, logo.id]
        assert (made.asset.parent_id, made.asset.derivation, logo.parent_id) == (None, None, None)  # roots and uploads
        assert pp.list_assets(parent=made.asset.id).items == []  # drawn at its own aspect: nothing derived from it yet
        with pytest.raises(PromptpixError) as nul:
            pp.list_assets(q="logo\x00")
        assert (nul.value.status, nul.value.detail) == (400, "parameter `q` contains a control character (U+0000)")

        # keys, signing secrets and links
        created = pp.create_key(slug, "publishable", name="site")
        assert created.secret.startswith(f"pp_{created.key.id}_") and created.key.scopes == ["generate"]
        assert created.key.id in {k.id for k in pp.list_keys(slug)}
        rotated = pp.rotate_key(slug, created.key.id, grace_seconds=0)
        assert rotated.key.id != created.key.id
        assert pp.revoke_key(slug, rotated.key.id).revoked_at is not None
        secret = pp.rotate_signing_secret(slug, tenant.publishable_id, grace_seconds=0)
        assert secret.key_id == tenant.publishable_id
        signed = pp.sign_link(slug, {"prompt": "a lighthouse", "w": 300, "fm": "webp"})
        status, body = fetch(signed.url)
        image, fmt = decode(body)
        assert status == 200 and (image.width, fmt) == (300, "webp")

        # billing
        balance = pp.balance()
        assert balance.account.plan == "prepaid" and balance.remaining == 18  # 20 granted, two generations (flow step, link)
        assert [e.kind for e in pp.ledger(limit=5)][:2] == ["debit", "debit"]
        assert pp.usage(per="month").total.generations == 2

        # deletes
        pp.delete_preset("banner")
        pp.delete_style("poster")
        pp.delete_asset(logo.id)
        with pytest.raises(PromptpixError) as missing:
            pp.get_asset(logo.id)
        assert (missing.value.status, missing.value.title) == (404, "Not Found")


async def test_the_async_client_does_the_same(live: Serve, tenant: Tenant) -> None:
    async with AsyncClient(live.base, tenant.secret_key) as pp:
        made = await pp.create_generation("an orange kite", aspect_ratio="1:1")
        assert made.generated and (made.asset.width, made.asset.height) == (1024, 1024)
        assert [a.id async for a in pp.iter_assets()] == [made.asset.id]
        named = await pp.put_name("kite", made.asset.id)
        assert (await pp.get_asset(made.asset.id)).names == ["kite"] and named.asset_id == made.asset.id
        with pytest.raises(PromptpixError) as refused:
            await pp.create_generation("")
        assert refused.value.status == 400


def test_jobs_are_submitted_cancelled_and_waited_for(live: Serve, live_worker: Callable[..., Worker], tenant: Tenant, fake_gemini: FakeGemini) -> None:
    with Client(live.base, tenant.secret_key) as pp:
        # No worker runs yet, so the job stays queued: cancelling it refunds both candidates' reservations.
        queued = pp.submit_generation("a queued fox", count=2)
        assert (queued.status, queued.count, queued.asset_ids, queued.prompt) == ("queued", 2, [], "a queued fox")
        assert pp.get_job(queued.id) == queued and pp.balance().remaining == 18
        cancelled = pp.cancel_job(queued)
        assert (cancelled.id, cancelled.status) == (queued.id, "cancelled") and pp.balance().remaining == 20
        with pytest.raises(PromptpixError) as late:
            pp.cancel_job(queued.id)
        assert late.value.status == 409
        with pytest.raises(JobFailed) as ended:
            pp.wait_for_job(queued, timeout=5)
        assert (ended.value.job.status, ended.value.title) == ("cancelled", "Job cancelled")

        live_worker()
        job = pp.submit_generation("two pears on a plate", count=2, aspect_ratio="16:9")
        done = pp.wait_for_job(job, timeout=120, poll=0.1)
        assert done.status == "succeeded" and len(done.asset_ids) == 2 and len(set(done.asset_ids)) == 2
        for asset_id, url in zip(done.asset_ids, done.asset_urls, strict=True):
            assert url == f"{live.base}/i/{asset_id}" and pp.get_asset(asset_id).width == 1344
            status, body = fetch(image_url(live.base, asset_id, w=320, fm="png"))
            image, fmt = decode(body)
            assert (status, fmt, image.width, image.height) == (200, "png", 320, 183)  # a 16:9 master is 1344×768
        seeds = [r.seed for r in fake_gemini.of("synthesize")]
        assert len(seeds) == 2 and len(set(seeds)) == 2  # two draws with their own seeds, not one image twice
        assert [j.id for j in pp.list_jobs()] == [job.id, queued.id]
        assert [j.id for j in pp.list_jobs(status="cancelled")] == [queued.id]
        assert pp.list_jobs(limit=1, before=done.created_at)[0].id == queued.id
        assert pp.balance().remaining == 18  # the two candidates drawn; the cancelled job cost nothing

        fake_gemini.script("synthesize", Reply.blocked())
        with pytest.raises(JobFailed) as failed:
            pp.wait_for_job(pp.submit_generation("a blocked lighthouse"), timeout=120, poll=0.1)
        assert failed.value.job.status == "failed" and failed.value.detail == failed.value.job.error and failed.value.job.error
        assert pp.balance().remaining == 18  # refunded


async def test_the_async_client_waits_for_a_job(live: Serve, live_worker: Callable[..., Worker], tenant: Tenant) -> None:
    live_worker()
    async with AsyncClient(live.base, tenant.secret_key) as pp:
        job = await pp.submit_generation("an orange kite", aspect_ratio="1:1")
        done = await pp.wait_for_job(job.id, timeout=120, poll=0.1)
        [asset_id] = done.asset_ids
        assert (await pp.get_asset(asset_id)).width == 1024 and [j.status for j in await pp.list_jobs()] == ["succeeded"]
        with pytest.raises(PromptpixError) as missing:
            await pp.get_job("job_000000000000000000000000")
        assert missing.value.status == 404


async def test_a_429_is_retried_after_retry_after(live: Serve, tenant: Tenant, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        limited = await create_key(conn, project_id=tenant.project.id, spec=KeySpec(kind="secret", rate_limit=60))
        # The key has used its whole minute: the next generation waits one emission interval (1 s).
        await conn.execute("INSERT INTO rate_limits (bucket, tat) VALUES ($1, now() + interval '60 seconds')", f"key:{limited.key.id}")
    finally:
        await conn.close()
    with Client(live.base, limited.full_key, max_retries=0) as impatient, pytest.raises(PromptpixError) as raised:
        impatient.create_generation("a paper boat")
    assert raised.value.status == 429 and raised.value.retry_after == 1

    started = time.monotonic()
    with Client(live.base, limited.full_key) as pp:
        made = pp.create_generation("a paper boat")
    assert made.generated and time.monotonic() - started >= 1.0
    with Client(live.base, tenant.secret_key) as pp:
        assert pp.usage().total.generations == 1  # the refused attempts cost nothing


def test_urls_it_builds_are_the_urls_the_server_builds_and_signs(live: Serve, tenant: Tenant) -> None:
    slug = tenant.project.slug
    with Client(live.base, tenant.secret_key) as pp:
        secret = pp.rotate_signing_secret(slug, tenant.publishable_id, grace_seconds=0)
        params = {"prompt": "a fox & a hound: 100% friends", "w": "640", "ar": "16:9", "fit": "crop", "fm": "webp", "seed": "7"}
        expires = int(time.time()) + 3600
        served = pp.sign_link(slug, params, expires_in=3600)
        assert served.expires is not None and abs(served.expires - expires) <= 2
        ours = sign_link(
            live.base, slug, params["prompt"], key_id=tenant.publishable_id, signing_secret=secret.signing_secret,
            expires_at=served.expires, w=640, ar="16:9", fit="crop", fm="webp", seed=7,
        )  # fmt: skip
        assert ours == served.url
        status, body = fetch(ours)
        image, fmt = decode(body)
        assert status == 200 and (image.width, image.height, fmt) == (640, 360, "webp")

        asset = pp.get_asset(pp.list_assets().items[0].id)
        assert srcset(asset.urls.original, max_width=asset.width) == asset.urls.srcset
        assert image_url(live.base, asset.id, fit="crop", h=200, w=200) == asset.urls.presets["thumb"]
        assert image_url(live.base, asset.id, fit="crop", fm="jpg", h=630, w=1200) == asset.urls.presets["og"]
        cropped = image_url(live.base, asset.id, {"fp-x": 0.2}, w=300, h=300, fit="crop")
        status, body = fetch(cropped)
        assert status == 200 and decode(body)[0].width == 300
        for candidate in srcset(image_url(live.base, asset.id, fm="png"), max_width=asset.width).split(", "):
            url, width = candidate.rsplit(" ", 1)
            status, body = fetch(url)
            image, fmt = decode(body)
            assert status == 200 and fmt == "png" and f"{image.width}w" == width
        pp.put_name("fox", asset.id)
        status, body = fetch(named_url(live.base, slug, "fox", w=120))
        assert status == 200 and decode(body)[0].width == 120
    assert dt.datetime.now(dt.UTC).timestamp() < expires
