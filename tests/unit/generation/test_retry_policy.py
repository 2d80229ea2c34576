"""The pipeline's retry decision, on its own: which errors retry, how long to wait, when to give up."""

from __future__ import annotations

import asyncio

import pytest

from generation.errors import MalformedResponse, NoImage, PromptRejected, ProviderRateLimited, ProviderUnavailable
from generation.models import Analysis, GenerationRequest, Usage
from generation.pipeline import PipelineSettings, _retry_delay, generate
from generation.providers.base import Synthesis
from generation.providers.offline import OfflineProvider, render

SETTINGS = PipelineSettings(attempts=5, backoff=1.0, max_backoff=3.0, max_retry_wait=10.0)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    error = ProviderUnavailable("down")
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 3.0), (4, 3.0)]:
        delays = [_retry_delay(error, attempt, SETTINGS) for _ in range(200)]
        assert all(d is not None and full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_no_retry_for_the_prompts_fault_or_after_the_last_attempt() -> None:
    assert _retry_delay(PromptRejected("no"), 1, SETTINGS) is None
    assert _retry_delay(MalformedResponse("?"), 1, SETTINGS) is None
    assert _retry_delay(ProviderUnavailable("down"), 5, SETTINGS) is None
    assert _retry_delay(NoImage("empty"), 1, SETTINGS) is not None


def test_retry_after_sets_the_floor_or_ends_the_attempts() -> None:
    assert _retry_delay(ProviderRateLimited("busy", retry_after=7.5), 1, SETTINGS) == 7.5
    assert _retry_delay(ProviderRateLimited("busy", retry_after=0.1), 3, SETTINGS) >= 1.5  # type: ignore[operator]  # a delay, not None: the attempts are not over
    assert _retry_delay(ProviderRateLimited("busy", retry_after=11), 1, SETTINGS) is None


class SlowProvider(OfflineProvider):
    """Offline, but the first `slow` syntheses hang: a provider that stopped answering.
    Later ones answer at once with a ready image, so the deadline only ever cuts a hang."""

    def __init__(self, slow: int) -> None:
        self.slow = slow
        self.calls = 0
        self.ready = render(GenerationRequest(prompt="ready"))

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        self.calls += 1
        if self.calls <= self.slow:
            await asyncio.sleep(3600)
        return Synthesis(self.ready, "image/png", "ready", Usage(images=1))


async def test_a_hung_attempt_is_cut_at_its_deadline_and_retried() -> None:
    provider = SlowProvider(slow=1)
    result = await generate(provider, GenerationRequest(prompt="a kite"), PipelineSettings(synthesize_timeout=0.3, backoff=0.01))
    assert provider.calls == 2 and result.width == 1024


class BrokenImageProvider(OfflineProvider):
    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        return Synthesis(data=b"\x89PNG truncated", mime="image/png", model="x", usage=Usage(images=1))

    async def analyze(self, data: bytes, mime: str, prompt: str) -> tuple[Analysis, Usage]:
        raise AssertionError("never analysed")


async def test_an_undecodable_image_is_the_providers_failure() -> None:
    with pytest.raises(ProviderUnavailable, match="undecodable") as raised:
        await generate(BrokenImageProvider(), GenerationRequest(prompt="x"), PipelineSettings(attempts=2, backoff=0.01))
    assert raised.value.stage == "synthesize"
