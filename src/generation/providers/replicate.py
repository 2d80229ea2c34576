"""Replicate's hosted image models through the official `replicate` client.

A prediction is created (a pinned `owner/name:version`, or an official model
by name), polled until it ends, and its first output URL downloaded with a
size and time limit. Replicate has no text model here, so enhancement and
analysis use the offline rules (the pipeline's fallbacks would too).

Errors are typed like Gemini's (generation.errors), by HTTP status and
prediction status, never by the API's prose, with one exception: a failed
prediction says *why* only in its `error` text, and a safety checker's refusal
(`NSFW`) is a refusal of the prompt, not an outage. Such an output is never
downloaded, so it can never be stored.

The client's transport retries GETs (polls, not the create) on 429/503 by
itself; those retries stay inside the pipeline's stage deadline.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import re
from typing import Any

import httpx
import replicate
from replicate.exceptions import ReplicateError

from generation.analysis import analyze_offline
from generation.enhance import enhance_offline
from generation.errors import (
    GenerationError,
    NoImage,
    PromptRejected,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderUnavailable,
    StageTimeout,
)
from generation.models import ASPECT_CLASSES, Analysis, GenerationRequest, Usage
from generation.providers.base import Synthesis
from generation.providers.replicate_settings import ReplicateSettings, inputs_for

__all__ = ["OutputTooLarge", "ReplicateProvider", "UnsafeOutput", "sniff_mime"]

_DONE = frozenset({"succeeded", "failed", "canceled"})
_UNSAFE = re.compile(r"nsfw|safety|unsafe", re.IGNORECASE)
_retry_after: contextvars.ContextVar[float | None] = contextvars.ContextVar("replicate_retry_after", default=None)


class UnsafeOutput(PromptRejected):
    """The model's safety checker flagged what it drew: nothing is downloaded or stored."""


class OutputTooLarge(ProviderUnavailable):
    """The output is over `max_output_bytes`: the provider's fault, and retrying would fetch the same."""

    retryable = False


class _RetryAfterTransport(httpx.AsyncHTTPTransport):
    """Remembers the Retry-After of a 429, which the client's ReplicateError does not carry."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if response.status_code == 429:
            _retry_after.set(_seconds(response.headers.get("retry-after")))
        return response


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def sniff_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _typed(exc: ReplicateError, stage: str) -> GenerationError:
    code = exc.status or 0
    detail = f"{code} {exc.title or ''}: {exc.detail or ''}".strip()
    if code == 429:
        return ProviderRateLimited("the provider is over its rate limit", stage=stage, detail=detail, retry_after=_retry_after.get())
    if code in (408,) or code >= 500:
        return ProviderUnavailable(f"the provider failed ({code})", stage=stage, detail=detail)
    if code in (401, 402, 403, 404):
        return ProviderMisconfigured(f"the provider refused our credentials or model ({code})", stage=stage, detail=detail)
    return PromptRejected(exc.detail or f"the provider rejected the request ({code})", stage=stage, detail=detail)


class ReplicateProvider:
    name = "replicate"
    offline = False

    def __init__(self, settings: ReplicateSettings) -> None:
        self.settings = settings
        self._client = replicate.Client(api_token=settings.api_token, base_url=settings.base_url, transport=_RetryAfterTransport())
        self._client.poll_interval = settings.poll_interval
        self._downloads = httpx.AsyncClient(timeout=settings.download_timeout, follow_redirects=True)

    def resolve_model(self, model: str | None) -> str:
        if model is None or model == self.settings.model:
            return self.settings.model
        raise ValueError(f"unknown model {model!r}; this deployment draws with {self.settings.model}")

    async def enhance(self, request: GenerationRequest) -> tuple[str, Usage]:
        return enhance_offline(request), Usage()

    def _input(self, request: GenerationRequest, prompt: str, model: str) -> dict[str, Any]:
        inputs = inputs_for(model)
        body: dict[str, Any] = {"prompt": prompt, **inputs.extra}
        if inputs.size == "width_height":
            body["width"], body["height"] = ASPECT_CLASSES[request.aspect_class]
        else:
            body["aspect_ratio"] = request.aspect_class
        if request.seed is not None:
            body["seed"] = request.seed
        if inputs.reference_input and request.references:
            if len(request.references) > inputs.max_references:
                raise PromptRejected(
                    f"{model} takes at most {inputs.max_references} reference image(s), the prompt has {len(request.references)}",
                    stage="synthesize",
                )
            reference = request.references[0]
            body[inputs.reference_input] = f"data:{reference.mime};base64,{base64.b64encode(reference.data).decode()}"
        elif request.references:
            raise PromptRejected(f"{model} takes no reference images", stage="synthesize")
        return body

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        model = request.model or self.settings.model  # the caller chose it (a catalogue entry or resolve_model)
        body = self._input(request, prompt, model)
        _retry_after.set(None)
        try:
            if ":" in model:
                prediction = await self._client.predictions.async_create(version=model.partition(":")[2], input=body)
            else:
                prediction = await self._client.models.predictions.async_create(model=model, input=body)
            try:
                while prediction.status not in _DONE:
                    await asyncio.sleep(self.settings.poll_interval)
                    await prediction.async_reload()
            except asyncio.CancelledError:
                # Past the stage deadline: stop paying for a prediction nobody will read.
                await asyncio.shield(self._cancel(prediction.id))
                raise
        except ReplicateError as exc:
            raise _typed(exc, "synthesize") from exc
        except httpx.TimeoutException as exc:
            raise StageTimeout("the provider did not answer in time", stage="synthesize", detail=str(exc)) from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("could not reach the provider", stage="synthesize", detail=f"{type(exc).__name__}: {exc}") from exc
        if prediction.status == "failed":
            error = str(prediction.error or "")
            if _UNSAFE.search(error):
                raise UnsafeOutput("the model's safety checker flagged the image", stage="synthesize", detail=error)
            raise ProviderUnavailable("the prediction failed", stage="synthesize", detail=error)
        if prediction.status == "canceled":
            raise ProviderUnavailable("the prediction was canceled", stage="synthesize")
        data = await self._download(prediction.output)
        mime = sniff_mime(data)
        if mime is None:
            raise ProviderUnavailable("the output is not a PNG, JPEG or WebP image", stage="synthesize")
        seconds = float((prediction.metrics or {}).get("predict_time") or 0.0)
        cost = self.settings.price_per_image + seconds * self.settings.price_per_second
        version = f"{prediction.model}:{prediction.version}" if prediction.model and prediction.version else model
        return Synthesis(data=data, mime=mime, model=version, usage=Usage(images=1, cost=round(cost, 8)))

    async def _cancel(self, prediction_id: str) -> None:
        with contextlib.suppress(ReplicateError, httpx.HTTPError):  # best effort: the prediction ends on its own
            await self._client.predictions.async_cancel(prediction_id)

    async def _download(self, output: object) -> bytes:
        url = output[0] if isinstance(output, list) and output else output
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise NoImage("the prediction succeeded without an image", stage="synthesize")
        limit = self.settings.max_output_bytes
        try:
            async with self._downloads.stream("GET", url) as response:
                if response.status_code != 200:
                    raise ProviderUnavailable(f"the output download failed ({response.status_code})", stage="synthesize")
                declared = int(response.headers.get("content-length") or 0)
                if declared > limit:
                    raise OutputTooLarge(f"the output is {declared} bytes, over the {limit} byte limit", stage="synthesize")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:  # a missing or false Content-Length
                        raise OutputTooLarge(f"the output is over the {limit} byte limit", stage="synthesize")
                    chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise StageTimeout("the output download timed out", stage="synthesize", detail=str(exc)) from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("could not download the output", stage="synthesize", detail=f"{type(exc).__name__}: {exc}") from exc
        return b"".join(chunks)

    async def analyze(self, data: bytes, mime: str, prompt: str) -> tuple[Analysis, Usage]:
        return await asyncio.to_thread(analyze_offline, data, prompt), Usage()

    async def aclose(self) -> None:
        await self._downloads.aclose()
        # The client has no close of its own; its lazily built httpx client is the only resource it holds.
        await self._client._async_client.aclose()
