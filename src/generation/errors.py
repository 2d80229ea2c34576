"""Typed failures, so a caller can tell a bad prompt from a provider outage.

Each error says whether retrying can help; the delivery layer maps them to
HTTP statuses (bad prompt 422, provider over its limit 429, provider down 503)
by class, without reading their text:

- `PromptRejected` (and `NoImage`): the prompt's fault, 422;
- `ProviderRateLimited`: over the provider's quota, 429 with `retry_after`;
- `ProviderUnavailable` (and `StageTimeout`, `ProviderMisconfigured`,
  `MalformedResponse`): the provider's or our deployment's fault, 503.
"""

from __future__ import annotations

__all__ = [
    "GenerationError",
    "MalformedResponse",
    "NoImage",
    "PromptRejected",
    "ProviderMisconfigured",
    "ProviderRateLimited",
    "ProviderUnavailable",
    "StageTimeout",
]


class GenerationError(Exception):
    retryable: bool = False

    def __init__(
        self, message: str, *, stage: str = "", detail: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.detail = detail
        self.retry_after = retry_after
        """Seconds the provider asked us to wait before trying again, when it said."""


class PromptRejected(GenerationError):
    """The provider refused this prompt (safety block, invalid request for it)."""


class NoImage(PromptRejected):
    """The model answered without an image. Often transient, so worth a retry;
    when it persists it is about the prompt, hence a `PromptRejected`."""

    retryable = True


class ProviderRateLimited(GenerationError):
    """The provider says we are over its quota; retry later."""

    retryable = True


class ProviderUnavailable(GenerationError):
    """The provider failed (5xx, network, undecodable image) and may recover."""

    retryable = True


class StageTimeout(ProviderUnavailable):
    """A stage ran past its deadline."""


class ProviderMisconfigured(ProviderUnavailable):
    """Our side is wrong (bad key, unknown model, no permission): retrying cannot help,
    and the user's prompt is not to blame."""

    retryable = False


class MalformedResponse(ProviderUnavailable):
    """The model's structured answer did not match its schema. Not retried: the
    pipeline falls back to the offline rules for the stages that allow it."""

    retryable = False
