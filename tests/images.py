"""Decode what the service returned and look at it: size, format, pixels."""

from __future__ import annotations

import pyvips

from delivery.images.formats import by_loader
from delivery.images.params import parse_query, parse_transform
from delivery.images.transform import Limits, inspect_source, transform
from generation.models import FocalPoint


def decode(data: bytes) -> tuple[pyvips.Image, str]:
    """The image and its format's name, as libvips sniffs it from the bytes (not as the response claims)."""
    image = pyvips.Image.new_from_buffer(data, "")
    return image, by_loader(image.get("vips-loader"), data).name


def pixel(image: pyvips.Image, x: float, y: float) -> list[float]:
    """The pixel at fractional position (x, y)."""
    return image.getpoint(min(int(x * image.width), image.width - 1), min(int(y * image.height), image.height - 1))


def solid(width: int, height: int, rgb: tuple[int, int, int], fmt: str = "png") -> bytes:
    image = (pyvips.Image.black(width, height, bands=3) + list(rgb)).cast("uchar")
    return image.write_to_buffer(f".{fmt}")


def mean_difference(a: pyvips.Image, b: pyvips.Image) -> float:
    """Mean absolute difference per band value, 0–255; the images must have the same shape."""
    assert (a.width, a.height, a.bands) == (b.width, b.height, b.bands)
    return float((a.cast("float") - b.cast("float")).abs().avg())


def served(data: bytes, query: str, limits: Limits = Limits()) -> pyvips.Image:
    """What the transform pipeline makes of `data` for `query` (no server, no storage), decoded."""
    params = parse_transform(parse_query(query))
    return decode(transform(data, inspect_source(data, limits), params, FocalPoint(), limits).data)[0]
