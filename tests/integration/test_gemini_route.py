"""`/g/` with the Gemini provider (real client, fake server): stored metadata and error statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from generation.providers.gemini import GeminiProvider, GeminiSettings
from harness.fake_gemini import API_KEY, FakeGemini, Reply
from harness.urls import urlencode
from tests.images import decode


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, data_dir=str(tmp_path / "data"), log_requests=False,
        generation_attempts=2, generation_backoff=0.01,
    )


@pytest.fixture
async def provider(fake_gemini: FakeGemini) -> AsyncIterator[GeminiProvider]:  # replaces the offline one in `client`
    gemini = GeminiProvider(GeminiSettings(api_key=API_KEY, base_url=fake_gemini.url))
    yield gemini
    await gemini.aclose()


def g_url(demo: Demo, **params: object) -> str:
    return f"/g/{demo.project_slug}?" + urlencode({**params, "key": demo.key_id})


async def test_a_gemini_master_is_stored_with_its_metadata(
    client: AsyncTestClient, demo: Demo, settings: Settings, fake_gemini: FakeGemini
) -> None:
    response = await client.get(g_url(demo, prompt="a heron in reeds", w=600, ar="16:9", fit="crop", fm="webp"))
    assert response.status_code == 200, response.text
    assert response.headers["x-cache-status"] == "GENERATED"
    image, fmt = decode(response.content)
    assert (image.width, image.height, fmt) == (600, 338, "webp")
    assert fake_gemini.of("synthesize")[0].aspect_ratio == "16:9"
    conn = await asyncpg.connect(settings.database_url)
    try:
        asset = await conn.fetchrow("SELECT * FROM assets")
        generation = await conn.fetchrow("SELECT * FROM generations")
    finally:
        await conn.close()
    assert (asset["provider"], asset["model"], asset["offline"]) == ("gemini", "gemini-2.5-flash-image", False)
    assert (asset["width"], asset["height"]) == (1344, 768)
    assert (asset["focal_x"], asset["focal_y"]) == pytest.approx((0.3, 0.7))
    assert asset["enhanced_prompt"].startswith("a heron in reeds,")
    assert asset["alt_text"] == f"A picture of {asset['enhanced_prompt']}."  # the analysis was told what was drawn
    assert generation["status"] == "succeeded" and generation["cost"] > 0


@pytest.mark.parametrize(
    ("replies", "status", "retry_after"),
    [
        ([Reply.finished("IMAGE_SAFETY")], 422, None),
        ([Reply.error(429, retry_delay="42s")], 429, "42"),
        ([Reply.error(503), Reply.error(503)], 503, "10"),
    ],
)
async def test_provider_failures_answer_their_status(
    client: AsyncTestClient, demo: Demo, fake_gemini: FakeGemini, replies: list[Reply], status: int, retry_after: str | None
) -> None:
    fake_gemini.script("synthesize", *replies)
    response = await client.get(g_url(demo, prompt="a heron", w=300, fm="png"), headers={"Accept": "image/*"})
    assert response.status_code == status
    assert response.headers["cache-control"] == "no-store"
    assert response.headers.get("retry-after") == retry_after
    assert decode(response.content)[1] == "png"  # an error image an <img> can show
    assert len(fake_gemini.of("synthesize")) == len(replies)
