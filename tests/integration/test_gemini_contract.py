"""One provider contract, run against every provider: offline, and Gemini
through the real google-genai client against the fake Gemini server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from generation.models import ASPECT_CLASSES, GenerationRequest, ReferenceImage
from generation.pipeline import generate
from generation.providers.base import Provider
from generation.providers.gemini import GeminiProvider, GeminiSettings
from generation.providers.offline import OfflineProvider
from harness.fake_gemini import API_KEY, FakeGemini
from tests.images import decode, solid


@pytest.fixture(params=["offline", "gemini"])
async def any_provider(request: pytest.FixtureRequest) -> AsyncIterator[Provider]:
    provider: Provider
    if request.param == "offline":
        provider = OfflineProvider()
    else:
        fake: FakeGemini = request.getfixturevalue("fake_gemini")
        provider = GeminiProvider(GeminiSettings(api_key=API_KEY, base_url=fake.url))
    yield provider
    await provider.aclose()


def test_the_default_model_is_pinned(any_provider: Provider) -> None:
    pinned = any_provider.resolve_model(None)
    assert pinned and any_provider.resolve_model(pinned) == pinned


async def test_enhancement_keeps_the_subject(any_provider: Provider) -> None:
    prompt, usage = await any_provider.enhance(GenerationRequest(prompt="a lighthouse on a cliff", style="watercolor"))
    assert "lighthouse on a cliff" in prompt and len(prompt) > len("a lighthouse on a cliff")
    assert usage.images == 0 and usage.cost >= 0


@pytest.mark.parametrize("aspect", ["1:1", "16:9", "9:16", "21:9"])
async def test_synthesis_draws_at_the_aspect_class_size(any_provider: Provider, aspect: str) -> None:
    request = GenerationRequest(prompt="a fox at dawn", aspect_class=aspect, seed=3)
    synthesis = await any_provider.synthesize(request, "a fox at dawn, misty forest")
    image, fmt = decode(synthesis.data)
    assert (image.width, image.height) == ASPECT_CLASSES[aspect]
    assert synthesis.mime == f"image/{fmt}" and synthesis.usage.images == 1
    assert synthesis.model == any_provider.resolve_model(None)


async def test_references_show_in_the_image(any_provider: Provider) -> None:
    logo = solid(200, 200, (0, 255, 0))
    request = GenerationRequest(prompt="a mug with @logo", references=(ReferenceImage("logo", logo, "image/png"),))
    image, _ = decode((await any_provider.synthesize(request, "a mug with @logo")).data)
    green = (image[0] < 10) & (image[1] > 245) & (image[2] < 10)
    assert green.avg() / 255 > 0.03


async def test_analysis_is_complete_and_in_range(any_provider: Provider) -> None:
    synthesis = await any_provider.synthesize(GenerationRequest(prompt="a red kite"), "a red kite")
    analysis, usage = await any_provider.analyze(synthesis.data, synthesis.mime, "a red kite")
    assert 0 <= analysis.focal_point.x <= 1 and 0 <= analysis.focal_point.y <= 1
    assert "kite" in analysis.alt_text
    assert analysis.tags and all(t == t.lower().strip() for t in analysis.tags)
    assert analysis.colors and all(len(c) == 6 and int(c, 16) >= 0 for c in analysis.colors)
    assert usage.cost >= 0


async def test_the_pipeline_result_is_labelled_and_timed(any_provider: Provider) -> None:
    request = GenerationRequest(prompt="a lighthouse at night", aspect_class="4:3", seed=7)
    result = await generate(any_provider, request)
    image, fmt = decode(result.data)
    assert (result.width, result.height) == (image.width, image.height) == ASPECT_CLASSES["4:3"]
    assert result.mime == f"image/{fmt}"
    assert result.provider == any_provider.name and result.offline == any_provider.offline
    assert result.model == any_provider.resolve_model(None)
    assert "lighthouse" in result.enhanced_prompt and result.prompt == request.prompt
    assert set(result.timings) == {"enhance", "synthesize", "analyze"} and all(t > 0 for t in result.timings.values())
    assert result.usage.images == 1
    assert (result.usage.cost > 0) != any_provider.offline
