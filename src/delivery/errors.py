"""What can go wrong, named by what went wrong; mapped to responses in one place (app.py).

The rule: code raises the error that says what happened (`UnknownAsset`,
`ExpiredLink`, `SourceTooLarge`), where that fact is known, and catches it by
that name. Nothing translates one of these into another, and nothing branches
on message text. A query that finds no row returns None; its caller knows what
absence means there and raises accordingly.

Each class below carries its status, its public message (safe to show anyone;
some take the offending value, so the raise site passes the full text), and
whether it is ours to report (logged at error level) rather than the client's.
`detail` is internal: it reaches the logs only. Failures of the generation
package (`generation.GenerationError`) keep their own classes up to the same
handler in app.py, which shows them as the three at the end of the table
(`public_error`). docs/security.md lists every name with its status.
"""

from __future__ import annotations

import math
from typing import ClassVar

from generation import GenerationError, PromptBlocked, PromptRejected, ProviderRateLimited

__all__ = [
    "AdminScopeRefused",
    "BadSignature",
    "DatabaseUnavailable",
    "EmbeddingUnavailable",
    "EmptyPreset",
    "ExpiredLink",
    "ExpiryOnUnsignedLink",
    "ExtensionUnsupported",
    "GenerationPending",
    "GenerationUnavailable",
    "IdempotencyKeyBusy",
    "IdempotencyKeyReused",
    "InsufficientCredits",
    "InvalidApiKey",
    "InvalidCursor",
    "InvalidField",
    "InvalidName",
    "InvalidParam",
    "InvalidText",
    "KeyCannotSign",
    "KeyNotForLinks",
    "LinkKeyUnusable",
    "MalformedApiKey",
    "MalformedExpiry",
    "MasterMissing",
    "MessageTooLarge",
    "MissingBearer",
    "MissingLinkKey",
    "MissingScope",
    "NoBillingAccount",
    "NoEmbedding",
    "NoLinkKey",
    "NoSigningSecret",
    "OriginNotAllowed",
    "OtherProject",
    "PromptRefused",
    "ProviderOverLimit",
    "PublishableBearer",
    "RateLimited",
    "ReferenceMissing",
    "RepeatedParam",
    "ReservedName",
    "RetiredKeyRotation",
    "RevokedKey",
    "ServiceError",
    "SignedLinksOnly",
    "SourceTooLarge",
    "SourceTooManyFrames",
    "SourceTooManyPixels",
    "SourceUnreadable",
    "StorageUnavailable",
    "TooManyReferences",
    "TransformTimedOut",
    "UndefinedFlow",
    "UndefinedName",
    "UndefinedPreset",
    "UndefinedStyle",
    "UnencodableOutput",
    "UnknownApiKey",
    "UnknownAsset",
    "UnknownBillingAccount",
    "UnknownCatalogueModel",
    "UnknownFlow",
    "UnknownKey",
    "UnknownModel",
    "UnknownName",
    "UnknownOrganization",
    "UnknownPreset",
    "UnknownProject",
    "UnknownSource",
    "UnknownStyle",
    "UnsortedParams",
    "UnsupportedSourceFormat",
    "UploadUnreadable",
    "problem_details",
    "public_error",
]

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
"""The problem-details `title` of each status."""


class ServiceError(Exception):
    status: ClassVar[int] = 500
    message: str = "internal error"
    """The default public message; a raise site passes its own when the message names a value."""
    report: ClassVar[bool] = False
    """Whether the error is ours (log at error level) rather than the client's."""

    def __init__(self, message: str | None = None, *, detail: str = "", retry_after: int | None = None) -> None:
        self.message = message or type(self).message
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def title(self) -> str:
        return TITLES[self.status]


class Unavailable(ServiceError):
    """Ours, and worth retrying: a dependency is down or over capacity."""

    status, report = 503, True


class EmbeddingUnavailable(Unavailable):
    """The next page of a semantic search needs its query embedded, and the embedding model cannot answer."""

    message, report = "semantic search is unavailable right now, retry shortly", False


# 400: the request itself is wrong.
class InvalidParam(ServiceError):
    """A query parameter or body field is malformed, out of range, unknown or repeated."""

    status, message = 400, "invalid parameter"


class InvalidText(ServiceError):
    """A path, query or body carries a control character or bytes that are not UTF-8, or JSON nested too deep."""

    status, message = 400, "the request contains characters that are not allowed"


class UndefinedPreset(ServiceError):
    status, message = 400, "`preset` is not defined"  # raised with the name: "`preset` 'x' is not defined"


class UnknownModel(ServiceError):
    """`model=` names a model the provider does not offer (the provider's own wording)."""

    status, message = 400, "unknown model"


class InvalidCursor(ServiceError):
    status, message = 400, "`cursor` is not one this API returned"


class ExpiryOnUnsignedLink(ServiceError):
    status, message = 400, "`exp` only applies to signed links"


# 401: who is asking is not established.
class MissingLinkKey(ServiceError):
    status, message = 401, "`key` is required on generation links"


class MissingBearer(ServiceError):
    status, message = 401, "send a secret key as `Authorization: Bearer pp_sk_…`"


class MalformedApiKey(ServiceError):
    status, message = 401, "malformed API key"


class InvalidApiKey(ServiceError):
    """A bearer key with an unknown id, a wrong secret, revoked or expired: one message, so probing learns nothing."""

    status, message = 401, "unknown, revoked or expired API key"


# 402: the organisation cannot pay for a new generation.
class NoBillingAccount(ServiceError):
    status, message = 402, "this organisation has no billing account"


class InsufficientCredits(ServiceError):
    status, message = 402, "this organisation is out of credits for new images; cached images still work"


# 403: known, and not allowed.
class UnknownKey(ServiceError):
    """A link names a key id that does not exist (or belongs to another project)."""

    status, message = 403, "unknown or revoked key"


class RevokedKey(ServiceError):
    """A link names a revoked or expired key: the same message as an unknown one, so probing learns nothing."""

    status, message = 403, "unknown or revoked key"


class KeyNotForLinks(ServiceError):
    status, message = 403, "links name a publishable key with the `generate` scope"


class MalformedExpiry(ServiceError):
    status, message = 403, "`exp` must be unix seconds"


class BadSignature(ServiceError):
    status, message = 403, "the link's signature does not match"


class ExpiredLink(ServiceError):
    status, message = 403, "the link has expired"


class RepeatedParam(ServiceError):
    status, message = 403, "a signed link names a parameter more than once"


class UnsortedParams(ServiceError):
    status, message = 403, "a signed link's parameters must be in the order they were signed (sorted by name)"


class SignedLinksOnly(ServiceError):
    status, message = 403, "this project serves signed links only"


class OriginNotAllowed(ServiceError):
    status, message = 403, "this page's origin may not use unsigned links for this project"


class NoLinkKey(ServiceError):
    status, message = 403, "this project has no live publishable key to sign with"


class LinkKeyUnusable(ServiceError):
    status, message = 403, "links are signed with a live publishable key of the same project"


class NoSigningSecret(ServiceError):
    status, message = 403, "this key has no live signing secret; rotate one first"


class KeyCannotSign(ServiceError):
    status, message = 403, "only publishable keys sign links"


class RetiredKeyRotation(ServiceError):
    status, message = 403, "a revoked or expired key cannot be rotated"


class PublishableBearer(ServiceError):
    status, message = 403, "publishable keys cannot call the API; use a secret key"


class OtherProject(ServiceError):
    status, message = 403, "this key belongs to another project"


class MissingScope(ServiceError):
    status, message = 403, "this key lacks the scope"  # raised with the scope's name


class AdminScopeRefused(ServiceError):
    """Only the operator CLI (or a key that already holds `admin`) grants the `admin` scope."""

    status, message = 403, "the `admin` scope is granted only by the operator (`promptpix keys create --scope admin`)"


class ConsoleSignInRequired(ServiceError):
    """A console page without a live session cookie (missing, forged, expired or signed out)."""

    status, message = 401, "sign in to the console with a link from `promptpix console-link`"


class CrossSiteForm(ServiceError):
    """A console form post without the signed-in session's CSRF token, or from another site's page."""

    status, message = 403, "this form did not come from the console; reload the page and try again"


# 404: a path names something that does not exist.
class UnknownProject(ServiceError):
    status, message = 404, "project not found"


class UnknownAsset(ServiceError):
    status, message = 404, "asset not found"


class UnknownSource(ServiceError):
    """A `/cdn-cgi/image/{options}/{source}` whose source is not an image path of this service."""

    status, message = 404, "the source is not an image URL of this service (/i/{id}, /i/{project}/@{name}, /g/{project})"


class MasterMissing(ServiceError):
    """The asset's row exists but its stored object does not."""

    status, message = 404, "asset master is missing"


class UnknownName(ServiceError):
    status, message = 404, "no asset has this name"  # raised with the name: "no asset is named @logo"


class UnknownCatalogueModel(ServiceError):
    status, message = 404, "no model of that name is in the catalogue"  # raised with the name


class UnknownStyle(ServiceError):
    status, message = 404, "no style has this name"  # raised with the name


class UnknownPreset(ServiceError):
    status, message = 404, "no preset has this name"  # raised with the name


class UnknownFlow(ServiceError):
    status, message = 404, "flow not found"


class UnknownJob(ServiceError):
    status, message = 404, "job not found"


class UnknownWebhook(ServiceError):
    status, message = 404, "webhook endpoint not found"


class UnknownWebhookMessage(ServiceError):
    status, message = 404, "webhook delivery not found"


class UnknownOrganization(ServiceError):
    status, message = 404, "organization not found"


class UnknownBillingAccount(ServiceError):
    """Reading the account of an organisation that has none (paying without one is `NoBillingAccount`, 402)."""

    status, message = 404, "this organisation has no billing account"


class UnknownApiKey(ServiceError):
    """A `/v1` path names a key id that this project does not have."""

    status, message = 404, "unknown API key"


# 409
class JobNotCancellable(ServiceError):
    """Only a queued job can be cancelled: a worker has taken it, or it has finished."""

    status, message = 409, "only a queued job can be cancelled"  # raised naming the job's status


class WebhookUrlRefused(ServiceError):
    """An endpoint URL that is malformed, not http(s), or resolves to an address webhooks may not reach (SSRF guard)."""

    status, message = 422, "this webhook URL is not allowed"  # raised with the reason


class IdempotencyKeyBusy(ServiceError):
    status, message = 409, "a request with this Idempotency-Key is still running; retry shortly"


class NoEmbedding(ServiceError):
    """Similar images need the asset's embedding (semantic search on, and a description to embed)."""

    status, message = 409, "this asset has no embedding yet; it is embedded shortly after it is stored, analysed or edited"


class SlugTaken(ServiceError):
    """Project slugs are unique across the service: they are the `{project}` of `/g/` links."""

    status, message = 409, "this project slug is taken"  # raised with the slug


# 413, 415, 422: the source image cannot be used.
class SourceTooLarge(ServiceError):
    status, message = 413, "source image is too large"  # raised with the limit in bytes


class MessageTooLarge(ServiceError):
    """An `/mcp` request body over the limit: MCP's transport would otherwise buffer any size."""

    status, message = 413, "the MCP message is too large"  # raised with the limit in bytes


class UnsupportedSourceFormat(ServiceError):
    status, message = 415, "source is not a supported image (JPEG, PNG, WebP, GIF, HEIF/AVIF)"


class SourceUnreadable(ServiceError):
    """A decoder's complaint about a master, from either library: one message, the cause kept as detail."""

    status, message = 422, "source image is corrupt or truncated"


class UploadUnreadable(ServiceError):
    status, message = 422, "the image is corrupt or truncated"


class SourceTooManyPixels(ServiceError):
    status, message = 422, "source image has too many pixels"


class SourceTooManyFrames(ServiceError):
    status, message = 422, "source image has too many frames"  # raised with the limit


class UnencodableOutput(ServiceError):
    status, message = 422, "the image cannot be encoded in this format"  # raised with its size and format


# 422: a well-formed request the service cannot act on.
class InvalidField(ServiceError):
    status, message = 422, "invalid field"


class InvalidName(ServiceError):
    status, message = 422, "not a valid name: use a-z, 0-9, `_` and `-`, at most 64 characters"


class ReservedName(ServiceError):
    status, message = 422, "this name is reserved"


class EmptyPreset(ServiceError):
    status, message = 422, "a preset must set at least one parameter to something other than its default"


class ExtensionUnsupported(ServiceError):
    """`fill=gen` asked a provider that cannot extend images (outpainting) to do it."""

    status, message = 422, "this deployment's image model cannot extend images; use fill=blur or fill=solid"


class UndefinedStyle(ServiceError):
    status, message = 422, "unknown style"  # raised with the name: "unknown style `ink`"


class UndefinedName(ServiceError):
    status, message = 422, "no asset has this name"  # raised with the names, in UnknownName's words


class UndefinedFlow(ServiceError):
    status, message = 422, "unknown flow"  # raised with the id


class TooManyReferences(ServiceError):
    status, message = 422, "the prompt references too many named assets"


class IdempotencyKeyReused(ServiceError):
    status, message = 422, "this Idempotency-Key was already used with a different request"


# 429
class RateLimited(ServiceError):
    status, message = 429, "too many new generations a minute"  # raised with who and the limit, and Retry-After


# 503: ours; retry later.
class DatabaseUnavailable(Unavailable):
    message = "the database is unavailable right now"

    def __init__(self, *, detail: str = "") -> None:
        super().__init__(detail=detail, retry_after=5)


class StorageUnavailable(Unavailable):
    """The object store failed or cannot be reached."""

    message = "object storage is unavailable right now"

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail, retry_after=10)


class ReferenceMissing(Unavailable):
    """The object behind an `@name` in a prompt is missing: a storage fault, not the client's."""

    message = "the master of a referenced asset is missing"  # raised with the name


class ModelUnavailable(Unavailable):
    """A catalogue model's provider is not configured on this deployment."""

    message = "this model is not available right now"  # raised with the model and provider


class TransformTimedOut(Unavailable):
    """A transform ran past `PROMPTPIX_TRANSFORM_DEADLINE`; its libvips work was cancelled."""

    message, report = "making this image took too long; retry later", False  # raised with the deadline


class GenerationPending(Unavailable):
    """Another process holds the generation claim past the wait limit."""

    message = "this image is still being generated; retry shortly"


# What a generation failure shows the client, by its class in the generation package.
class PromptRefused(ServiceError):
    status, message = 422, "the provider refused this prompt"  # with the provider's reason


class PromptNotAllowed(ServiceError):
    status, message = 422, "this prompt is not allowed"  # with the policy's or the moderator's public reason


class ProviderOverLimit(ServiceError):
    status, message = 429, "the image provider is over its rate limit"


class GenerationUnavailable(Unavailable):
    message = "image generation is unavailable right now"


def public_error(exc: ServiceError | GenerationError) -> ServiceError:
    """The status and public message of a failure: ours as raised, generation's by class.

    The generation package names its failures by whose fault they are
    (generation.errors); this is the only place they meet HTTP statuses.
    """
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, PromptBlocked):
        return PromptNotAllowed(f"this prompt is not allowed: {exc.message}")
    if isinstance(exc, PromptRejected):
        return PromptRefused(f"the provider refused this prompt: {exc.message}")
    if isinstance(exc, ProviderRateLimited):
        return ProviderOverLimit(retry_after=math.ceil(exc.retry_after or 30))
    return GenerationUnavailable(detail=exc.message, retry_after=10)


def problem_details(status: int, title: str, detail: str) -> dict[str, object]:
    """The RFC 9457 body every JSON error carries (and an idempotent replay repeats)."""
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}
