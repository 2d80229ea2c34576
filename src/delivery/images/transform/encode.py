"""Write pixels in an output format, as its `formats.Encoder` describes; all strip metadata.

JPEG and WebP go through Pillow (the same libjpeg/libwebp settings, faster
builds: see `pillow_codecs`); PNG and AVIF through libvips. The settings
themselves live in the format registry, with the rest of what a format is.
"""

from __future__ import annotations

from collections.abc import Callable

import pyvips

from delivery.images.formats import by_name, encoder_overrides
from delivery.images.transform.pillow_codecs import Pixels, save

__all__ = ["encode"]


def encode(
    pixels: Pixels,
    fmt: str,
    quality: int | None,
    *,
    compress: bool = False,
    lossless: bool = False,
    watch: Callable[[pyvips.Image], pyvips.Image] | None = None,
) -> bytes:
    """`pixels` as `fmt` (an output format's name) at `quality`, or the format's (compressed) default.

    `watch` wraps the image a libvips encoder writes (the transform's deadline).
    """
    encoder = by_name(fmt).encoder
    if encoder is None:
        raise ValueError(f"{fmt} is read, never written")
    options = {**encoder.options(quality, compress=compress, lossless=lossless), **encoder_overrides(fmt)}
    if encoder.library == "pillow":
        return save(pixels, encoder.call, options)
    image = pixels.vips()
    data: bytes = getattr(watch(image) if watch else image, encoder.call)(**options)
    return data
