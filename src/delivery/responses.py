"""Image responses: the headers that let nginx and Cloudflare cache them, and error images."""

from __future__ import annotations

import pyvips
from litestar import Request, Response

from delivery.cache import Variant

__all__ = ["IMMUTABLE", "NO_STORE", "error_image", "etag_matches", "image_response", "not_modified", "server_timing", "wants_image"]

IMMUTABLE = "public, max-age=31536000, immutable"
NO_STORE = "no-store"
_COMMON = {"X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*", "Timing-Allow-Origin": "*"}
"""Images are public: any page may draw them on a canvas and read their Server-Timing."""


def server_timing(timings: dict[str, float]) -> str:
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in timings.items())


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == etag for candidate in header.split(","))


def image_response(
    request: Request, variant: Variant, *, cache_status: str, cache_control: str, timings: dict[str, float]
) -> Response[bytes]:
    headers = {
        **_COMMON,
        "Cache-Control": cache_control,
        "ETag": variant.etag,
        "X-Cache-Status": cache_status,
        "Server-Timing": server_timing(timings),
    }
    if variant.vary_accept:
        headers["Vary"] = "Accept"
    if etag_matches(request.headers.get("if-none-match"), variant.etag):
        return Response(b"", status_code=304, headers=headers, media_type=variant.mime)
    return Response(variant.data, status_code=200, headers=headers, media_type=variant.mime)


def not_modified(etag: str, *, cache_control: str, vary_accept: bool) -> Response[bytes]:
    """304 for a client that holds this variant, answered before any transform."""
    headers = {**_COMMON, "Cache-Control": cache_control, "ETag": etag, "X-Cache-Status": "HIT"}
    if vary_accept:
        headers["Vary"] = "Accept"
    return Response(b"", status_code=304, headers=headers)


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
