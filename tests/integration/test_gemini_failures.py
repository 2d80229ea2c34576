"""Each way Gemini fails, scripted on the fake server, with the typed error or fallback it must produce."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator

import pytest

from generation.analysis import analyze_offline
from generation.enhance import enhance_offline
from generation.errors import (
    MalformedResponse,
    NoImage,
    PromptRejected,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderUnavailable,
    StageTimeout,
)
from generation.models import FocalPoint, GenerationRequest
from generation.pipeline import PipelineSettings, StageEvent, generate
from generation.providers.gemini import GeminiProvider, GeminiSettings
from harness.fake_gemini import API_KEY, FakeGemini, Reply
from tests.images import decode

FAST = PipelineSettings(attempts=3, backoff=0.01, max_retry_wait=2.0)
REQUEST = GenerationRequest(prompt="a heron in reeds", aspect_class="3:2")


@pytest.fixture
async def gemini(fake_gemini: FakeGemini) -> AsyncIterator[GeminiProvider]:
    provider = GeminiProvider(GeminiSettings(api_key=API_KEY, base_url=fake_gemini.url))
    yield provider
    await provider.aclose()


async def test_retryable_errors_are_retried_until_success(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    fake_gemini.script("synthesize", Reply.error(429), Reply.error(503))
    events: list[StageEvent] = []
    result = await generate(gemini, REQUEST, FAST, events.append)
    assert len(fake_gemini.of("synthesize")) == 3
    assert [(e.attempt, e.message) for e in events if e.status == "retry"] == [
        (1, "the provider is over its rate limit"),
        (2, "the provider failed (503)"),
    ]
    assert decode(result.data)[0].width == 1248
    assert result.usage.images == 1  # failed attempts are not billed


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (Reply.error(429), ProviderRateLimited, "over its rate limit"),
        (Reply.error(500), ProviderUnavailable, r"failed \(500\)"),
        (Reply.error(503), ProviderUnavailable, r"failed \(503\)"),
    ],
)
async def test_giving_up_raises_the_typed_error(gemini: GeminiProvider, fake_gemini: FakeGemini, reply: Reply, error: type, message: str) -> None:
    fake_gemini.script("synthesize", reply, reply, reply)
    with pytest.raises(error, match=message) as raised:
        await generate(gemini, REQUEST, FAST)
    assert type(raised.value) is error and raised.value.stage == "synthesize"
    assert len(fake_gemini.of("synthesize")) == FAST.attempts
    assert not fake_gemini.of("analyze")


@pytest.mark.parametrize("reply", [Reply.error(429, retry_after="1"), Reply.error(429, retry_delay="1.2s")])
async def test_the_providers_retry_after_is_honoured(gemini: GeminiProvider, fake_gemini: FakeGemini, reply: Reply) -> None:
    fake_gemini.script("synthesize", reply)
    started = time.perf_counter()
    await generate(gemini, REQUEST, FAST)
    assert time.perf_counter() - started >= 1.0  # backoff alone would retry after ~10 ms
    assert len(fake_gemini.of("synthesize")) == 2


async def test_a_retry_after_longer_than_we_wait_is_passed_on(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    fake_gemini.script("synthesize", Reply.error(429, retry_delay="37s"))
    with pytest.raises(ProviderRateLimited, match="over its rate limit") as raised:
        await generate(gemini, REQUEST, FAST)
    assert raised.value.retry_after == 37.0
    assert len(fake_gemini.of("synthesize")) == 1


async def test_a_slow_attempt_times_out_and_is_retried(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    fake_gemini.script("synthesize", Reply.delayed(30.0))
    settings = PipelineSettings(synthesize_timeout=2.0, attempts=2, backoff=0.01)
    started = time.perf_counter()
    result = await generate(gemini, REQUEST, settings)
    assert time.perf_counter() - started < 25  # the slow answer was not waited for
    assert len(fake_gemini.of("synthesize")) == 2 and result.width == 1248


async def test_a_stage_that_always_times_out_raises_stage_timeout(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    fake_gemini.script("synthesize", Reply.delayed(3.0), Reply.delayed(3.0))
    with pytest.raises(StageTimeout, match=r"synthesize took longer than 0.3s") as raised:
        await generate(gemini, REQUEST, PipelineSettings(synthesize_timeout=0.3, attempts=2, backoff=0.01))
    assert raised.value.stage == "synthesize" and len(fake_gemini.of("synthesize")) == 2


@pytest.mark.parametrize("reason", ["SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "OTHER"])
async def test_a_blocked_prompt_is_rejected_before_synthesis(gemini: GeminiProvider, fake_gemini: FakeGemini, reason: str) -> None:
    fake_gemini.script("enhance", Reply.blocked(reason))
    with pytest.raises(PromptRejected, match=reason) as raised:
        await generate(gemini, REQUEST, FAST)
    assert raised.value.stage == "enhance"
    assert len(fake_gemini.of("enhance")) == 1 and not fake_gemini.of("synthesize")


@pytest.mark.parametrize("reply", [Reply.finished("IMAGE_SAFETY"), Reply.finished("PROHIBITED_CONTENT"), Reply.blocked("IMAGE_SAFETY")])
async def test_a_refused_image_is_rejected_without_retry(gemini: GeminiProvider, fake_gemini: FakeGemini, reply: Reply) -> None:
    fake_gemini.script("synthesize", reply)
    with pytest.raises(PromptRejected, match=r"blocked|refused this prompt") as raised:
        await generate(gemini, REQUEST, FAST)
    assert type(raised.value) is PromptRejected and raised.value.stage == "synthesize"
    assert len(fake_gemini.of("synthesize")) == 1


async def test_a_bad_request_is_the_prompts_fault(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    fake_gemini.script("synthesize", Reply.error(400))
    with pytest.raises(PromptRejected, match=r"\S"):  # the provider's own message, passed on
        await generate(gemini, REQUEST, FAST)
    assert len(fake_gemini.of("synthesize")) == 1


@pytest.mark.parametrize("reply", [Reply.error(403), Reply.error(404), Reply.error(400, reason="API_KEY_INVALID")])
async def test_our_misconfiguration_is_not_the_prompts_fault(gemini: GeminiProvider, fake_gemini: FakeGemini, reply: Reply) -> None:
    fake_gemini.script("synthesize", reply)
    with pytest.raises(ProviderMisconfigured, match="refused our credentials or model"):
        await generate(gemini, REQUEST, FAST)
    assert len(fake_gemini.of("synthesize")) == 1


async def test_a_wrong_api_key_is_misconfiguration(fake_gemini: FakeGemini) -> None:
    provider = GeminiProvider(GeminiSettings(api_key="not-the-key", base_url=fake_gemini.url))
    try:
        with pytest.raises(ProviderMisconfigured, match="refused our credentials or model"):
            await provider.synthesize(REQUEST, "a heron")
    finally:
        await provider.aclose()


@pytest.mark.parametrize(
    "reply",
    [Reply.text("Sure! Here is a heron."), Reply.finished("NO_IMAGE"), Reply.finished("IMAGE_OTHER"), Reply(body={"candidates": []})],
)
async def test_an_empty_image_answer_is_retried_then_rejected(gemini: GeminiProvider, fake_gemini: FakeGemini, reply: Reply) -> None:
    fake_gemini.script("synthesize", reply, reply, reply)
    with pytest.raises(NoImage, match="answered without an image") as raised:
        await generate(gemini, REQUEST, FAST)
    assert isinstance(raised.value, PromptRejected)  # a caller answers 422 when it persists
    assert len(fake_gemini.of("synthesize")) == FAST.attempts


async def test_an_empty_image_answer_once_still_draws(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    fake_gemini.script("synthesize", Reply.finished("NO_IMAGE"))
    result = await generate(gemini, REQUEST, FAST)
    assert result.width == 1248 and len(fake_gemini.of("synthesize")) == 2


async def test_an_unreadable_body_is_retried(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    fake_gemini.script("synthesize", Reply(raw=b"<html>bad gateway</html>"))
    result = await generate(gemini, REQUEST, FAST)
    assert result.width == 1248 and len(fake_gemini.of("synthesize")) == 2


@pytest.mark.parametrize(
    "answer",
    [
        "{not json",
        '{"focal_point": {"x": 0.5}, "alt_text": "a heron", "tags": []}',
        '{"focal_point": {"x": 0.5, "y": 0.5}, "alt_text": "", "tags": []}',
        '{"focal_point": {"x": 0.5, "y": 0.5}, "alt_text": "   ", "tags": []}',
        '{"focal_point": "middle", "alt_text": "a heron", "tags": []}',
    ],
)
async def test_a_malformed_analysis_falls_back_to_offline(gemini: GeminiProvider, fake_gemini: FakeGemini, answer: str) -> None:
    fake_gemini.script("analyze", Reply.text(answer))
    events: list[StageEvent] = []
    result = await generate(gemini, REQUEST, FAST, events.append)
    assert result.analysis == analyze_offline(result.data, REQUEST.prompt)
    assert len(fake_gemini.of("analyze")) == 1  # malformed is not retried
    assert [e.stage for e in events if e.status == "fallback"] == ["analyze"]


async def test_an_out_of_range_focal_point_is_clamped(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    # One side in range: a corner (both clamped) of the fake's flat picture would be moved to its centre.
    for answered, clamped in (((3.5, 0.25), FocalPoint(1.0, 0.25)), ((0.75, -0.2), FocalPoint(0.75, 0.0))):
        fake_gemini.focal_point = answered
        result = await generate(gemini, REQUEST, FAST)
        assert result.analysis.focal_point == clamped


async def test_a_failing_analysis_falls_back_after_retries(gemini: GeminiProvider, fake_gemini: FakeGemini) -> None:
    fake_gemini.script("analyze", *[Reply.error(503)] * 3)
    result = await generate(gemini, REQUEST, FAST)
    assert result.analysis == analyze_offline(result.data, REQUEST.prompt)
    assert len(fake_gemini.of("analyze")) == 3


@pytest.mark.parametrize("reply", [Reply.text('{"words": "x"}'), Reply.error(503), Reply(body={"candidates": []})])
async def test_a_failing_enhancement_falls_back_to_the_rules(gemini: GeminiProvider, fake_gemini: FakeGemini, reply: Reply) -> None:
    fake_gemini.script("enhance", reply, reply, reply)
    result = await generate(gemini, REQUEST, FAST)
    assert result.enhanced_prompt == enhance_offline(REQUEST)
    assert fake_gemini.of("synthesize")[0].texts[0] == enhance_offline(REQUEST)


async def test_an_unreachable_provider_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = GeminiProvider(GeminiSettings(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}"))
    try:
        started = time.perf_counter()
        with pytest.raises(ProviderUnavailable, match="could not reach the provider") as raised:
            await generate(provider, REQUEST, PipelineSettings(attempts=2, backoff=0.01))
        assert type(raised.value) is ProviderUnavailable and raised.value.stage == "synthesize"
        assert time.perf_counter() - started < 5  # the SDK's own reconnect loop (1-10 s sleeps) is off
    finally:
        await provider.aclose()


def test_malformed_is_not_retryable() -> None:
    assert not MalformedResponse("x").retryable and NoImage("x").retryable
