"""Gemini's failures, translated into `generation.errors` by status and enum, never by text.

Two kinds reach us: HTTP errors the SDK raises (`ClientError` 4xx, `ServerError`
5xx, transport errors), and 200 answers that carry a refusal
(`promptFeedback.blockReason`, a candidate's `finishReason`) or no image.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pydantic
from google.genai import errors as genai_errors
from google.genai import types

from generation.errors import (
    GenerationError,
    NoImage,
    PromptRejected,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderUnavailable,
)

__all__ = ["TRANSPORT_ERRORS", "candidate_parts", "from_exception", "image_part", "retry_after", "text_of"]

try:  # the SDK prefers aiohttp when it is installed, httpx otherwise
    import aiohttp

    _AIOHTTP_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError,)
except ImportError:  # pragma: no cover - depends on the environment
    _AIOHTTP_ERRORS = ()

TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    genai_errors.APIError,
    genai_errors.UnknownApiResponseError,
    json.JSONDecodeError,  # a 200 whose body is not JSON (a proxy's error page) reaches us raw
    pydantic.ValidationError,
    httpx.HTTPError,
    OSError,
    *_AIOHTTP_ERRORS,
)
"""Everything a `generate_content` call raises that `from_exception` knows how to type."""

_REFUSED = frozenset(
    {
        types.FinishReason.SAFETY,
        types.FinishReason.RECITATION,
        types.FinishReason.LANGUAGE,
        types.FinishReason.BLOCKLIST,
        types.FinishReason.PROHIBITED_CONTENT,
        types.FinishReason.SPII,
        types.FinishReason.IMAGE_SAFETY,
        types.FinishReason.IMAGE_PROHIBITED_CONTENT,
        types.FinishReason.IMAGE_RECITATION,
    }
)
_MISCONFIGURED_STATUS = frozenset({401, 403, 404})
_MISCONFIGURED_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "SERVICE_DISABLED"})


def _name(value: object) -> str:
    """An SDK enum's wire name (unknown values may arrive as plain strings)."""
    return str(getattr(value, "value", value))


def _details(exc: genai_errors.APIError) -> list[dict[str, Any]]:
    body = exc.details if isinstance(exc.details, dict) else {}
    details = body.get("error", body).get("details", [])
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _seconds(value: str) -> float | None:
    try:
        seconds = float(value.strip().removesuffix("s"))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def retry_after(exc: genai_errors.APIError) -> float | None:
    """From the `Retry-After` header, else Google's `RetryInfo.retryDelay` ("37s")."""
    headers = getattr(exc.response, "headers", None)
    header = headers.get("Retry-After") if headers is not None else None
    if header and (seconds := _seconds(header)) is not None:
        return seconds
    for detail in _details(exc):
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo") and "retryDelay" in detail:
            return _seconds(str(detail["retryDelay"]))
    return None


def _from_api_error(exc: genai_errors.APIError, stage: str) -> GenerationError:
    code = exc.code or 0
    detail = f"{code} {exc.status}: {exc.message}"
    if code == 429:
        return ProviderRateLimited("the provider is over its rate limit", stage=stage, detail=detail, retry_after=retry_after(exc))
    if code == 408 or code >= 500:
        return ProviderUnavailable(f"the provider failed ({code})", stage=stage, detail=detail)
    reasons = {str(d.get("reason", "")) for d in _details(exc)}
    if code in _MISCONFIGURED_STATUS or reasons & _MISCONFIGURED_REASONS:
        return ProviderMisconfigured(f"the provider refused our credentials or model ({code})", stage=stage, detail=detail)
    return PromptRejected(exc.message or f"the provider rejected the request ({code})", stage=stage, detail=detail)


def from_exception(exc: BaseException, stage: str) -> GenerationError:
    if isinstance(exc, genai_errors.APIError):
        return _from_api_error(exc, stage)
    if isinstance(exc, (genai_errors.UnknownApiResponseError, json.JSONDecodeError, pydantic.ValidationError)):
        return ProviderUnavailable("the provider sent an unreadable answer", stage=stage, detail=str(exc))
    return ProviderUnavailable("could not reach the provider", stage=stage, detail=f"{type(exc).__name__}: {exc}")


def candidate_parts(response: types.GenerateContentResponse, stage: str) -> list[types.Part]:
    """The first candidate's parts, after refusals are raised as `PromptRejected`."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise PromptRejected(f"the provider blocked this prompt ({_name(feedback.block_reason)})", stage=stage, detail=feedback.block_reason_message or "")
    candidate = response.candidates[0] if response.candidates else None
    if candidate is None:
        return []  # nothing to read: an empty image (retried) or a malformed answer (fallback)
    reason = candidate.finish_reason
    if reason in _REFUSED:
        raise PromptRejected(f"the provider refused this prompt ({_name(reason)})", stage=stage, detail=candidate.finish_message or "")
    return list(candidate.content.parts or []) if candidate.content else []


def image_part(parts: list[types.Part], response: types.GenerateContentResponse, stage: str) -> types.Blob:
    for part in parts:
        blob = part.inline_data
        # Thinking image models may send draft images marked as thoughts before the answer.
        if blob is not None and blob.data and (blob.mime_type or "").startswith("image/") and not part.thought:
            return blob
    candidate = response.candidates[0] if response.candidates else None
    reason = _name(candidate.finish_reason) if candidate and candidate.finish_reason else "none"
    raise NoImage(f"the model answered without an image (finish reason {reason})", stage=stage, detail=text_of(parts)[:500])


def text_of(parts: list[types.Part]) -> str:
    """The answer's text, without the model's thoughts."""
    return "".join(p.text for p in parts if p.text and not p.thought)
