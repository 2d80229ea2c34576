"""The Replicate provider: the official `replicate` client against harness/fake_replicate.py.

Provider-level tests run the real pipeline (retries, deadlines) on the real
client; the last ones go through `/g/` and the ledger.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from delivery.settings import Settings
from generation import PipelineSettings, ReplicateSettings, generate
from generation.errors import PromptRejected, ProviderRateLimited, StageTimeout
from generation.models import GenerationRequest, ReferenceImage
from generation.providers.replicate import OutputTooLarge, ReplicateProvider, UnsafeOutput
from harness.fake_replicate import API_TOKEN, FakeReplicate, Reply
from tests.images import decode, solid
from tests.integration.test_billing import balance, ledger_rows, signed_links
from tests.tenancy import make_tenant

PIPELINE = PipelineSettings(attempts=3, backoff=0.01, max_retry_wait=5)


def replicate_for(fake: FakeReplicate, **overrides: object) -> ReplicateProvider:
    options: dict[str, object] = {"api_token": API_TOKEN, "base_url": fake.url, "poll_interval": 0.01} | overrides
    return ReplicateProvider(msgspec.convert(options, ReplicateSettings))


@pytest.fixture
async def replicate(fake_replicate: FakeReplicate) -> AsyncIterator[ReplicateProvider]:
    provider = replicate_for(fake_replicate, price_per_second=0.001)
    yield provider
    await provider.aclose()


async def test_an_image_is_drawn_with_aspect_and_seed_and_its_cost_recorded(replicate: ReplicateProvider, fake_replicate: FakeReplicate) -> None:
    result = await generate(replicate, GenerationRequest(prompt="a heron in reeds", aspect_class="16:9", seed=7), PIPELINE)
    image, fmt = decode(result.data)
    assert (image.width, image.height, fmt, result.mime) == (1344, 768, "png", "image/png")
    [create] = fake_replicate.creates
    assert create.token == f"Bearer {API_TOKEN}" and create.model == "black-forest-labs/flux-schnell"
    assert (create.input["aspect_ratio"], create.input["seed"], create.input["output_format"]) == ("16:9", 7, "png")
    assert create.input["prompt"].startswith("a heron in reeds")
    assert result.model == f"black-forest-labs/flux-schnell:{fake_replicate.default_version}"
    assert (result.provider, result.offline) == ("replicate", False)
    assert result.usage.images == 1 and result.usage.cost == pytest.approx(0.003 + 1.25 * 0.001)


async def test_a_pinned_version_is_created_by_version(fake_replicate: FakeReplicate) -> None:
    provider = replicate_for(fake_replicate, model="stability-ai/sdxl:39ed52f2")
    try:
        result = await generate(provider, GenerationRequest(prompt="a kite", aspect_class="9:16"), PIPELINE)
    finally:
        await provider.aclose()
    [create] = fake_replicate.creates
    assert create.version == "39ed52f2" and (create.input["width"], create.input["height"]) == (768, 1344)
    assert decode(result.data)[0].width == 768


async def test_a_reference_goes_where_the_model_takes_it(fake_replicate: FakeReplicate) -> None:
    logo = solid(64, 64, (255, 0, 255))
    provider = replicate_for(fake_replicate, model="black-forest-labs/flux-dev")
    try:
        request = GenerationRequest(prompt="a mug with @logo", references=(ReferenceImage("logo", logo, "image/png"),))
        result = await generate(provider, request, PIPELINE)
        with pytest.raises(PromptRejected, match="at most 1 reference"):
            await generate(provider, msgspec.structs.replace(request, references=request.references * 2), PIPELINE)
    finally:
        await provider.aclose()
    sent = fake_replicate.creates[0].input["image"]
    assert sent.startswith("data:image/png;base64,") and base64.b64decode(sent.split(",", 1)[1]) == logo
    image, _ = decode(result.data)
    assert image.getpoint(40, 1024 - 40)[:3] == pytest.approx([255, 0, 255], abs=8)  # the fake insets it bottom left
    assert len(fake_replicate.creates) == 1  # refused before any call


async def test_a_422_is_a_refused_prompt_and_not_retried(replicate: ReplicateProvider, fake_replicate: FakeReplicate) -> None:
    fake_replicate.script(Reply.http_error(422, detail="prompt flagged"))
    with pytest.raises(PromptRejected, match="prompt flagged"):
        await generate(replicate, GenerationRequest(prompt="x"), PIPELINE)
    assert len(fake_replicate.creates) == 1


async def test_a_429_waits_its_retry_after_or_passes_it_on(replicate: ReplicateProvider, fake_replicate: FakeReplicate) -> None:
    fake_replicate.script(Reply.http_error(429, retry_after="1"))
    started = time.perf_counter()
    await generate(replicate, GenerationRequest(prompt="a fox"), PIPELINE)
    assert time.perf_counter() - started >= 1.0 and len(fake_replicate.creates) == 2

    fake_replicate.script(Reply.http_error(429, retry_after="60"))
    with pytest.raises(ProviderRateLimited) as limited:
        await generate(replicate, GenerationRequest(prompt="a fox"), PIPELINE)
    assert limited.value.retry_after == 60 and len(fake_replicate.creates) == 3  # longer than max_retry_wait: not waited


async def test_a_prediction_past_its_deadline_times_out(replicate: ReplicateProvider, fake_replicate: FakeReplicate) -> None:
    fake_replicate.script(Reply(delay=1.5))
    tight = msgspec.structs.replace(PIPELINE, synthesize_timeout=0.3, attempts=1)
    started = time.perf_counter()
    with pytest.raises(StageTimeout):
        await generate(replicate, GenerationRequest(prompt="slow"), tight)
    assert time.perf_counter() - started < 1.2


@pytest.mark.parametrize("hide_length", [False, True], ids=["declared", "chunked"])
async def test_a_too_large_output_is_refused_while_downloading(fake_replicate: FakeReplicate, hide_length: bool) -> None:
    provider = replicate_for(fake_replicate, max_output_bytes=200_000)
    fake_replicate.script(Reply(output_bytes=5_000_000, hide_length=hide_length))
    try:
        with pytest.raises(OutputTooLarge, match="200000 byte limit"):
            await generate(provider, GenerationRequest(prompt="huge"), PIPELINE)
    finally:
        await provider.aclose()
    assert len(fake_replicate.creates) == 1  # not retried: it would fetch the same


async def test_an_output_flagged_unsafe_is_never_downloaded(replicate: ReplicateProvider, fake_replicate: FakeReplicate) -> None:
    fake_replicate.script(Reply(error="NSFW content detected. Try running it again, or try a different prompt."))
    with pytest.raises(UnsafeOutput):
        await generate(replicate, GenerationRequest(prompt="x"), PIPELINE)
    assert fake_replicate.downloads == 0 and len(fake_replicate.creates) == 1


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_replicate: FakeReplicate) -> Settings:
    return Settings(
        database_url=database_url, data_dir=str(tmp_path / "data"), log_requests=False, sweep_interval=0, generation_price=3,
        generator="replicate", replicate_api_token=API_TOKEN, replicate_base_url=fake_replicate.url, replicate_poll_interval=0.01,
        replicate_price_per_second=0.001,
    )


@pytest.fixture
def provider() -> None:
    """None: the app builds the provider from its settings (PROMPTPIX_GENERATOR=replicate) and closes it on its own loop."""
    return None


async def test_through_g_a_replicate_master_is_charged_and_a_refusal_is_refunded(
    client: AsyncTestClient, settings: Settings, fake_replicate: FakeReplicate
) -> None:
    tenant = await make_tenant(settings.database_url or "", credits=10)
    drawn, refused = await signed_links(client, settings, tenant, ["a heron in reeds", "a refused prompt"])
    response = await client.get(drawn)
    assert response.status_code == 200, response.text
    assert decode(response.content)[0].width == 64
    fake_replicate.script(Reply.http_error(422, detail="prompt flagged"))
    assert (await client.get(refused)).status_code == 422

    url = settings.database_url or ""
    conn = await asyncpg.connect(url)
    try:
        asset = await conn.fetchrow("SELECT provider, model, offline FROM assets")
        generations = await conn.fetch("SELECT status, provider, cost FROM generations ORDER BY id")
    finally:
        await conn.close()
    assert (asset["provider"], asset["offline"]) == ("replicate", False) and asset["model"].startswith("black-forest-labs/flux-schnell:")
    assert [(g["status"], g["provider"]) for g in generations] == [("succeeded", "replicate"), ("failed", "replicate")]
    assert float(generations[0]["cost"]) == pytest.approx(0.003 + 1.25 * 0.001)  # the provider's cost, as recorded
    assert await balance(url, tenant.org) == 7  # one generation at the deployment's price; the refused one refunded
    assert [r["kind"] for r in await ledger_rows(url, tenant.org)] == ["grant", "debit", "debit", "refund"]
