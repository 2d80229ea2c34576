"""Cheap checks before expensive work: format and dimensions from the header alone.

`new_from_buffer` reads only the header, so a 50000x50000 PNG of a few KB is
refused here without decoding a pixel.
"""

from __future__ import annotations

import msgspec
import pyvips

from delivery.errors import PayloadTooLarge, Unprocessable, UnsupportedMedia

__all__ = ["LOADERS", "Limits", "Source", "inspect_source"]

# Loader name -> the output format a request without `fm` gets.
LOADERS = {
    "jpegload_buffer": "jpg",
    "pngload_buffer": "png",
    "webpload_buffer": "webp",
    "gifload_buffer": "png",
    "heifload_buffer": "avif",
}


class Limits(msgspec.Struct, frozen=True):
    max_output_pixels: int = 40_000_000
    max_source_pixels: int = 100_000_000
    max_source_bytes: int = 50 * 1024 * 1024


class Source(msgspec.Struct, frozen=True):
    width: int
    """As displayed, after EXIF orientation."""
    height: int
    loader: str
    default_format: str
    has_alpha: bool


def inspect_source(data: bytes, limits: Limits) -> Source:
    if len(data) > limits.max_source_bytes:
        raise PayloadTooLarge(f"source image is larger than {limits.max_source_bytes} bytes")
    try:
        header = pyvips.Image.new_from_buffer(data, "", access="sequential")
        loader = header.get("vips-loader")
    except pyvips.Error as exc:
        raise UnsupportedMedia("source is not a supported image", detail=str(exc)) from exc
    if loader not in LOADERS:
        raise UnsupportedMedia(f"source format {loader.removesuffix('load_buffer')} is not supported")
    width, height = header.width, header.height
    if width * height > limits.max_source_pixels:
        raise Unprocessable(f"source image is larger than {limits.max_source_pixels} pixels")
    orientation = header.get("orientation") if header.get_typeof("orientation") else 1
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return Source(width=width, height=height, loader=loader, default_format=LOADERS[loader], has_alpha=bool(header.hasalpha()))
