"""`@name` reference images at the size the image model works at, not the master's.

A master may be 8000 px a side and tens of MB; the image models look at about
1024 px (Gemini's image models draw at 1024x1024, and scale larger inputs
down themselves), so sending the master costs upload time and request bytes
for nothing. References larger than `PROMPTPIX_REFERENCE_MAX_SIDE` are sent
downscaled (EXIF orientation applied), as JPEG, or as PNG when they have alpha;
smaller ones go as stored.
"""

from __future__ import annotations

import pyvips

__all__ = ["reference_for_model"]

_JPEG_QUALITY = 90
"""High enough that the model sees no artefacts the master does not have."""


def reference_for_model(data: bytes, mime: str, max_side: int) -> tuple[bytes, str]:
    """(bytes, mime) to send for a reference image: itself when it fits `max_side`, else a downscaled copy."""
    header = pyvips.Image.new_from_buffer(data, "", access="sequential")
    if max(header.width, header.height) <= max_side:
        return data, mime
    image = pyvips.Image.thumbnail_buffer(data, max_side, height=max_side, size="down")
    if image.interpretation not in ("srgb", "b-w") or image.format != "uchar":
        image = image.colourspace("srgb").cast("uchar")
    if image.hasalpha():
        return image.pngsave_buffer(compression=6, keep="none"), "image/png"
    return image.jpegsave_buffer(Q=_JPEG_QUALITY, keep="none"), "image/jpeg"
