"""The transform steps, each `(ctx, image) -> image` and testable alone."""

from __future__ import annotations

import msgspec
import pyvips

from delivery.images.formats import by_name
from delivery.images.params import TransformParams
from delivery.images.transform.geometry import Plan
from delivery.images.transform.jpeg_decode import decode_jpeg
from delivery.images.transform.limits import Source

__all__ = ["STEPS", "Context", "blur", "crop", "flatten", "load", "pad", "to_srgb"]

_FAIL_ON = "truncated"
"""A truncated or corrupt source errors (→ 422) instead of decoding to grey."""
_SMART_CROPS = frozenset({"attention", "entropy"})


class Context(msgspec.Struct, frozen=True):
    data: bytes
    source: Source
    params: TransformParams
    plan: Plan
    format: str


def _background(ctx: Context) -> list[float]:
    """`bg` as RGBA, white when unset (transparent when the output keeps alpha)."""
    if ctx.params.bg:
        rgba: list[float] = [int(ctx.params.bg[i : i + 2], 16) for i in range(0, len(ctx.params.bg), 2)]
        return rgba if len(rgba) == 4 else [*rgba, 255]
    return [255, 255, 255, 0 if by_name(ctx.format).alpha else 255]


def load(ctx: Context, image: pyvips.Image | None) -> pyvips.Image:
    """Decode straight to the planned size: shrink-on-load, EXIF orientation applied.

    8-bit JPEG, the bulk of photo masters, is decoded by TurboJPEG at the
    smallest DCT scale that keeps the planned size (faster than libvips'
    jpegload here, see `jpeg_decode`), then resized exactly by libvips.
    Everything else, CMYK JPEG included, goes through `thumbnail_buffer`,
    which also shrinks on load (JPEG and WebP scale, HEIF thumbnails).
    """
    width, height = ctx.plan.resize
    if ctx.source.jpeg is not None:
        image = decode_jpeg(ctx.data, (width, height), ctx.source.jpeg)
        if image is not None:
            if (image.width, image.height) == (width, height):
                return image
            return image.resize(width / image.width, vscale=height / image.height)
    return pyvips.Image.thumbnail_buffer(ctx.data, width, height=height, size="force", option_string=f"fail_on={_FAIL_ON}")


def to_srgb(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    """CMYK and images with an embedded profile go through it to sRGB; the rest is cast to 8-bit sRGB."""
    if image.interpretation == "cmyk" or image.get_typeof("icc-profile-data"):
        fallback = "cmyk" if image.interpretation == "cmyk" else "srgb"
        image = image.icc_transform("srgb", embedded=True, input_profile=fallback)
    if image.interpretation not in ("srgb", "b-w") or image.format != "uchar" or image.bands < 3:
        image = image.colourspace("srgb")
    return image.cast("uchar") if image.format != "uchar" else image


def crop(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    """Cut the planned window; `attention`/`entropy` let libvips choose where."""
    if ctx.plan.crop is None:
        return image
    left, top, width, height = ctx.plan.crop
    width, height = min(width, image.width), min(height, image.height)
    if ctx.params.crop in _SMART_CROPS:
        # smartcrop scans the image several times; the decode is sequential, so hold the (resized) pixels.
        return image.copy_memory().smartcrop(width, height, interesting=ctx.params.crop)
    return image.crop(left, top, min(width, image.width - left), min(height, image.height - top))


def blur(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    """`blur` 1–100 is a gaussian of sigma blur/2 output pixels (so 100 is sigma 50)."""
    if not ctx.params.blur:
        return image
    return image.gaussblur(ctx.params.blur / 2)


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
    if image.hasalpha() and not by_name(ctx.format).alpha:
        image = image.flatten(background=_background(ctx)[:3])
    return image


STEPS = (load, crop, to_srgb, blur, pad, flatten)
