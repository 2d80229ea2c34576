"""Cloudflare's URL dialect: `/cdn-cgi/image/{options}/{source}` options, translated to imgix params.

Cloudflare writes transforms as one comma-separated path segment
(`width=300,height=200,fit=cover,f=auto`). Each option is translated here,
through one table (`OPTIONS`), into the imgix-named params `params.parse_transform`
reads, so the Cloudflare door and the imgix one share one parser, one
canonical form and one cache. Options the table does not name are ignored,
as Cloudflare ignores them; a value out of range is a 400 naming the option.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from delivery.errors import InvalidParam
from delivery.images.metadata import JSON
from delivery.images.params import MAX_DPR, MAX_SIDE

__all__ = ["FITS", "OPTIONS", "CloudflareOption", "Options", "parse_options"]

Translate = Callable[[str], dict[str, str]]


class CloudflareOption(msgspec.Struct, frozen=True, kw_only=True):
    names: tuple[str, ...]
    """The option's name, then its short alias."""
    imgix: str
    """What it becomes, for the docs' table."""
    translate: Translate


class Options(msgspec.Struct, frozen=True):
    params: dict[str, str]
    """imgix-named raw params, as `parse_transform` reads them."""
    spelled: str
    """The options segment with ignored and empty options left out: the one spelling of this segment."""


def _number(name: str, low: float, high: float, *, whole: bool = True) -> Callable[[str], float]:
    kind = "a whole number" if whole else "a number"

    def parse(value: str) -> float:
        try:
            number = int(value, 10) if whole else float(value)
        except ValueError:
            raise InvalidParam(f"`{name}` must be {kind} from {low:g} to {high:g}, got {value!r}") from None
        if not low <= number <= high:
            raise InvalidParam(f"`{name}` must be from {low:g} to {high:g}, got {value!r}")
        return number

    return parse


def _to(imgix: str, parse: Callable[[str], float], scale: float = 1) -> Translate:
    return lambda value: {imgix: f"{parse(value) * scale:g}"}


def _side(name: str, imgix: str) -> Translate:
    parse = _number(name, 1, MAX_SIDE)

    def translate(value: str) -> dict[str, str]:
        if value == "auto":  # sized from client hints at Cloudflare; none are read here, so the source's size
            return {}
        return {imgix: f"{parse(value):g}"}

    return translate


def _choice(name: str, table: dict[str, dict[str, str]]) -> Translate:
    def translate(value: str) -> dict[str, str]:
        found = table.get(value.lower())
        if found is None:
            raise InvalidParam(f"`{name}` must be one of {', '.join(table)}, got {value!r}")
        return found

    return translate


FITS = {
    "scale-down": {"fit": "max"},
    "contain": {"fit": "clip"},
    "cover": {"fit": "crop"},
    "crop": {"fit": "min"},
    "pad": {"fit": "fill"},
    "squeeze": {"fit": "scale"},
}
"""Cloudflare fit -> imgix fit: never enlarged · fit inside · fill and cut · cut, never enlarged · fit inside and pad · stretch."""
_SIDES = {side: {"crop": side} for side in ("left", "right", "top", "bottom")}
_FORMATS = {
    "auto": {"auto": "format"},
    "avif": {"fm": "avif"},
    "webp": {"fm": "webp"},
    "jpeg": {"fm": "jpg"},
    "baseline-jpeg": {"fm": "jpg"},
    "png": {"fm": "png"},
    "json": {"fm": JSON},
}
_QUALITIES = {"high": "90", "medium-high": "75", "medium-low": "60", "low": "45"}
"""Cloudflare's perceptual qualities as fixed `q` values."""


def _gravity(value: str) -> dict[str, str]:
    value = value.lower()
    if value == "auto":  # Cloudflare's saliency pick; the stored focal point is this service's
        return {}
    if value == "face":
        return {"crop": "faces"}
    if value in ("center", "centre"):
        return {"crop": "center"}
    if value in _SIDES:
        return _SIDES[value]
    x, sep, y = value.partition("x")
    try:
        fx, fy = float(x), float(y)
    except ValueError:
        fx = fy = -1.0
    if not sep or not (0 <= fx <= 1 and 0 <= fy <= 1):
        raise InvalidParam(f"`gravity` must be auto, face, left, right, top, bottom, or XxY with X and Y from 0 to 1, got {value!r}")
    return {"crop": "focalpoint", "fp-x": f"{fx:g}", "fp-y": f"{fy:g}"}


def _quality(value: str) -> dict[str, str]:
    named = _QUALITIES.get(value.lower())
    return {"q": named or f"{_number('quality', 1, 100)(value):g}"}


def _rotate(value: str) -> dict[str, str]:
    if value not in ("0", "90", "180", "270"):
        raise InvalidParam(f"`rotate` must be 90, 180 or 270, got {value!r}")
    return {"rot": value}


OPTIONS: tuple[CloudflareOption, ...] = (
    CloudflareOption(names=("width", "w"), imgix="w", translate=_side("width", "w")),
    CloudflareOption(names=("height", "h"), imgix="h", translate=_side("height", "h")),
    CloudflareOption(names=("fit",), imgix="fit", translate=_choice("fit", FITS)),
    CloudflareOption(names=("gravity", "g"), imgix="crop, fp-x, fp-y", translate=_gravity),
    CloudflareOption(names=("format", "f"), imgix="fm, auto=format", translate=_choice("format", _FORMATS)),
    CloudflareOption(names=("quality", "q"), imgix="q", translate=_quality),
    CloudflareOption(names=("dpr",), imgix="dpr", translate=_to("dpr", _number("dpr", 1, MAX_DPR, whole=False))),
    CloudflareOption(names=("blur",), imgix="blur", translate=_to("blur", _number("blur", 0, 250))),
    CloudflareOption(names=("background",), imgix="bg", translate=lambda value: {"bg": value}),
    CloudflareOption(names=("sharpen",), imgix="sharp", translate=_to("sharp", _number("sharpen", 0, 10, whole=False), 10)),
    CloudflareOption(names=("rotate",), imgix="rot", translate=_rotate),
    CloudflareOption(names=("flip",), imgix="flip", translate=_choice("flip", {v: {"flip": v} for v in ("h", "v", "hv")})),
)
_BY_NAME = {name: option for option in OPTIONS for name in option.names}


def parse_options(segment: str) -> Options:
    """The options segment as imgix params, and its one spelling (known options in the order given).

    An option given twice (under either of its names) is a 400; so is a value
    out of range, naming the Cloudflare option.
    """
    params: dict[str, str] = {}
    seen: set[str] = set()
    kept: list[str] = []
    for item in segment.split(","):
        name, sep, value = item.strip().partition("=")
        option = _BY_NAME.get(name.lower()) if sep else None
        if option is None:
            continue
        if option.names[0] in seen:
            raise InvalidParam(f"`{option.names[0]}` is given more than once")
        seen.add(option.names[0])
        params.update(option.translate(value))
        kept.append(item)
    return Options(params=params, spelled=",".join(kept))
