"""The transform steps, each `(ctx, image) -> image` and testable alone."""

from __future__ import annotations

import msgspec
import pyvips

from delivery.images.formats import by_name
from delivery.images.params import TransformParams
from delivery.images.transform.deadline import Deadline
from delivery.images.transform.geometry import Plan, quarter_turns
from delivery.images.transform.jpeg_decode import decode_jpeg
from delivery.images.transform.limits import Source

__all__ = ["STEPS", "Context", "blur", "crop", "flatten", "load", "orient", "pad", "rotate", "sharpen", "to_srgb"]

_FAIL_ON = "truncated"
"""A truncated or corrupt source errors (→ 422) instead of decoding to grey."""
_SMART_CROPS = frozenset({"attention", "entropy"})
_MAX_BLUR_SIGMA = 50.0
"""`blur` goes to 2000 as in imgix; past sigma 50 output pixels the image is a wash, and the kernel only costs more."""


class Context(msgspec.Struct, frozen=True):
    data: bytes
    source: Source
    params: TransformParams
    plan: Plan
    format: str
    deadline: Deadline | None = None
    """Kills libvips work that runs past it; steps that evaluate early (`copy_memory`) watch their image with it."""


def _background(ctx: Context, colour: str | None = None) -> list[float]:
    """`colour` (else `bg`) as RGBA, white when unset (transparent when the output keeps alpha)."""
    colour = colour or ctx.params.bg
    if colour:
        rgba: list[float] = [int(colour[i : i + 2], 16) for i in range(0, len(colour), 2)]
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
    if quarter_turns(ctx.params)[0] % 2:  # decoded as stored, turned afterwards (`orient`)
        width, height = height, width
    if ctx.source.jpeg is not None:
        image = decode_jpeg(ctx.data, (width, height), ctx.source.jpeg)
        if image is not None:
            if (image.width, image.height) == (width, height):
                return image
            return image.resize(width / image.width, vscale=height / image.height)
    return pyvips.Image.thumbnail_buffer(ctx.data, width, height=height, size="force", option_string=f"fail_on={_FAIL_ON}")


def orient(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    """`orient`, right-angle `rot` and `flip`, on the decoded image before anything is cut."""
    turns, mirror = quarter_turns(ctx.params)
    if turns:
        image = image.rot(("d0", "d90", "d180", "d270")[turns])
    if mirror != ("h" in (ctx.params.flip or "")):
        image = image.fliphor()
    if "v" in (ctx.params.flip or ""):
        image = image.flipver()
    return image


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
        if ctx.plan.region is not None:  # libvips chooses within the `rect` region
            image = image.crop(*ctx.plan.region)
            width, height = min(width, image.width), min(height, image.height)
        # smartcrop scans the image several times; the decode is sequential, so hold the (resized) pixels.
        held = ctx.deadline.watch(image) if ctx.deadline else image
        return held.copy_memory().smartcrop(width, height, interesting=ctx.params.crop)
    return image.crop(left, top, min(width, image.width - left), min(height, image.height - top))


def blur(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    """`blur` 1–100 is a gaussian of sigma blur/2 output pixels (so 100 is sigma 50)."""
    if not ctx.params.blur:
        return image
    return image.gaussblur(min(ctx.params.blur / 2, _MAX_BLUR_SIGMA))


def sharpen(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    """`sharp` 1-100: libvips' unsharp mask, stronger on flat areas (m2) as the value grows."""
    if not ctx.params.sharp:
        return image
    return image.sharpen(sigma=0.5 + ctx.params.sharp / 100, m2=1 + ctx.params.sharp / 10)


def rotate(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    """`rot` other than a right angle: clockwise, on a canvas grown to hold the turned image, filled with `bg`."""
    angle = ctx.plan.turn  # right angles are `orient`'s, before the cut
    if not angle:
        return image
    background = _background(ctx)
    if background[3] < 255 and not image.hasalpha():
        image = image.bandjoin(255)
    # An affine turn reads its input out of order, which a sequential decode refuses past libvips' small
    # line cache ("out of order read" on a large PNG): hold the (already resized) pixels, as `crop` does.
    held = ctx.deadline.watch(image) if ctx.deadline else image
    return held.copy_memory().similarity(angle=angle, background=background if held.hasalpha() else background[:3])


def _blurred_canvas(image: pyvips.Image, width: int, height: int) -> pyvips.Image:
    """fill=blur: the image itself, scaled to cover the canvas and blurred, behind it."""
    scale = max(width / image.width, height / image.height)
    cover = image.resize(scale, vscale=max(scale, height / image.height))
    left, top = max(0, (cover.width - width) // 2), max(0, (cover.height - height) // 2)
    cover = cover.crop(left, top, min(width, cover.width - left), min(height, cover.height - top))
    return cover.embed(0, 0, width, height, extend="copy").gaussblur(max(2.0, min(width, height) / 40))


def pad(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    """Onto the planned canvas: fit=fill/fillmax (with `fill-color`, or `fill=blur`) and `pad` (with `bg`)."""
    if ctx.plan.pad is None:
        return image
    width, height, left, top = ctx.plan.pad
    if ctx.params.fill in ("blur", "gen"):  # gen: what an extension to the nearest class leaves over is blurred
        canvas = _blurred_canvas(image, width, height)
        if image.hasalpha() and not canvas.hasalpha():
            canvas = canvas.bandjoin(255)
        return canvas.insert(image, left, top) if image.bands == canvas.bands else canvas.insert(image.flatten(), left, top)
    background = _background(ctx, ctx.params.fill_color)
    if background[3] < 255 and not image.hasalpha():
        image = image.bandjoin(255)
    elif background[3] == 255 and image.hasalpha():
        image = image.flatten(background=background[:3])
    bands = background if image.hasalpha() else background[:3]
    return image.embed(left, top, width, height, extend="background", background=bands)


def flatten(ctx: Context, image: pyvips.Image) -> pyvips.Image:
    """Formats without alpha get the padding colour behind transparent pixels."""
    if image.hasalpha() and not by_name(ctx.format).alpha:
        image = image.flatten(background=_background(ctx)[:3])
    return image


STEPS = (load, orient, crop, to_srgb, blur, sharpen, rotate, pad, flatten)
