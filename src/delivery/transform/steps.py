"""The transform steps, each `(ctx, image) -> image` and testable alone."""

from __future__ import annotations

import msgspec
import pyvips

from delivery.params import TransformParams
from delivery.transform.geometry import Plan
from delivery.transform.limits import Source

__all__ = ["STEPS", "Context", "crop", "flatten", "load", "pad", "to_srgb"]

_OPAQUE_FORMATS = frozenset({"jpg"})


class Context(msgspec.Struct, frozen=True):
    data: bytes
    source: Source
    params: TransformParams
    plan: Plan
    format: str


def _background(ctx: Context) -> list[float]:
    """`bg` as RGBA, white when unset (transparent when the output keeps alpha)."""
    if ctx.params.bg:
        rgba = [int(ctx.params.bg[i : i + 2], 16) for i in range(0, len(ctx.params.bg), 2)]
        return rgba if len(rgba) == 4 else [*rgba, 255]
    return [255, 255, 255, 0 if ctx.format not in _OPAQUE_FORMATS else 255]


def load(ctx: Context, image: pyvips.Image | None) -> pyvips.Image:
    """Decode straight to the planned size: shrink-on-load, EXIF orientation applied."""
    width, height = ctx.plan.resize
    return pyvips.Image.thumbnail_buffer(ctx.data, width, height=height, size="force")


def to_srgb(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    if image.interpretation not in ("srgb", "b-w") or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.bands == 2 or image.bands == 1:
        image = image.colourspace("srgb")
    return image


def crop(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    if ctx.plan.crop is None:
        return image
    left, top, width, height = ctx.plan.crop
    return image.crop(left, top, min(width, image.width - left), min(height, image.height - top))


def pad(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    if ctx.plan.pad is None:
        return image
    background = _background(ctx)
    if background[3] < 255 and not image.hasalpha():
        image = image.bandjoin(255)
    elif background[3] == 255 and image.hasalpha():
        image = image.flatten(background=background[:3])
    bands = background if image.hasalpha() else background[:3]
    width, height = ctx.plan.pad
    return image.gravity("centre", width, height, extend="background", background=bands)


def flatten(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    """Formats without alpha get the padding colour behind transparent pixels."""
    if image.hasalpha() and ctx.format in _OPAQUE_FORMATS:
        image = image.flatten(background=_background(ctx)[:3])
    return image


STEPS = (load, crop, to_srgb, pad, flatten)
