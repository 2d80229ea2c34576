"""Errors that carry their HTTP meaning, mapped to responses in one place (app.py).

A `ServiceError` has a status, a public message safe to show anyone, and an
internal detail that only reaches the logs. Nothing branches on message text.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "PaymentRequired",
    "ServiceError",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMedia",
    "problem_details",
]


class ServiceError(Exception):
    status: int = 500
    title: str = "Internal Server Error"
    report: bool = True
    """Whether the error is ours (log at error level) rather than the client's."""

    def __init__(self, message: str | None = None, *, detail: str = "", retry_after: int | None = None) -> None:
        self.message = message or self.title
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(self.message)


class BadRequest(ServiceError):
    status, title, report = 400, "Bad Request", False


class Unauthorized(ServiceError):
    status, title, report = 401, "Unauthorized", False


class PaymentRequired(ServiceError):
    status, title, report = 402, "Payment Required", False


class Forbidden(ServiceError):
    status, title, report = 403, "Forbidden", False


class NotFound(ServiceError):
    status, title, report = 404, "Not Found", False


class Conflict(ServiceError):
    status, title, report = 409, "Conflict", False


class PayloadTooLarge(ServiceError):
    status, title, report = 413, "Payload Too Large", False


class UnsupportedMedia(ServiceError):
    status, title, report = 415, "Unsupported Media Type", False


class Unprocessable(ServiceError):
    status, title, report = 422, "Unprocessable Content", False

    @classmethod
    def unreadable_source(cls, exc: Exception) -> Unprocessable:
        """What a decoder's complaint about a master becomes, from either library: one message, the cause kept as detail."""
        return cls("source image is corrupt or truncated", detail=str(exc))


class TooManyRequests(ServiceError):
    status, title, report = 429, "Too Many Requests", False


class ServiceUnavailable(ServiceError):
    status, title, report = 503, "Service Unavailable", True


def problem_details(status: int, title: str, detail: str) -> dict[str, object]:
    """The RFC 9457 body every JSON error carries (and an idempotent replay repeats)."""
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}
