"""Image responses: the headers that let nginx and Cloudflare cache them, and error images.

Image responses are the hot path (a cache hit is nothing else), so they are
sent as a ready-made ASGI response with pre-encoded headers rather than a
`litestar.Response`, which rebuilds and re-validates a header collection per
request; that halves the Python cost of a hit (bench/hotpath.py measures it).
"""

from __future__ import annotations

from urllib.parse import quote

import pyvips
from litestar import Request
from litestar.response.base import ASGIResponse
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from delivery.images.cache import Variant
from delivery.images.metadata import JSON_MIME, MetadataDocument

__all__ = [
    "ALIAS",
    "IMMUTABLE",
    "NO_STORE",
    "ImageResponse",
    "error_image",
    "etag_matches",
    "header_text",
    "image_response",
    "metadata_response",
    "not_modified",
    "redirect_to_location",
    "redirect_to_spelling",
    "server_timing",
    "wants_image",
]

IMMUTABLE = "public, max-age=31536000, immutable"
ALIAS = "public, max-age=60, stale-while-revalidate=86400"
"""What an alias (`@name`, or a `/g/` prompt naming one) may change to: short-lived, revalidated."""
NO_STORE = "no-store"
_COMMON = ((b"x-content-type-options", b"nosniff"), (b"access-control-allow-origin", b"*"), (b"timing-allow-origin", b"*"))
"""Images are public: any page may draw them on a canvas and read their Server-Timing."""
_VARY = (b"vary", b"Accept")


class ImageResponse(ASGIResponse):
    """Status, pre-encoded headers and a body, sent as two ASGI messages."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        self._start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": headers}
        self._body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}

    def add_headers(self, headers: list[tuple[bytes, bytes]]) -> ImageResponse:
        self._start["headers"] = [*self._start["headers"], *headers]
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(self._start)
        if scope.get("method") == "HEAD":  # the same headers, Content-Length included, and no body
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send(self._body)


def header_text(text: str) -> str:
    """`text` safe for a header value: printable ASCII kept, anything else (non-ASCII, CR, LF, NUL) escaped as `\\xNN`.

    Messages can quote what a client sent; a raw byte of it in a header would
    be refused by the server (a 500) or end the response early.
    """
    return "".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode("ascii") for c in text)


def server_timing(timings: dict[str, float]) -> str:
    """The timings as a header; never called with none (an empty `Server-Timing` is not sent)."""
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in timings.items())


def redirect_to_spelling(path: str, spelled: str) -> ImageResponse:
    """301 to the one spelling of this query (`params.canonical_spelling`), cacheable for a year like the image.

    `path` is the request's decoded path; it is percent-encoded again here.
    """
    path = quote(path, safe="/@:!$&'()*+,;=-._~")
    return redirect_to_location(f"{path}?{spelled}" if spelled else path)


def redirect_to_location(location: str) -> ImageResponse:
    """301 to `location` (already percent-encoded), cacheable for a year like the image."""
    headers = [*_COMMON, (b"cache-control", IMMUTABLE.encode()), (b"location", location.encode("latin-1")), (b"content-length", b"0")]
    return ImageResponse(301, headers)


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == etag for candidate in header.split(","))


def _headers(etag: str, cache_control: str, cache_status: str, vary_accept: bool) -> list[tuple[bytes, bytes]]:
    headers = [*_COMMON, (b"cache-control", cache_control.encode()), (b"etag", etag.encode()), (b"x-cache-status", cache_status.encode())]
    if vary_accept:
        headers.append(_VARY)
    return headers


def image_response(
    request: Request, variant: Variant, *, cache_status: str, cache_control: str, timings: dict[str, float]
) -> ImageResponse:
    headers = _headers(variant.etag, cache_control, cache_status, variant.vary_accept)
    if timings:
        headers.append((b"server-timing", server_timing(timings).encode()))
    if etag_matches(request.headers.get("if-none-match"), variant.etag):
        return ImageResponse(304, headers)
    headers += [(b"content-type", variant.mime.encode()), (b"content-length", str(len(variant.data)).encode())]
    return ImageResponse(200, headers, variant.data)


def metadata_response(request: Request, document: MetadataDocument, *, cache_status: str, cache_control: str) -> ImageResponse:
    """`fm=json`: the asset's metadata with the headers its image would have (a 304 when the ETag matches)."""
    headers = _headers(document.etag, cache_control, cache_status, vary_accept=False)
    if etag_matches(request.headers.get("if-none-match"), document.etag):
        return ImageResponse(304, headers)
    headers += [(b"content-type", JSON_MIME.encode()), (b"content-length", str(len(document.body)).encode())]
    return ImageResponse(200, headers, document.body)


def headers_only(etag: str, mime: str, *, cache_control: str, cache_status: str, vary_accept: bool) -> ImageResponse:
    """`HEAD` of a variant not made yet: its headers without making it, so no Content-Length (RFC 9110 allows that)."""
    return ImageResponse(200, [*_headers(etag, cache_control, cache_status, vary_accept), (b"content-type", mime.encode())])


def not_modified(etag: str, *, cache_control: str, vary_accept: bool) -> ImageResponse:
    """304 for a client that holds this variant, answered before any transform."""
    return ImageResponse(304, _headers(etag, cache_control, "HIT", vary_accept))


def wants_image(request: Request) -> bool:
    """An `<img>` asks for image/* or */*; a client that asks only for JSON gets problem details."""
    accept = request.headers.get("accept", "*/*")
    return "image/" in accept or "*/*" in accept


def error_image(status: int, cache: dict[int, bytes]) -> bytes:
    """A small grey PNG showing the status code, made once per status per process."""
    if status not in cache:
        text = pyvips.Image.text(f"<b>{status}</b>", dpi=144)
        canvas = pyvips.Image.black(96, 48, bands=3) + [200, 200, 200]
        x, y = (96 - text.width) // 2, (48 - text.height) // 2
        ink = text.embed(x, y, 96, 48).ifthenelse([90, 90, 90], canvas, blend=True)
        cache[status] = ink.cast("uchar").pngsave_buffer(compression=9, keep="none")
    return cache[status]
