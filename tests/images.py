"""Decode what the service returned and look at it: size, format, pixels."""

from __future__ import annotations

import pyvips

LOADER_FORMATS = {
    "jpegload_buffer": "jpg",
    "pngload_buffer": "png",
    "webpload_buffer": "webp",
    "heifload_buffer": "avif",
    "gifload_buffer": "gif",
}


def decode(data: bytes) -> tuple[pyvips.Image, str]:
    image = pyvips.Image.new_from_buffer(data, "")
    return image, LOADER_FORMATS[image.get("vips-loader")]


def pixel(image: pyvips.Image, x: float, y: float) -> list[float]:
    """The pixel at fractional position (x, y)."""
    return image.getpoint(min(int(x * image.width), image.width - 1), min(int(y * image.height), image.height - 1))


def solid(width: int, height: int, rgb: tuple[int, int, int], fmt: str = "png") -> bytes:
    image = (pyvips.Image.black(width, height, bands=3) + list(rgb)).cast("uchar")
    return image.write_to_buffer(f".{fmt}")
