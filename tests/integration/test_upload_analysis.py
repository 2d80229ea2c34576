"""Uploads are analysed like generations: the real google-genai client against the fake Gemini server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.settings import Settings
from generation.providers.gemini import GeminiProvider, GeminiSettings
from harness.fake_gemini import API_KEY, FakeGemini, Reply
from tests.images import decode, pixel, solid
from tests.integration.test_api_generations import CYAN, MAGENTA, bearer, close_to, two_tone, upload
from tests.tenancy import Tenant, make_tenant


@pytest.fixture
async def provider(fake_gemini: FakeGemini) -> AsyncIterator[GeminiProvider]:  # replaces the offline one in `client`
    gemini = GeminiProvider(GeminiSettings(api_key=API_KEY, base_url=fake_gemini.url))
    yield gemini
    await gemini.aclose()


@pytest.fixture
def settings(database_url: str, tmp_path: object) -> Settings:
    return Settings(database_url=database_url, data_dir=f"{tmp_path}/data", log_requests=False, sweep_interval=0, generation_backoff=0.01)


@pytest.fixture
async def tenant(client: AsyncTestClient, settings: Settings) -> Tenant:
    return await make_tenant(settings.database_url or "", credits=100)


async def test_an_upload_gets_alt_text_tags_and_focal_point_from_the_vision_model(
    client: AsyncTestClient, tenant: Tenant, fake_gemini: FakeGemini
) -> None:
    fake_gemini.focal_point = (0.9, 0.5)
    asset = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    assert asset["alt_text"] == "A picture of ." and asset["tags"] == ["fake", "picture"]
    assert asset["focal_point"] == pytest.approx({"x": 0.9, "y": 0.5})
    [sent] = fake_gemini.of("analyze")
    shown, _ = decode(sent.images[0][1])  # the image itself was shown to the model
    assert sent.model == "gemini-2.5-flash" and close_to(pixel(shown, 0.1, 0.5), MAGENTA) and close_to(pixel(shown, 0.9, 0.5), CYAN)
    crop = await client.get(f"/i/{asset['id']}?w=16&h=64&fit=crop&fm=png")  # the focal point steers crops
    assert close_to(pixel(decode(crop.content)[0], 0.5, 0.5), CYAN)

    again = await upload(client, tenant, two_tone(MAGENTA, CYAN))  # the same bytes: the same asset, no second call
    assert again["id"] == asset["id"] and len(fake_gemini.of("analyze")) == 1
    # An alt text given with the upload wins over the model's.
    described = await upload(client, tenant, solid(40, 30, (10, 200, 30)), alt_text="a green card")
    assert described["alt_text"] == "a green card" and described["tags"] == ["fake", "picture"]


async def test_analyze_runs_it_again_and_a_failure_falls_back_to_libvips(
    client: AsyncTestClient, tenant: Tenant, fake_gemini: FakeGemini
) -> None:
    asset = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    moved = await client.patch(f"/v1/assets/{asset['id']}", json={"focal_point": {"x": 0.0, "y": 0.0}, "tags": []}, headers=bearer(tenant))
    assert moved.json()["tags"] == []
    fake_gemini.focal_point = (0.25, 0.75)
    analysed = await client.post(f"/v1/assets/{asset['id']}/analyze", headers=bearer(tenant))
    assert analysed.status_code == 200, analysed.text
    body = analysed.json()
    assert body["focal_point"] == pytest.approx({"x": 0.25, "y": 0.75}) and body["tags"] == ["fake", "picture"]
    assert len(fake_gemini.of("analyze")) == 2
    assert (await client.post(f"/v1/assets/{'0' * 32}/analyze", headers=bearer(tenant))).status_code == 404

    fake_gemini.script("analyze", Reply.error(400), Reply.error(400), Reply.error(400))  # not retried: a client error
    flat = await upload(client, tenant, solid(80, 40, (200, 200, 200)))
    assert flat["alt_text"] == "" and flat["focal_point"] == {"x": 0.5, "y": 0.5}  # libvips: the centre of a flat image


async def test_offline_setting_keeps_uploads_off_the_model(settings: Settings, provider: GeminiProvider, fake_gemini: FakeGemini) -> None:
    offline = msgspec.structs.replace(settings, upload_analysis="offline")
    async with AsyncTestClient(app=create_app(offline, provider=provider)) as client:
        tenant = await make_tenant(settings.database_url or "", credits=1)
        asset = await upload(client, tenant, two_tone(MAGENTA, CYAN))
    assert asset["alt_text"] == "" and asset["tags"] == [] and fake_gemini.of("analyze") == []
