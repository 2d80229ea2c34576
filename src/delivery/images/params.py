"""URL parameters: parse once, validate, canonicalise.

A URL's query is parsed into frozen Structs before anything expensive runs.
A known parameter given twice or out of range is a 400 naming it; any other
parameter is ignored and never reaches a cache key. The canonical form
(sorted, defaults dropped) is what cache keys and ETags are built from. `PARAMS`
is the one table of what is read: parsers, ranges and the OpenAPI document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, quote

import msgspec

from delivery.errors import InvalidParam, UndefinedPreset
from delivery.hygiene import check_text
from delivery.images.formats import OUTPUTS
from delivery.images.metadata import JSON

__all__ = [
    "CROPS",
    "FITS",
    "GENERATE_NAMES",
    "GENERATE_PARAMS",
    "MAX_EXP",
    "NEW_ARTWORK",
    "PARAMS",
    "PRESET_PARAM",
    "GenerateParams",
    "Param",
    "Presets",
    "TransformParams",
    "aspect_ratio",
    "canonical_query",
    "canonical_spelling",
    "check_link_params",
    "parse_generate",
    "parse_query",
    "parse_transform",
    "query_dict",
    "query_pairs",
    "requested_aspect",
]

FITS = ("clip", "crop", "max", "min", "fill", "fillmax", "scale", "facearea")
CROP_FITS = frozenset({"crop", "min", "facearea"})
"""The fits that cut: `ar`, `crop`, `fp-*` apply only to them (as in imgix)."""
SMART_CROPS = ("attention", "entropy")
SIDES = ("top", "bottom", "left", "right")
CROPS = ("focalpoint", *SMART_CROPS, "center", *SIDES)
_CROP_ALIASES = {"centre": "center", "middle": "center", "focal": "focalpoint", "faces": "attention", "edges": "attention"}
"""imgix's `faces` and `edges` have no detector of their own here: libvips' attention (edges, skin tones, saturation) stands in."""
MAX_SIDE = 8192
MAX_DPR = 5
MAX_PAD = 1000
NEW_ARTWORK = "new"
"""`gen=new` on `/g`: an art-directed picture instead of the prompt's one artwork."""
Presets = Mapping[str, Mapping[str, str]]
"""Preset name -> raw params it expands to, e.g. {"thumb": {"w": "200", "h": "200", "fit": "crop"}}."""
Side = int | float
"""A box side: whole pixels, or a fraction (0, 1] of the source's side, written with a decimal point."""


class TransformParams(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    w: Side | None = None
    h: Side | None = None
    dpr: float = 1.0
    ar: tuple[int, int] | None = None
    rect: tuple[int, int, int, int] | None = None
    """x, y, width, height of the source region to start from, in source pixels."""
    fit: str | None = None
    crop: str | None = None
    """Where a cut is placed: attention, entropy, center, or sides (`bottom,left`); None is the stored focal point."""
    fp_x: float | None = msgspec.field(default=None, name="fp-x")
    fp_y: float | None = msgspec.field(default=None, name="fp-y")
    fp_z: float = msgspec.field(default=1.0, name="fp-z")
    fm: str | None = None
    auto: str | None = None
    """`format` (negotiate from `Accept`, only without `fm`), `compress` (lower default quality), or both."""
    q: int | None = None
    lossless: bool = False
    blur: float = 0.0
    sharp: float = 0.0
    bg: str | None = None
    """Colour behind transparency, and of padding unless `fill-color` is given: `rrggbb` or `rrggbbaa`."""
    fill: str | None = None
    """How fit=fill/fillmax pads: None (solid colour), `blur` (a blurred copy of the image) or `gen`
    (generative fill: the image extended to the box's aspect class, delivery.prompts.derive)."""
    fill_color: str | None = msgspec.field(default=None, name="fill-color")
    pad: tuple[int, int, int, int] | None = None
    """Padding top, right, bottom, left in CSS px."""
    flip: str | None = None
    orient: int | None = None
    """Quarter turns and mirroring as EXIF numbers 2-8, or 90/180/270 degrees."""
    rot: float = 0.0
    upscale: bool = False
    """Enlarge past the master's own pixels, when the deployment allows it (`PROMPTPIX_MAX_UPSCALE`); else never."""

    @property
    def resolved_fit(self) -> str:
        """imgix's default: clip (fit inside the box, keep the aspect)."""
        return self.fit or "clip"

    @property
    def cuts(self) -> bool:
        return self.resolved_fit in CROP_FITS


class GenerateParams(msgspec.Struct, frozen=True, kw_only=True):
    prompt: str
    style: str | None = None
    seed: int | None = None
    model: str | None = None
    key: str | None = None
    sig: str | None = None
    exp: int | None = None
    gen: str | None = None
    """`new`: an art-directed picture of its own at the box's aspect, not a crop or extension of the root."""


_INTEGER = re.compile(r"[+-]?[0-9]{1,20}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,20}(?:\.[0-9]*)?|\.[0-9]{1,20})(?:[eE][+-]?[0-9]{1,3})?")


def _int(name: str, low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:  # int() would also take " 1\n", "1_000" and other scripts' digits
            number = int(value, 10) if _INTEGER.fullmatch(value) else int("not a number")
        except ValueError:
            raise InvalidParam(f"`{name}` must be a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise InvalidParam(f"`{name}` must be from {low} to {high}, got {number}")
        return number

    return parse


def _float(name: str, low: float, high: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:  # float() would also take " 1\n", "1_0", "nan" and other scripts' digits
            number = float(value) if _DECIMAL.fullmatch(value) else float("not a number")
        except ValueError:
            raise InvalidParam(f"`{name}` must be a number from {low:g} to {high:g}") from None
        if not math.isfinite(number) or not low <= number <= high:
            raise InvalidParam(f"`{name}` must be from {low:g} to {high:g}, got {value!r}")
        return number

    return parse


def _choice(name: str, choices: Iterable[str], aliases: dict[str, str] | None = None) -> Callable[[str], str]:
    allowed = tuple(choices)

    def parse(value: str) -> str:
        value = (aliases or {}).get(value.lower(), value.lower())
        if value not in allowed:
            raise InvalidParam(f"`{name}` must be one of {', '.join(allowed)}, got {value!r}")
        return value

    return parse


_RATIO = re.compile(r"^(\d{1,5})[:x](\d{1,5})\Z")


def aspect_ratio(value: str) -> tuple[int, int] | None:
    """`16:9` (or `16x9`) in lowest terms; None unless it is a ratio between 1:100 and 100:1."""
    match = _RATIO.match(value)
    if not match or int(match[1]) == 0 or int(match[2]) == 0:
        return None
    w, h = int(match[1]), int(match[2])
    if not 1 / 100 <= w / h <= 100:
        return None
    gcd = math.gcd(w, h)
    return w // gcd, h // gcd


def _ratio(value: str) -> tuple[int, int]:
    match = _RATIO.match(value)
    if not match or int(match[1]) == 0 or int(match[2]) == 0:
        raise InvalidParam(f"`ar` must look like 16:9, got {value!r}")
    ratio = aspect_ratio(value)
    if ratio is None:
        raise InvalidParam("`ar` must be between 1:100 and 100:1")
    return ratio


_HEX = re.compile(r"^(?:[0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})\Z")
_NAMED_COLOURS = {
    "black": "000000", "white": "ffffff", "red": "ff0000", "lime": "00ff00", "green": "008000", "blue": "0000ff",
    "yellow": "ffff00", "cyan": "00ffff", "aqua": "00ffff", "magenta": "ff00ff", "fuchsia": "ff00ff", "gray": "808080",
    "grey": "808080", "silver": "c0c0c0", "maroon": "800000", "olive": "808000", "navy": "000080", "purple": "800080",
    "teal": "008080", "orange": "ffa500", "transparent": "00000000",
}  # fmt: skip
"""CSS's basic colour keywords, which imgix's colour params accept too."""


def _colour(name: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.lower().removeprefix("#")
        value = _NAMED_COLOURS.get(value, value)
        if not _HEX.match(value):
            raise InvalidParam(f"`{name}` must be a hex colour rgb, rrggbb or rrggbbaa, or a colour name, got {value!r}")
        return "".join(c * 2 for c in value) if len(value) == 3 else value

    return parse


def _side(name: str) -> Callable[[str], Side]:
    """Whole pixels 1-8192, or, written with a decimal point, a fraction (0, 1] of the source (`w=0.5`)."""
    whole = _int(name, 1, MAX_SIDE)
    wrong = f"`{name}` must be a whole number from 1 to {MAX_SIDE}, or a fraction of the source from 0 to 1"

    def parse(value: str) -> Side:
        if "." not in value:
            return whole(value)
        try:
            number = float(value)
        except ValueError:
            raise InvalidParam(wrong) from None
        if 0 < number <= 1:
            return number
        if number.is_integer() and 1 <= number <= MAX_SIDE:
            return int(number)
        raise InvalidParam(wrong)

    return parse


def _rect(value: str) -> tuple[int, int, int, int]:
    parts = value.split(",")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 6 for p in parts) or int(parts[2]) < 1 or int(parts[3]) < 1:
        raise InvalidParam(f"`rect` must be x,y,width,height in whole source pixels, got {value!r}")
    x, y, w, h = (int(p) for p in parts)
    return x, y, w, h


def _crop(value: str) -> str:
    """A comma list as imgix writes it (`faces,top`): a smart crop wins over sides; sides combine."""
    tokens = [_CROP_ALIASES.get(t, t) for t in value.lower().replace(" ", "").split(",") if t]
    unknown = [t for t in tokens if t not in CROPS]
    if unknown or not tokens:
        raise InvalidParam(f"`crop` must be a list of {', '.join(CROPS)}, faces, edges, got {value!r}")
    for mode in ("focalpoint", *SMART_CROPS):
        if mode in tokens:
            return mode
    sides = [s for s in SIDES if s in tokens]
    if ("top" in sides and "bottom" in sides) or ("left" in sides and "right" in sides):
        raise InvalidParam(f"`crop` names opposite sides, got {value!r}")
    return ",".join(sides) if sides else "center"


_AUTO = ("compress", "format")
_AUTO_IGNORED = frozenset({"enhance", "redeye", "true"})
"""imgix's photo corrections: accepted, not applied (the masters here are generated or uploaded as wanted)."""


def _auto(value: str) -> str:
    tokens = {t for t in value.lower().replace(" ", "").split(",") if t}
    unknown = tokens - set(_AUTO) - _AUTO_IGNORED
    if unknown:
        raise InvalidParam(f"`auto` must be a list of format, compress, enhance, redeye, got {value!r}")
    return ",".join(t for t in _AUTO if t in tokens)


def _bool(name: str) -> Callable[[str], bool]:
    def parse(value: str) -> bool:
        if value.lower() in ("1", "true"):
            return True
        if value.lower() in ("0", "false", ""):
            return False
        raise InvalidParam(f"`{name}` must be 1, 0, true or false, got {value!r}")

    return parse


def _orient(value: str) -> int:
    if value not in ("0", "1", "2", "3", "4", "5", "6", "7", "8", "90", "180", "270"):
        raise InvalidParam(f"`orient` must be 1-8 (EXIF) or 90, 180, 270, got {value!r}")
    return int(value)


def _quality(value: str) -> int:
    return max(1, _int("q", 0, 100)(value))  # imgix allows 0; the encoders start at 1


_OUTPUT_NAMES = {e: f.name for f in OUTPUTS for e in f.extensions} | {"pjpg": "jpg"}
"""jpg is always progressive here, so imgix's `pjpg` is jpg."""
_PADS = {"pad-top": 0, "pad-right": 1, "pad-bottom": 2, "pad-left": 3}

ParamKind = Literal["integer", "number", "string", "boolean"]


class Param(msgspec.Struct, frozen=True, kw_only=True):
    """One query parameter: its parser, and what the OpenAPI document says about it (`http.openapi`).

    The ranges and choices the document shows are the ones the parser is built
    from, so the two cannot disagree.
    """

    name: str
    kind: ParamKind
    description: str
    parse: Callable[[str], Any]
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    default: str | None = None
    pattern: str | None = None


def _int_param(name: str, low: int, high: int, description: str, default: str | None = None) -> Param:
    return Param(name=name, kind="integer", description=description, parse=_int(name, low, high), minimum=low, maximum=high, default=default)


def _float_param(name: str, low: float, high: float, description: str, default: str | None = None) -> Param:
    return Param(name=name, kind="number", description=description, parse=_float(name, low, high), minimum=low, maximum=high, default=default)


def _choice_param(name: str, choices: tuple[str, ...], description: str, aliases: dict[str, str] | None = None, default: str | None = None) -> Param:
    return Param(
        name=name, kind="string", description=description, parse=_choice(name, choices, aliases), choices=choices + tuple(aliases or ()), default=default
    )


_FM_CHOICES = (*(f.name for f in OUTPUTS), JSON)
_SIDE_TEXT = "whole pixels 1-8192, or written with a decimal point a fraction (0, 1] of the source (of `rect` when given)"
_COLOUR = r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8}|[a-z]+)$"
PARAMS: tuple[Param, ...] = (
    Param(name="w", kind="number", description=f"Output width: {_SIDE_TEXT}.", parse=_side("w"), minimum=0, maximum=MAX_SIDE),
    Param(name="h", kind="number", description=f"Output height: {_SIDE_TEXT}.", parse=_side("h"), minimum=0, maximum=MAX_SIDE),
    _float_param("dpr", 1, MAX_DPR, "Device pixel ratio: multiplies `w`, `h` and `pad`.", "1"),
    Param(name="ar", kind="string", description="Aspect ratio `W:H` (1:100 to 100:1) with fit=crop or min; on `/g` it also picks the master's aspect class.",
          parse=_ratio, pattern=r"^\d{1,5}[:x]\d{1,5}$"),
    Param(name="rect", kind="string", description="Source region `x,y,width,height` in source pixels, clipped to the image.", parse=_rect,
          pattern=r"^\d{1,6},\d{1,6},\d{1,6},\d{1,6}$"),
    _choice_param("fit", FITS, "How the image fits the `w`×`h` box (imgix's names; `facearea` is a `crop` with `crop=faces`).", default="clip"),
    Param(name="crop", kind="string", description="Where a cut is placed: a comma list of focalpoint, entropy, edges, faces, attention, center, "
          "top, bottom, left, right. Default: the asset's stored focal point.", parse=_crop, pattern=r"^[a-z,]+$"),
    _float_param("fp-x", 0, 1, "Focal point, horizontal fraction (with crop=focalpoint)."),
    _float_param("fp-y", 0, 1, "Focal point, vertical fraction (with crop=focalpoint)."),
    _float_param("fp-z", 1, 100, "Zoom around the focal point.", "1"),
    _choice_param("fm", _FM_CHOICES, "Output format; `json` answers the asset's metadata. Default: the source's own.", {"jpeg": "jpg", "pjpg": "jpg"}),
    Param(name="auto", kind="string", description="A comma list: `format` (negotiate AVIF/WebP from `Accept`, without `fm`), `compress` (lower default quality); "
          "`enhance`, `redeye` are accepted and ignored.", parse=_auto, pattern=r"^[a-z,]+$"),
    Param(name="q", kind="integer", description="Encoder quality (0 is encoded as 1). Default: the format's own.", parse=_quality, minimum=0, maximum=100),
    Param(name="lossless", kind="boolean", description="Lossless WebP or AVIF (`1`, `true`).", parse=_bool("lossless"), default="0"),
    _float_param("blur", 0, 2000, "Gaussian blur, sigma `blur/2` output pixels (at most 50).", "0"),
    _float_param("sharp", 0, 100, "Unsharp mask strength.", "0"),
    Param(name="bg", kind="string", description="Colour behind transparency and of padding: `rgb`, `rrggbb`, `rrggbbaa` (CSS order) or a CSS colour name.",
          parse=_colour("bg"), pattern=_COLOUR),
    _choice_param(
        "fill", ("solid", "blur", "gen"),
        "How fit=fill and fillmax pad: a solid colour, a blurred copy, or `gen` (generative fill: the image extended to the box, billed once per aspect class).",
        default="solid",
    ),
    Param(name="fill-color", kind="string", description="The padding colour with fill=solid (default `bg`).", parse=_colour("fill-color"), pattern=_COLOUR),
    _int_param("pad", 0, MAX_PAD, "Padding on every side in CSS px, coloured `bg`.", "0"),
    *(_int_param(name, 0, MAX_PAD, f"Padding on the {name[4:]} in CSS px (wins over `pad`).", "0") for name in _PADS),
    _choice_param("flip", ("h", "v", "hv"), "Mirror horizontally, vertically or both.", {"vh": "hv"}),
    Param(name="orient", kind="integer", description="EXIF orientation 1-8, or 90, 180, 270 degrees, applied after the file's own.", parse=_orient,
          choices=("0", "1", "2", "3", "4", "5", "6", "7", "8", "90", "180", "270")),
    _float_param("rot", 0, 360, "Clockwise rotation in degrees; right angles turn the image before the cut.", "0"),
    Param(name="upscale", kind="boolean", description="Enlarge past the master's own size (`1`, `true`), up to the deployment's `PROMPTPIX_MAX_UPSCALE`; "
          "without it no fit enlarges the master.", parse=_bool("upscale"), default="0"),
)
"""Every transform param `/i` and `/g` read, in the order the docs list them."""
TRANSFORM_PARSERS: dict[str, Callable[[str], Any]] = {p.name: p.parse for p in PARAMS}
PRESET_PARAM = Param(
    name="preset", kind="string", description="A built-in preset (thumb, card, og, hero, avatar) or one of the project's; explicit params win.",
    parse=str, pattern=r"^[a-z0-9_-]{1,64}$",
)  # fmt: skip
_ATTRIBUTES = {f.encode_name: f.name for f in msgspec.structs.fields(TransformParams)}
_NAMES = {f.name: f.encode_name for f in msgspec.structs.fields(TransformParams)}
_SEED = _int("seed", 0, 2**31 - 1)
MAX_EXP = 2**53
"""The latest `exp` a link may carry (unix seconds): what a JSON number holds exactly."""
_EXP = _int("exp", 0, MAX_EXP)
_GEN = _choice("gen", (NEW_ARTWORK,))
GENERATE_PARAMS: tuple[Param, ...] = (
    Param(name="prompt", kind="string", description="What to draw; `@name` refers to a named asset of the project.", parse=str),
    Param(name="style", kind="string", description="A style of the project, applied to the prompt.", parse=str),
    Param(name="seed", kind="integer", description="Seed for the generator: another seed, another image.", parse=_SEED, minimum=0, maximum=2**31 - 1),
    Param(name="model", kind="string", description="A model from the project's allowed models (default: the project's).", parse=str),
    Param(name="key", kind="string", description="A publishable key of the project (`pk_…`).", parse=str),
    Param(name="sig", kind="string", description="Link signature (signed links).", parse=str),
    Param(name="exp", kind="integer", description="Expiry of a signed link, unix seconds.", parse=_EXP, minimum=0, maximum=2**53),
    _choice_param(
        "gen", (NEW_ARTWORK,),
        "`new`: a picture of its own for this aspect (art direction, one more generation) instead of a crop or extension of the prompt's one artwork.",
    ),
)
"""The params `/g` reads besides the transform ones (`parse_generate`)."""
GENERATE_NAMES = frozenset(p.name for p in GENERATE_PARAMS)
TRANSFORM_NAMES = frozenset({*TRANSFORM_PARSERS, "preset"})
"""Every param `/i` reads; any other is ignored (as imgix, Cloudinary and Cloudflare do) and never reaches a cache key."""
_SPELLING_SAFE = "-._~"
"""One percent-encoding: RFC 3986's unreserved characters bare, everything else escaped (space is %20),
which is what the imgix client and encodeURIComponent write, and what link signatures are computed over."""


def query_pairs(query_string: str | bytes) -> list[tuple[str, str]]:
    """The query's (name, value) pairs in URL order, blanks kept: what link signatures are checked over."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    return parse_qsl(query_string, keep_blank_values=True)


def query_dict(pairs: list[tuple[str, str]], known: frozenset[str] | None = None) -> dict[str, str]:
    """Pairs as a dict; a `known` parameter (all, when None) given twice is an error, never silently merged.

    Ignored parameters may repeat: they are dropped anyway.
    """
    out: dict[str, str] = {}
    for name, value in pairs:
        if name in out:
            if known is None or name in known:
                raise InvalidParam(f"`{name}` is given more than once")
            continue
        out[name] = value
    return out


def parse_query(query_string: str | bytes) -> dict[str, str]:
    return query_dict(query_pairs(query_string), TRANSFORM_NAMES | GENERATE_NAMES)


def canonical_spelling(query_string: bytes, known: frozenset[str]) -> str | None:
    """The one spelling of this query, or None when it is already spelled so.

    The known pairs in the order given, each name and value percent-encoded one
    way (`_SPELLING_SAFE`); ignored params, empty pairs and stray `&` dropped.
    Caches key on the raw query, so a route answers any other spelling with a
    redirect to this one and caches store each variant once per parameter order.
    """
    raw = query_string.decode("latin-1")
    pairs = [(k, v) for k, v in query_pairs(raw) if k in known]
    spelled = "&".join(f"{quote(k, safe=_SPELLING_SAFE)}={quote(v, safe=_SPELLING_SAFE)}" for k, v in pairs)
    return None if spelled == raw else spelled


def _expand_preset(query: dict[str, str], presets: Presets | None) -> dict[str, str]:
    """The preset's params under the query's own: explicit params win."""
    name = query.get("preset")
    if name is None:
        return query
    preset = (presets or {}).get(name)
    if preset is None:
        raise UndefinedPreset(f"`preset` {name!r} is not defined")
    merged = {**preset, **query}
    del merged["preset"]
    return merged


def _canonical(params: TransformParams) -> TransformParams:
    """Drop what cannot change the pixels, so it cannot mint a cache entry of its own."""
    if params.fm == JSON:  # metadata describes the master: no other param changes it
        return TransformParams(fm=JSON)
    changes: dict[str, Any] = {}
    fit = params.resolved_fit
    if params.fit == "clip":
        changes["fit"] = None  # the default, spelled out
    if fit == "facearea":  # no face detector: a crop around what libvips finds interesting
        changes["fit"] = "crop"
        changes["crop"] = params.crop or "attention"
    if not params.cuts:
        changes.update(ar=None, crop=None, fp_x=None, fp_y=None, fp_z=1.0)
    elif params.crop == "focalpoint":
        changes["crop"] = None
    elif params.crop is not None:
        changes["fp_z"] = 1.0  # zoom is around the focal point
    auto = [t for t in (params.auto or "").split(",") if t and not (t == "format" and params.fm) and not (t == "compress" and params.q)]
    if params.auto is not None:
        changes["auto"] = ",".join(auto) or None  # an explicit format wins (no negotiation, no Vary); so does an explicit q
    if params.lossless and params.fm not in (None, "webp", "avif"):
        changes["lossless"] = False
    if params.blur > 100:
        changes["blur"] = 100.0  # sigma is capped at 50 output pixels: past that, the same pixels
    if fit not in ("fill", "fillmax"):
        changes.update(fill=None, fill_color=None)
    elif params.fill == "solid":
        changes["fill"] = None
    if params.fill in ("blur", "gen"):
        changes["fill_color"] = None
    if params.orient in (0, 1):
        changes["orient"] = None
    if params.rot in (0.0, 360.0):
        changes["rot"] = 0.0
    if params.pad == (0, 0, 0, 0):
        changes["pad"] = None
    return msgspec.structs.replace(params, **changes) if changes else params


def parse_transform(query: dict[str, str], *, allowed_extra: frozenset[str] = frozenset(), presets: Presets | None = None) -> TransformParams:
    """Validate every param this service reads, expand `preset` (from `presets`: built-ins, or a project's over them).

    Any other param is ignored (`allowed_extra` is kept for callers that name their own).
    """
    values: dict[str, Any] = {}
    pads: list[int] | None = None
    for name, raw in _expand_preset(query, presets).items():
        parser = TRANSFORM_PARSERS.get(name)
        if parser is None:
            continue
        if name == "pad" or name in _PADS:
            pads = pads or [0, 0, 0, 0]
            if name == "pad":
                pads = [parser(raw)] * 4 if not any(pads) else [p or parser(raw) for p in pads]
            else:
                pads[_PADS[name]] = parser(raw)
            continue
        values[_ATTRIBUTES[name]] = parser(raw)
    if pads is not None:
        values["pad"] = tuple(pads)
    params = TransformParams(**values)
    if (params.fp_x is not None or params.fp_y is not None) and params.crop not in (None, "focalpoint"):
        raise InvalidParam(f"`fp-x` and `fp-y` only apply to crop=focalpoint, not crop={params.crop}")
    return _canonical(params)


def requested_aspect(query: dict[str, str]) -> tuple[int, int] | None:
    """The `ar` a URL asks for, whatever its fit: on `/g` it picks the master's aspect class."""
    raw = query.get("ar")
    return _ratio(raw) if raw is not None else None


def parse_generate(query: dict[str, str], *, max_prompt_chars: int) -> GenerateParams:
    """The generation params of `/g/`, `/v1/generations`, MCP and links about to be signed: one function, one refusal."""
    for name in GENERATE_NAMES & query.keys():
        check_text(query[name], f"`{name}`", line_breaks=name == "prompt")
    prompt = query.get("prompt", "").strip()
    if not prompt:
        raise InvalidParam("`prompt` is required")
    if len(prompt) > max_prompt_chars:
        raise InvalidParam(f"`prompt` is longer than {max_prompt_chars} characters")
    style = query.get("style") or None
    model = query.get("model") or None
    return GenerateParams(
        prompt=prompt,
        style=style,
        seed=_SEED(query["seed"]) if "seed" in query else None,
        model=model,
        key=query.get("key") or None,
        sig=query.get("sig") or None,
        exp=_EXP(query["exp"]) if "exp" in query else None,
        gen=_GEN(query["gen"]) if "gen" in query else None,
    )


def check_link_params(params: dict[str, str], *, expires: int | None, max_prompt_chars: int) -> GenerateParams:
    """Refuse a link about to be signed that `/g/` would refuse: the same parsers, with the `exp` it will carry."""
    parse_transform(params, allowed_extra=GENERATE_NAMES)
    with_exp = {**params, "exp": str(expires)} if expires is not None else params
    return parse_generate(with_exp, max_prompt_chars=max_prompt_chars)


def _format(name: str, value: Any) -> str:
    if isinstance(value, tuple):
        return ("," if len(value) == 4 else ":").join(str(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        text = f"{value:g}"
        return text + ".0" if name in ("w", "h") and "." not in text else text  # w=1.0 is the whole side, w=1 one pixel
    return str(value)


_DEFAULTS = msgspec.structs.asdict(TransformParams())


def canonical_query(params: TransformParams) -> str:
    """Sorted `name=value` pairs with defaults dropped: equal requests, equal strings."""
    pairs = sorted((_NAMES[k], _format(k, v)) for k, v in msgspec.structs.asdict(params).items() if v != _DEFAULTS[k])
    return "&".join(f"{k}={quote(v, safe=_SPELLING_SAFE)}" for k, v in pairs)
