"""URL parameters: parse once, validate, canonicalise.

A URL's query is parsed into frozen Structs before anything expensive runs.
Unknown or repeated parameters are a 400 naming the parameter, so a random
parameter cannot mint a new cache entry; the canonical form (sorted, defaults
dropped) is what cache keys and ETags are built from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote

import msgspec

from delivery.errors import InvalidParam, UndefinedPreset
from delivery.images.formats import OUTPUTS

__all__ = [
    "CROPS",
    "FITS",
    "GENERATE_NAMES",
    "GenerateParams",
    "Presets",
    "TransformParams",
    "aspect_ratio",
    "canonical_query",
    "parse_generate",
    "parse_query",
    "parse_transform",
    "query_dict",
    "query_pairs",
]

FITS = ("crop", "clip", "max", "fill", "scale")
CROPS = ("focalpoint", "attention", "entropy", "center")
MAX_SIDE = 8192
Presets = Mapping[str, Mapping[str, str]]
"""Preset name -> raw params it expands to, e.g. {"thumb": {"w": "200", "h": "200"}}."""


class TransformParams(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    w: int | None = None
    h: int | None = None
    dpr: float = 1.0
    ar: tuple[int, int] | None = None
    fit: str | None = None
    crop: str | None = None
    """Where a fit=crop cut is centred; None is the stored focal point."""
    fp_x: float | None = msgspec.field(default=None, name="fp-x")
    fp_y: float | None = msgspec.field(default=None, name="fp-y")
    fm: str | None = None
    auto: str | None = None
    """`format`: negotiate the output format from `Accept` (only when `fm` is absent)."""
    q: int | None = None
    blur: float = 0.0
    bg: str | None = None
    """Padding colour for fit=fill, `rrggbb` or `rrggbbaa`."""

    @property
    def resolved_fit(self) -> str:
        """crop when the box has both sides (directly or through `ar`), clip otherwise."""
        if self.fit is not None:
            return self.fit
        return "crop" if (self.w is not None and self.h is not None) or self.ar is not None else "clip"


class GenerateParams(msgspec.Struct, frozen=True, kw_only=True):
    prompt: str
    style: str | None = None
    seed: int | None = None
    model: str | None = None
    key: str | None = None
    sig: str | None = None
    exp: int | None = None


def _int(name: str, low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value, 10)
        except ValueError:
            raise InvalidParam(f"`{name}` must be a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise InvalidParam(f"`{name}` must be from {low} to {high}, got {number}")
        return number

    return parse


def _float(name: str, low: float, high: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
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


_RATIO = re.compile(r"^(\d{1,5})[:x](\d{1,5})$")


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


_HEX = re.compile(r"^(?:[0-9a-f]{6}|[0-9a-f]{8})$")


def _colour(value: str) -> str:
    value = value.lower().removeprefix("#")
    if not _HEX.match(value):
        raise InvalidParam(f"`bg` must be a hex colour rrggbb or rrggbbaa, got {value!r}")
    return value


TRANSFORM_PARSERS: dict[str, Callable[[str], Any]] = {
    "w": _int("w", 1, MAX_SIDE),
    "h": _int("h", 1, MAX_SIDE),
    "dpr": _float("dpr", 1, 4),
    "ar": _ratio,
    "fit": _choice("fit", FITS),
    "crop": _choice("crop", CROPS, {"centre": "center", "focal": "focalpoint"}),
    "fp-x": _float("fp-x", 0, 1),
    "fp-y": _float("fp-y", 0, 1),
    "fm": _choice("fm", (f.name for f in OUTPUTS), {e: f.name for f in OUTPUTS for e in f.extensions}),
    "auto": _choice("auto", ("format",)),
    "q": _int("q", 1, 100),
    "blur": _float("blur", 0, 100),
    "bg": _colour,
}
_ATTRIBUTES = {f.encode_name: f.name for f in msgspec.structs.fields(TransformParams)}
_NAMES = {f.name: f.encode_name for f in msgspec.structs.fields(TransformParams)}
_SEED = _int("seed", 0, 2**31 - 1)
_EXP = _int("exp", 0, 2**53)
GENERATE_NAMES = frozenset({"prompt", "style", "seed", "model", "key", "sig", "exp"})


def query_pairs(query_string: str | bytes) -> list[tuple[str, str]]:
    """The query's (name, value) pairs in URL order, blanks kept: what link signatures are checked over."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    return parse_qsl(query_string, keep_blank_values=True)


def query_dict(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Pairs as a dict; a parameter given twice is an error, never silently merged."""
    out: dict[str, str] = {}
    for name, value in pairs:
        if name in out:
            raise InvalidParam(f"`{name}` is given more than once")
        out[name] = value
    return out


def parse_query(query_string: str | bytes) -> dict[str, str]:
    return query_dict(query_pairs(query_string))


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
    changes: dict[str, Any] = {}
    fit = params.resolved_fit
    if params.fit is not None and params.fit == msgspec.structs.replace(params, fit=None).resolved_fit:
        changes["fit"] = None  # the default, spelled out
    if fit != "crop" or params.crop == "focalpoint":
        changes["crop"] = None
    if fit != "crop":
        changes["fp_x"] = changes["fp_y"] = None
    if params.fm is not None:
        changes["auto"] = None  # an explicit format wins; no negotiation, no Vary
    return msgspec.structs.replace(params, **changes) if changes else params


def parse_transform(
    query: dict[str, str], *, allowed_extra: frozenset[str] = frozenset(), presets: Presets | None = None
) -> TransformParams:
    """Validate every param, expand `preset` (from `presets`: built-ins, or a project's over them)."""
    values: dict[str, Any] = {}
    for name, raw in _expand_preset(query, presets).items():
        parser = TRANSFORM_PARSERS.get(name)
        if parser is not None:
            values[_ATTRIBUTES[name]] = parser(raw)
        elif name not in allowed_extra:
            raise InvalidParam(f"unknown parameter `{name}`")
    params = TransformParams(**values)
    if (params.fp_x is not None or params.fp_y is not None) and params.crop not in (None, "focalpoint"):
        raise InvalidParam(f"`fp-x` and `fp-y` only apply to crop=focalpoint, not crop={params.crop}")
    return _canonical(params)


def parse_generate(query: dict[str, str], *, max_prompt_chars: int) -> GenerateParams:
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
    )


def _format(value: Any) -> str:
    if isinstance(value, tuple):
        return ":".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_DEFAULTS = msgspec.structs.asdict(TransformParams())


def canonical_query(params: TransformParams) -> str:
    """Sorted `name=value` pairs with defaults dropped: equal requests, equal strings."""
    pairs = sorted((_NAMES[k], _format(v)) for k, v in msgspec.structs.asdict(params).items() if v != _DEFAULTS[k])
    return "&".join(f"{k}={quote(v, safe=':')}" for k, v in pairs)
