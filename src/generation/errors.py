"""Typed failures, so a caller can tell a bad prompt from a provider outage.

Each error says whether retrying can help; the delivery layer maps them to
HTTP statuses (bad prompt 422, provider over its limit 429, provider down 503)
without reading their text.
"""

from __future__ import annotations

__all__ = [
    "GenerationError",
    "PromptRejected",
    "ProviderRateLimited",
    "ProviderUnavailable",
    "StageTimeout",
]


class GenerationError(Exception):
    retryable: bool = False

    def __init__(self, message: str, *, stage: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.detail = detail


class PromptRejected(GenerationError):
    """The provider refused this prompt (safety block, empty result for it)."""


class ProviderRateLimited(GenerationError):
    """The provider says we are over its quota; retry later."""

    retryable = True


class ProviderUnavailable(GenerationError):
    """The provider failed (5xx, network, malformed answer) and may recover."""

    retryable = True


class StageTimeout(ProviderUnavailable):
    """A stage ran past its deadline."""
