"""What the real google-genai client puts on the wire, as the fake Gemini server received it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from generation.models import GenerationRequest, ReferenceImage
from generation.pipeline import generate
from generation.providers.gemini import GeminiPrices, GeminiProvider, GeminiSettings
from harness.fake_gemini import API_KEY, FakeGemini, Reply
from tests.images import decode, solid

PRICES = GeminiPrices(per_image=0.04, per_million_input_tokens=1.0, per_million_output_tokens=10.0)


@pytest.fixture
async def gemini(fake_gemini: FakeGemini) -> AsyncIterator[GeminiProvider]:
    provider = GeminiProvider(
        GeminiSettings(api_key=API_KEY, base_url=fake_gemini.url, image_model="img-model-7", text_model="txt-model-3", prices=PRICES)
    )
    yield provider
    await provider.aclose()


async def test_models_version_and_key(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    await generate(gemini, GenerationRequest(prompt="a kettle"))
    assert [(r.stage, r.model) for r in fake_gemini.received] == [
        ("enhance", "txt-model-3"),
        ("synthesize", "img-model-7"),
        ("analyze", "txt-model-3"),
    ]
    assert {r.api_version for r in fake_gemini.received} == {"v1beta"}
    assert {r.api_key for r in fake_gemini.received} == {API_KEY}


async def test_synthesis_sends_aspect_seed_prompt_and_references(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    logo, badge = solid(64, 64, (0, 255, 0)), solid(32, 48, (255, 0, 0), "jpg")
    request = GenerationRequest(
        prompt="a mug with @logo and @badge",
        aspect_class="21:9",
        seed=42,
        references=(ReferenceImage("logo", logo, "image/png"), ReferenceImage("badge", badge, "image/jpeg")),
    )
    await gemini.synthesize(request, "an enhanced mug prompt")
    (sent,) = fake_gemini.of("synthesize")
    assert sent.aspect_ratio == "21:9" and sent.seed == 42
    assert sent.body["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert sent.texts[0] == "an enhanced mug prompt"
    assert [t for t in sent.texts[1:]] == ["Reference image @logo:", "Reference image @badge:"]
    assert [mime for mime, _ in sent.images] == ["image/png", "image/jpeg"]
    assert [data for _, data in sent.images] == [logo, badge]  # bytes survive the base64 round trip


async def test_enhancement_instruction_carries_style_translation_and_context(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    request = GenerationRequest(
        prompt="un phare sur une falaise",
        aspect_class="9:16",
        style="house",
        style_prompt="muted pastel palette, risograph grain",
        context=("a harbour at dawn",),
    )
    enhanced, usage = await gemini.enhance(request)
    (sent,) = fake_gemini.of("enhance")
    assert sent.texts == ("un phare sur une falaise",)
    instruction = sent.system_instruction or ""
    assert "muted pastel palette, risograph grain" in instruction
    assert "not in English, translate it to English" in instruction
    assert "Keep the user's subject" in instruction
    assert "9:16 (portrait)" in instruction and "a harbour at dawn" in instruction
    assert sent.body["generationConfig"]["responseMimeType"] == "application/json"
    assert sent.response_schema == {
        "type": "object",
        "properties": {"prompt": {"description": "The rewritten prompt, in English", "type": "string", "minLength": 1}},
        "required": ["prompt"],
    }
    # The SDK passes nested config through in snake_case; Google's JSON parser accepts both spellings.
    assert sent.body["generationConfig"]["thinkingConfig"] in ({"thinkingBudget": 0}, {"thinking_budget": 0})
    assert enhanced == "un phare sur une falaise, detailed, cinematic light"
    assert (usage.input_tokens, usage.output_tokens, usage.images) == (40, 30, 0)
    assert usage.cost == pytest.approx(40 * 1.0 / 1e6 + 30 * 10.0 / 1e6)


async def test_a_built_in_style_name_reaches_the_instruction(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    await gemini.enhance(GenerationRequest(prompt="a cat", style="watercolor"))
    assert "watercolour painting" in (fake_gemini.of("enhance")[0].system_instruction or "")


async def test_analysis_sends_a_thumbnail_and_a_schema(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    big = solid(2000, 1000, (200, 30, 30))
    analysis, usage = await gemini.analyze(big, "image/png", "a red wall")
    (sent,) = fake_gemini.of("analyze")
    ((mime, data),) = sent.images
    thumb, fmt = decode(data)
    assert (mime, fmt, thumb.width, thumb.height) == ("image/jpeg", "jpg", 768, 384)
    assert "Prompt: a red wall" in sent.texts[-1]
    schema = sent.response_schema or {}
    assert schema["required"] == ["focal_point", "alt_text", "tags"] and "$ref" not in str(schema)
    assert schema["properties"]["focal_point"]["properties"]["x"]["maximum"] == 1
    assert analysis.focal_point.x == 0.3 and analysis.focal_point.y == 0.7  # the fake's answer
    assert analysis.alt_text == "A picture of a red wall." and analysis.tags == ("fake", "picture")
    assert analysis.colors[0] == "e02020"  # from libvips, not the model
    assert usage.input_tokens == 40 + 258


async def test_cost_of_a_generation(gemini: GeminiProvider) -> None:
    result = await generate(gemini, GenerationRequest(prompt="a kettle"))
    text_calls = 2 * 30 * 10.0 / 1e6 + (40 + 40 + 258) * 1.0 / 1e6
    image_call = 0.04 + 40 * 1.0 / 1e6
    assert result.usage.cost == pytest.approx(text_calls + image_call)
    assert result.usage.images == 1 and result.model == "img-model-7"


def test_unknown_models_are_refused(gemini: GeminiProvider) -> None:
    assert gemini.resolve_model(None) == gemini.resolve_model("img-model-7") == "img-model-7"
    with pytest.raises(ValueError, match="img-model-7"):
        gemini.resolve_model("some-other-model")


async def test_the_answer_image_is_picked_among_text_and_draft_parts(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    draft, final = solid(8, 8, (255, 0, 0)), solid(16, 8, (0, 0, 255))
    parts = [
        {"text": "Here is your kettle."},
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(draft).decode()}, "thought": True},
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(final).decode()}},
    ]
    body = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}], "modelVersion": "img-model-7-002"}
    fake_gemini.script("synthesize", Reply(body=body))
    synthesis = await gemini.synthesize(GenerationRequest(prompt="a kettle"), "a kettle")
    assert synthesis.data == final and synthesis.mime == "image/png"
    assert synthesis.model == "img-model-7-002"  # the version Gemini reports, not the alias we asked for
