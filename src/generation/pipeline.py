"""enhance -> synthesize -> analyze, each stage bounded in time and retried when it may help.

The pipeline owns the policy (deadlines, retries, fallbacks, timing); providers
only talk to their model. Enhancement and analysis are conveniences: when they
fail the pipeline falls back to the offline rules rather than losing an image
the user is already paying for. Synthesis failing is the caller's error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
import pyvips

from generation.analysis import analyze_offline
from generation.enhance import enhance_offline
from generation.errors import GenerationError, ProviderUnavailable, StageTimeout
from generation.models import GeneratedImage, GenerationRequest, Usage
from generation.providers.base import Provider

__all__ = ["PipelineSettings", "generate"]

log = logging.getLogger("promptpix.generation")
T = TypeVar("T")


class PipelineSettings(msgspec.Struct, frozen=True):
    enhance_timeout: float = 20.0
    synthesize_timeout: float = 90.0
    analyze_timeout: float = 20.0
    attempts: int = 3
    backoff: float = 0.5
    """First retry delay in seconds; doubles each attempt."""


async def _staged(
    stage: str, call: Callable[[], Awaitable[T]], timeout: float, settings: PipelineSettings
) -> T:
    """Run one stage with a deadline per attempt, retrying only retryable failures."""
    delay = settings.backoff
    for attempt in range(1, settings.attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                return await call()
        except TimeoutError:
            error: GenerationError = StageTimeout(f"{stage} took longer than {timeout:g}s", stage=stage)
        except GenerationError as exc:
            error = exc
            error.stage = error.stage or stage
        if not error.retryable or attempt == settings.attempts:
            raise error
        log.warning("retrying stage", extra={"stage": stage, "attempt": attempt, "error": error.message})
        await asyncio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        images=a.images + b.images,
        cost=a.cost + b.cost,
    )


async def generate(
    provider: Provider, request: GenerationRequest, settings: PipelineSettings = PipelineSettings()
) -> GeneratedImage:
    timings: dict[str, float] = {}
    usage = Usage()

    started = time.perf_counter()
    try:
        enhanced, spent = await _staged("enhance", lambda: provider.enhance(request), settings.enhance_timeout, settings)
        usage = _add(usage, spent)
    except GenerationError as exc:
        if not exc.retryable:
            raise
        log.warning("enhancement failed, using offline rules", extra={"error": exc.message})
        enhanced = enhance_offline(request)
    timings["enhance"] = time.perf_counter() - started

    started = time.perf_counter()
    synthesis = await _staged(
        "synthesize", lambda: provider.synthesize(request, enhanced), settings.synthesize_timeout, settings
    )
    usage = _add(usage, synthesis.usage)
    timings["synthesize"] = time.perf_counter() - started
    try:
        header = pyvips.Image.new_from_buffer(synthesis.data, "")
        width, height = header.width, header.height
    except pyvips.Error as exc:
        raise ProviderUnavailable("provider returned an undecodable image", stage="synthesize", detail=str(exc)) from exc

    started = time.perf_counter()
    try:
        analysis, spent = await _staged(
            "analyze",
            lambda: provider.analyze(synthesis.data, synthesis.mime, request.prompt),
            settings.analyze_timeout,
            settings,
        )
        usage = _add(usage, spent)
    except GenerationError as exc:
        log.warning("analysis failed, using offline analysis", extra={"error": exc.message})
        analysis = await asyncio.to_thread(analyze_offline, synthesis.data, request.prompt)
    timings["analyze"] = time.perf_counter() - started

    return GeneratedImage(
        data=synthesis.data,
        mime=synthesis.mime,
        width=width,
        height=height,
        prompt=request.prompt,
        enhanced_prompt=enhanced,
        analysis=analysis,
        provider=provider.name,
        model=synthesis.model,
        offline=provider.offline,
        usage=usage,
        timings=timings,
    )
