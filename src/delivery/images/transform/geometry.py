"""From params and source size to exact pixel sizes, before anything is decoded.

Pure arithmetic, so every fit mode is unit-tested without images. The plan
says what size to resize to (pyvips `thumbnail`, which shrinks on load), which
window to cut from that, and what box to pad into.
"""

from __future__ import annotations

import math

import msgspec

from delivery.images.params import TransformParams
from delivery.images.transform.limits import Source
from generation import FocalPoint

__all__ = ["Plan", "focal_point", "plan"]


class Plan(msgspec.Struct, frozen=True):
    resize: tuple[int, int]
    """Size the whole source is scaled to (aspect may change only for fit=scale)."""
    crop: tuple[int, int, int, int] | None = None
    """left, top, width, height within the resized image."""
    pad: tuple[int, int] | None = None
    """Final canvas for fit=fill; the image is centred on it."""

    @property
    def output(self) -> tuple[int, int]:
        if self.pad:
            return self.pad
        if self.crop:
            return self.crop[2], self.crop[3]
        return self.resize


def focal_point(params: TransformParams, stored: FocalPoint) -> FocalPoint:
    """Where a crop is centred: `fp-x`/`fp-y` over the stored point, or the middle for crop=center.

    attention/entropy are decided by libvips on the resized image (steps.crop);
    the plan still needs a point for its window, and the middle is as good as any.
    """
    if params.crop in ("center", "attention", "entropy"):
        return FocalPoint.center()
    return FocalPoint(stored.x if params.fp_x is None else params.fp_x, stored.y if params.fp_y is None else params.fp_y)


def _box(params: TransformParams, source: Source) -> tuple[float | None, float | None]:
    w = params.w * params.dpr if params.w else None
    h = params.h * params.dpr if params.h else None
    if params.ar:
        aw, ah = params.ar
        if w and not h:
            h = w * ah / aw
        elif h and not w:
            w = h * aw / ah
        elif not w and not h:
            # Largest window of that ratio the source holds, at full resolution.
            w, h = min(source.width, source.height * aw / ah), min(source.height, source.width * ah / aw)
    return w, h


def _side(value: float) -> int:
    return max(1, round(value))


def _window(focus: float, size: int, window: int) -> int:
    """Start of a `window`-long cut of `size` centred on `focus` (0..1), kept inside."""
    return min(max(0, round(focus * size - window / 2)), size - window)


def _unlimited(params: TransformParams, source: Source, focal: FocalPoint) -> Plan:
    sw, sh = source.width, source.height
    w, h = _box(params, source)
    fit = params.resolved_fit
    if w is None and h is None:
        return Plan(resize=(sw, sh))
    if fit == "crop" and w and h:
        scale = max(w / sw, h / sh)
        rw, rh = max(_side(w), _side(sw * scale)), max(_side(h), _side(sh * scale))
        bw, bh = _side(w), _side(h)
        return Plan(resize=(rw, rh), crop=(_window(focal.x, rw, bw), _window(focal.y, rh, bh), bw, bh))
    if fit == "scale" and w and h:
        return Plan(resize=(_side(w), _side(h)))
    scales = [s for s in (w and w / sw, h and h / sh) if s]
    scale = min(scales)
    if fit == "max":
        scale = min(scale, 1.0)
    resize = (_side(sw * scale), _side(sh * scale))
    if fit == "fill" and w and h:
        return Plan(resize=resize, pad=(_side(w), _side(h)))
    return Plan(resize=resize)


def plan(params: TransformParams, source: Source, focal: FocalPoint, *, max_pixels: int) -> Plan:
    """The plan for these params, shrunk uniformly if its output would pass `max_pixels`."""
    result = _unlimited(params, source, focal)
    ow, oh = result.output
    if ow * oh <= max_pixels:
        return result
    factor = math.sqrt(max_pixels / (ow * oh)) * 0.999

    def shrink(v: int) -> int:
        return max(1, math.floor(v * factor))

    resize = (shrink(result.resize[0]), shrink(result.resize[1]))
    crop = pad = None
    if result.crop:
        bw, bh = min(shrink(result.crop[2]), resize[0]), min(shrink(result.crop[3]), resize[1])
        crop = (_window(focal.x, resize[0], bw), _window(focal.y, resize[1], bh), bw, bh)
    if result.pad:
        pad = (shrink(result.pad[0]), shrink(result.pad[1]))
    return Plan(resize=resize, crop=crop, pad=pad)
