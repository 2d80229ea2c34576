"""enhance -> synthesize -> analyze, each stage bounded in time and retried when it may help.

The pipeline owns the policy (deadlines, retries, fallbacks, timing); providers
only talk to their model and translate its failures into `generation.errors`.
Enhancement and analysis are conveniences: when they fail for any reason other
than the prompt itself, the pipeline falls back to the offline rules rather
than losing an image the user is already paying for. Synthesis failing is the
caller's error, typed so it can answer 422, 429 or 503.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import msgspec
import pyvips

from generation.analysis import analyze_offline, in_a_corner, with_flat_centred
from generation.enhance import enhance_offline
from generation.errors import GenerationError, PromptRejected, ProviderMisconfigured, ProviderUnavailable, StageTimeout
from generation.models import Analysis, ExtensionRequest, FocalPoint, GeneratedImage, GenerationRequest, Usage, placement
from generation.providers.base import Extender, Provider, Synthesis

__all__ = ["PipelineSettings", "Progress", "StageEvent", "can_extend", "describe", "extend", "generate"]

log = logging.getLogger("promptpix.generation")
T = TypeVar("T")


class PipelineSettings(msgspec.Struct, frozen=True, kw_only=True):
    enhance_timeout: float = 20.0
    synthesize_timeout: float = 90.0
    analyze_timeout: float = 20.0
    """Deadline of one attempt of each stage, in seconds."""
    attempts: int = 3
    """Tries per stage, the first included; 1 disables retries."""
    backoff: float = 0.5
    """First retry delay in seconds; doubles each attempt, with jitter, up to `max_backoff`."""
    max_backoff: float = 8.0
    max_retry_wait: float = 10.0
    """Longest provider `Retry-After` we sleep through; a longer one gives up at once,
    passing the provider's figure on to the caller."""


class StageEvent(msgspec.Struct, frozen=True):
    """What a progress listener hears: a stage starting, finishing, retrying or falling back."""

    stage: str
    status: Literal["start", "done", "retry", "fallback"]
    seconds: float = 0.0
    """Stage duration (done) or the wait before the next attempt (retry)."""
    attempt: int = 0
    message: str = ""


Progress = Callable[[StageEvent], None]


def _ignore(event: StageEvent) -> None:
    pass


def _retry_delay(error: GenerationError, attempt: int, settings: PipelineSettings) -> float | None:
    """Seconds to wait before the next attempt, or None to give up now."""
    if not error.retryable or attempt >= settings.attempts:
        return None
    if error.retry_after is not None and error.retry_after > settings.max_retry_wait:
        return None
    backoff = min(settings.max_backoff, settings.backoff * 2 ** (attempt - 1))
    backoff *= random.uniform(0.5, 1.0)  # jitter: workers that failed together retry apart
    return max(backoff, error.retry_after or 0.0)


async def _staged(
    stage: str, call: Callable[[], Awaitable[T]], timeout: float, settings: PipelineSettings, progress: Progress
) -> T:
    """Run one stage with a deadline per attempt, retrying only retryable failures."""
    attempt = 0
    while True:
        attempt += 1
        try:
            async with asyncio.timeout(timeout):
                return await call()
        except TimeoutError:
            error: GenerationError = StageTimeout(f"{stage} took longer than {timeout:g}s", stage=stage)
        except GenerationError as exc:
            error = exc
            error.stage = error.stage or stage
        delay = _retry_delay(error, attempt, settings)
        if delay is None:
            raise error
        log.warning("retrying stage", extra={"stage": stage, "attempt": attempt, "error": error.message, "delay": delay})
        progress(StageEvent(stage, "retry", delay, attempt, error.message))
        await asyncio.sleep(delay)


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        images=a.images + b.images,
        cost=a.cost + b.cost,
    )


def _size(synthesis: Synthesis) -> tuple[int, int]:
    """Width and height from the header; an image we cannot decode is the provider's failure."""
    try:
        header = pyvips.Image.new_from_buffer(synthesis.data, "")
    except pyvips.Error as exc:
        raise ProviderUnavailable("provider returned an undecodable image", detail=str(exc)) from exc
    return header.width, header.height


class _Run:
    """One pipeline run: the request, the policy, and what the stages spent."""

    def __init__(self, provider: Provider, request: GenerationRequest, settings: PipelineSettings, progress: Progress):
        self.provider, self.request, self.settings, self.progress = provider, request, settings, progress
        self.usage = Usage()
        self.timings: dict[str, float] = {}

    async def stage(self, name: str, call: Callable[[], Awaitable[tuple[T, Usage]]], timeout: float) -> T:
        self.progress(StageEvent(name, "start"))
        started = time.perf_counter()
        try:
            value, spent = await _staged(name, call, timeout, self.settings, self.progress)
        finally:
            self.timings[name] = time.perf_counter() - started
        self.usage = _add(self.usage, spent)
        self.progress(StageEvent(name, "done", self.timings[name]))
        return value

    def fell_back(self, name: str, error: GenerationError, started: float) -> None:
        log.warning("stage failed, using offline rules", extra={"stage": name, "error": error.message})
        self.timings[name] = time.perf_counter() - started
        self.progress(StageEvent(name, "fallback", self.timings[name], message=error.message))

    async def enhance(self) -> str:
        started = time.perf_counter()
        try:
            return await self.stage("enhance", lambda: self.provider.enhance(self.request), self.settings.enhance_timeout)
        except PromptRejected:
            raise  # a refused prompt will not be drawn either: fail before paying for synthesis
        except GenerationError as exc:
            self.fell_back("enhance", exc, started)
            return enhance_offline(self.request)

    async def synthesize(self, prompt: str) -> tuple[Synthesis, int, int]:
        async def attempt() -> tuple[tuple[Synthesis, int, int], Usage]:
            synthesis = await self.provider.synthesize(self.request, prompt)
            return (synthesis, *_size(synthesis)), synthesis.usage

        return await self.stage("synthesize", attempt, self.settings.synthesize_timeout)

    async def analyze(self, synthesis: Synthesis, enhanced: str) -> Analysis:
        """A model is told what was drawn (the enhanced prompt); the offline rules take their tags and alt
        text from the words of the prompt as written, which the enhancer's framing words would only dilute."""
        started = time.perf_counter()
        data, mime = synthesis.data, synthesis.mime
        told = self.request.prompt if self.provider.offline else enhanced
        try:
            analysis = await self.stage("analyze", lambda: self.provider.analyze(data, mime, told), self.settings.analyze_timeout)
        except GenerationError as exc:
            analysis = await asyncio.to_thread(analyze_offline, data, self.request.prompt)
            self.fell_back("analyze", exc, started)
            return analysis
        return await _flat_centred(analysis, data)


async def _flat_centred(analysis: Analysis, data: bytes) -> Analysis:
    """The model's analysis, with a corner focal point on a featureless image moved to its centre (`with_flat_centred`)."""
    if not in_a_corner(analysis.focal_point):
        return analysis
    centred: Analysis = await asyncio.to_thread(with_flat_centred, analysis, data)
    return centred


async def generate(
    provider: Provider,
    request: GenerationRequest,
    settings: PipelineSettings = PipelineSettings(),
    progress: Progress = _ignore,
) -> GeneratedImage:
    run = _Run(provider, request, settings, progress)
    enhanced = await run.enhance()
    synthesis, width, height = await run.synthesize(enhanced)
    analysis = await run.analyze(synthesis, enhanced)
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
        usage=run.usage,
        timings=run.timings,
    )


async def describe(
    provider: Provider, data: bytes, mime: str, settings: PipelineSettings = PipelineSettings(), prompt: str = ""
) -> tuple[Analysis, Usage]:
    """Focal point, alt text, tags and colours of an image the pipeline did not draw (an upload).

    The provider's vision model, bounded and retried like the analyze stage of
    `generate`; an offline provider, or a failure, gives the offline analysis
    (libvips attention, no words) and no usage.
    """
    if provider.offline:
        return await asyncio.to_thread(analyze_offline, data, prompt), Usage()
    try:
        analysis, usage = await _staged("analyze", lambda: provider.analyze(data, mime, prompt), settings.analyze_timeout, settings, _ignore)
        return await _flat_centred(analysis, data), usage
    except GenerationError as exc:
        log.warning("upload analysis failed, using offline rules", extra={"error": exc.message})
        return await asyncio.to_thread(analyze_offline, data, prompt), Usage()


def can_extend(provider: Provider) -> bool:
    """Whether the provider can extend an image to another aspect (outpainting)."""
    if not isinstance(provider, Extender):
        return False
    inner = getattr(provider, "inner", None)  # a wrapper (DelayedProvider) extends only if what it wraps does
    return inner is None or can_extend(inner)


async def extend(
    provider: Provider,
    request: ExtensionRequest,
    focal: FocalPoint,
    settings: PipelineSettings = PipelineSettings(),
) -> GeneratedImage:
    """The image extended to `request.aspect_class`, bounded and retried like synthesis.

    No enhancement and no analysis: the scene is the image's own, so its focal
    point (`focal`, in the image's fractions) is carried over to where the image
    sits on the new canvas, and the caller keeps its alt text and tags.
    """
    if not isinstance(provider, Extender):
        raise ProviderMisconfigured(f"the {provider.name} provider cannot extend images", stage="extend")
    timings: dict[str, float] = {}
    started = time.perf_counter()

    async def attempt() -> tuple[Synthesis, int, int]:
        synthesis = await provider.extend(request)
        return synthesis, *_size(synthesis)

    synthesis, width, height = await _staged("extend", attempt, settings.synthesize_timeout, settings, _ignore)
    timings["extend"] = time.perf_counter() - started
    left, top, w, h = placement(request.width, request.height, width, height)
    moved = FocalPoint.clamped((left + focal.x * w) / width, (top + focal.y * h) / height)
    return GeneratedImage(
        data=synthesis.data,
        mime=synthesis.mime,
        width=width,
        height=height,
        prompt=request.prompt,
        enhanced_prompt=request.prompt,
        analysis=Analysis(focal_point=moved),
        provider=provider.name,
        model=synthesis.model,
        offline=provider.offline,
        usage=synthesis.usage,
        timings=timings,
    )
