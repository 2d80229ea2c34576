"""From params and source size to exact pixel sizes, before anything is decoded.

Pure arithmetic, so every fit mode is unit-tested without images. The plan
says what size to resize the whole source to (shrink-on-load), which window to
cut from that (a `rect` region and the fit's own cut, composed into one), and
what canvas to pad onto. Sizes are in the oriented image: after EXIF
orientation and the `orient`/`rot` quarter turns.
"""

from __future__ import annotations

import math

import msgspec

from delivery.images.params import TransformParams
from delivery.images.transform.limits import Source
from generation import FocalPoint

__all__ = ["Plan", "focal_point", "plan", "quarter_turns"]

_SIDES = {"left": (0.0, None), "right": (1.0, None), "top": (None, 0.0), "bottom": (None, 1.0)}
_EXIF_TURNS = {2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True), 6: (1, False), 7: (3, True), 8: (3, False)}
"""EXIF orientation -> (clockwise quarter turns, then mirror left-right)."""


class Plan(msgspec.Struct, frozen=True):
    resize: tuple[int, int]
    """Size the whole (oriented) source is scaled to (aspect may change only for fit=scale)."""
    crop: tuple[int, int, int, int] | None = None
    """left, top, width, height within the resized image."""
    pad: tuple[int, int, int, int] | None = None
    """Final canvas width, height and where the image's left, top go on it (fit=fill, `pad`)."""
    region: tuple[int, int, int, int] | None = None
    """For smart crops: the part of the resized image (`rect`) libvips chooses the `crop` size from."""
    turn: float = 0.0
    """`rot` other than a right angle, in degrees: the cut image is turned on a canvas grown to hold it."""

    @property
    def output(self) -> tuple[int, int]:
        if self.pad:
            return self.pad[0], self.pad[1]
        width, height = (self.crop[2], self.crop[3]) if self.crop else self.resize
        return turned(width, height, self.turn) if self.turn else (width, height)


def turned(width: int, height: int, degrees: float) -> tuple[int, int]:
    """The canvas that holds a `width` x `height` image turned by `degrees`, as libvips' `similarity` makes it."""
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    return max(1, round(width * cos + height * sin)), max(1, round(width * sin + height * cos))


def quarter_turns(params: TransformParams) -> tuple[int, bool]:
    """(clockwise quarter turns, mirror) from `orient` and right-angle `rot`, applied right after decoding."""
    turns, mirror = 0, False
    if params.orient in _EXIF_TURNS:
        turns, mirror = _EXIF_TURNS[params.orient]
    elif params.orient in (90, 180, 270):
        turns = params.orient // 90
    if params.rot and params.rot % 90 == 0:
        turns += int(params.rot) // 90
    return turns % 4, mirror


def focal_point(params: TransformParams, stored: FocalPoint) -> FocalPoint:
    """Where a crop is centred: `fp-x`/`fp-y` over the stored point, the middle, or the named sides.

    attention/entropy are decided by libvips on the resized image (steps.crop);
    the plan still needs a point for its window, and the middle is as good as any.
    """
    if params.crop is not None and params.crop != "focalpoint":
        x, y = 0.5, 0.5
        for side in params.crop.split(","):
            sx, sy = _SIDES.get(side, (None, None))
            x, y = x if sx is None else sx, y if sy is None else sy
        return FocalPoint(x, y)
    return FocalPoint(stored.x if params.fp_x is None else params.fp_x, stored.y if params.fp_y is None else params.fp_y)


def _side(value: float) -> int:
    return max(1, round(value))


def _window(focus: float, size: int, window: int) -> int:
    """Start of a `window`-long cut of `size` centred on `focus` (0..1), kept inside."""
    return min(max(0, round(focus * size - window / 2)), size - window)


def _oriented(params: TransformParams, source: Source) -> tuple[int, int]:
    turns, _ = quarter_turns(params)
    return (source.height, source.width) if turns % 2 else (source.width, source.height)


def _rect(params: TransformParams, sw: int, sh: int) -> tuple[int, int, int, int]:
    """The `rect` region clipped to the image (the whole image without one, or when it lies outside)."""
    if params.rect is None:
        return 0, 0, sw, sh
    x, y, w, h = params.rect
    x, y = min(x, sw - 1), min(y, sh - 1)
    return x, y, max(1, min(w, sw - x)), max(1, min(h, sh - y))


def _box(params: TransformParams, rw: int, rh: int) -> tuple[float | None, float | None]:
    """The box in output pixels: fractions of the region, times dpr, less the padding; `ar` fills a missing side."""
    w = params.w * rw if isinstance(params.w, float) else params.w
    h = params.h * rh if isinstance(params.h, float) else params.h
    w = w * params.dpr if w else None
    h = h * params.dpr if h else None
    if params.pad:
        top, right, bottom, left = (p * params.dpr for p in params.pad)
        w = max(1.0, w - left - right) if w else None
        h = max(1.0, h - top - bottom) if h else None
    if params.ar and params.cuts:
        aw, ah = params.ar
        if w and not h:
            h = w * ah / aw
        elif h and not w:
            w = h * aw / ah
        elif not w and not h:
            # Largest window of that ratio the region holds, at full resolution.
            w, h = min(rw, rh * aw / ah), min(rh, rw * ah / aw)
    return w, h


def _within_region(
    params: TransformParams, rw: int, rh: int, focal: FocalPoint, max_scale: float
) -> tuple[float, float, tuple[int, int, int, int] | None, tuple[int, int] | None]:
    """(x scale, y scale, the cut within the scaled region or None, the fill canvas or None).

    `max_scale` is the enlargement allowed (1.0: none). A cut whose box would
    need more keeps its aspect and shrinks, as fit=min always does; the other
    fits stop growing at it (a fill canvas keeps its size, the image padded).
    """
    w, h = _box(params, rw, rh)
    fit = params.resolved_fit
    if w is None and h is None:
        return 1.0, 1.0, None, None
    if fit in ("crop", "min") and w and h:
        limit = 1.0 if fit == "min" else max_scale  # min never passes the region's own size (imgix)
        shrink = min(1.0, limit * rw / w, limit * rh / h)
        w, h = w * shrink, h * shrink
        scale = max(w / rw, h / rh)
        if params.fp_z > 1 and params.crop is None:  # zoom around the focal point, never past the source's pixels
            scale = max(scale, min(scale * params.fp_z, 1.0))
        sw, sh = max(_side(w), _side(rw * scale)), max(_side(h), _side(rh * scale))
        bw, bh = _side(w), _side(h)
        return sw / rw, sh / rh, (_window(focal.x, sw, bw), _window(focal.y, sh, bh), bw, bh), None
    if fit == "scale" and w and h:
        over = max(w / rw, h / rh) / max_scale  # stretched as asked, both sides shrunk alike past the allowance
        if over > 1:
            w, h = w / over, h / over
        return _side(w) / rw, _side(h) / rh, None, None
    scale = min(s for s in (w and w / rw, h and h / rh) if s)
    scale = min(scale, 1.0 if fit in ("max", "min", "fillmax") else max_scale)
    canvas = (_side(w), _side(h)) if fit in ("fill", "fillmax") and w and h else None
    return scale, scale, None, canvas


def _unlimited(params: TransformParams, source: Source, focal: FocalPoint, max_scale: float) -> Plan:
    sw, sh = _oriented(params, source)
    rx, ry, rw, rh = _rect(params, sw, sh)
    local = FocalPoint(min(1.0, max(0.0, (focal.x * sw - rx) / rw)), min(1.0, max(0.0, (focal.y * sh - ry) / rh)))
    sx, sy, cut, canvas = _within_region(params, rw, rh, local, max_scale)
    resize = (_side(sw * sx), _side(sh * sy))
    # The region in resized pixels, kept inside the resized image.
    left, top = min(round(rx * sx), resize[0] - 1), min(round(ry * sy), resize[1] - 1)
    region = (left, top, max(1, min(_side(rw * sx), resize[0] - left)), max(1, min(_side(rh * sy), resize[1] - top)))
    if cut is not None:
        cl, ct, cw, ch = cut
        cw, ch = min(cw, region[2]), min(ch, region[3])
        crop: tuple[int, int, int, int] | None = (left + min(cl, region[2] - cw), top + min(ct, region[3] - ch), cw, ch)
    else:
        crop = region if params.rect is not None else None
    turn = params.rot if params.rot and params.rot % 90 else 0.0
    inner = (crop[2], crop[3]) if crop else resize
    if turn:  # the turn comes before the padding (steps.STEPS): the canvas holds the turned image, centred
        inner = turned(*inner, turn)
    pad = None
    if canvas is not None:
        pad = (canvas[0], canvas[1], (canvas[0] - inner[0]) // 2, (canvas[1] - inner[1]) // 2)
    if params.pad:
        top_, right, bottom, left_ = (round(p * params.dpr) for p in params.pad)
        cw, ch, il, it = pad or (inner[0], inner[1], 0, 0)
        pad = (cw + left_ + right, ch + top_ + bottom, il + left_, it + top_)
    smart = params.crop in ("attention", "entropy") and params.rect is not None
    return Plan(resize=resize, crop=crop, pad=pad, region=region if smart and cut is not None else None, turn=turn)


def _shrunk(result: Plan, factor: float) -> Plan:
    """The same plan, every size times `factor` (< 1), kept inside the resized image."""

    def s(v: int) -> int:
        return max(1, math.floor(v * factor))

    resize = (s(result.resize[0]), s(result.resize[1]))

    def inside(box: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if box is None:
            return None
        w, h = min(s(box[2]), resize[0]), min(s(box[3]), resize[1])
        return min(math.floor(box[0] * factor), resize[0] - w), min(math.floor(box[1] * factor), resize[1] - h), w, h

    pad = None
    if result.pad:
        pad = (s(result.pad[0]), s(result.pad[1]), math.floor(result.pad[2] * factor), math.floor(result.pad[3] * factor))
    return Plan(resize=resize, crop=inside(result.crop), pad=pad, region=inside(result.region), turn=result.turn)


def plan(params: TransformParams, source: Source, focal: FocalPoint, *, max_pixels: int, max_upscale: float = 1.0) -> Plan:
    """The plan for these params, shrunk uniformly if its output would pass `max_pixels`.

    Nothing is enlarged past the source's pixels unless the params ask (`upscale`), and then at most
    `max_upscale` times per side (the deployment's `PROMPTPIX_MAX_UPSCALE`).
    """
    result = _unlimited(params, source, focal, max(1.0, max_upscale) if params.upscale else 1.0)
    ow, oh = result.output
    if ow * oh <= max_pixels:
        return result
    return _shrunk(result, math.sqrt(max_pixels / (ow * oh)) * 0.999)
