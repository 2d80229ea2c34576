"""Named presets and `srcset` building.

A preset is a mapping of raw params, expanded before validation with the
URL's own params on top (explicit params win). Built-ins are below; their names
are reserved, so `preset=thumb` means the same in every project and `/i/` can
expand it before it knows the asset's project (no database on a cache hit). A
project's own presets (`/v1/presets`, delivery.db.presets) are looked up once
the project is known; since a project can redefine them, responses that used
one are cached like aliases rather than as immutable.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

import msgspec

from delivery.db.connection import Conn
from delivery.db.presets import Preset, put_preset
from delivery.db.reads import Reads
from delivery.errors import EmptyPreset, ReservedName, UndefinedPreset
from delivery.images.params import TransformParams, canonical_query, parse_transform

__all__ = ["BUILTIN_PRESETS", "SRCSET_WIDTHS", "canonical_preset", "names_project_preset", "project_transform", "save_preset", "srcset"]

BUILTIN_PRESETS: dict[str, dict[str, str]] = {
    "thumb": {"w": "200", "h": "200", "fit": "crop"},
    "card": {"w": "600", "h": "400", "fit": "crop"},
    "og": {"w": "1200", "h": "630", "fit": "crop", "fm": "jpg"},  # social crawlers read JPEG, not AVIF or WebP
    "hero": {"w": "1920", "ar": "16:9", "fit": "crop"},
    "avatar": {"w": "128", "h": "128", "fit": "crop", "crop": "attention"},
}

SRCSET_WIDTHS = (320, 640, 960, 1280, 1920, 2560)
"""The widths every fluid `srcset` offers (the API's asset URLs among them): few enough that they stay cached."""
_DPRS = (1, 2, 3)


def _url(base: str, params: TransformParams, extra: str) -> str:
    query = "&".join(part for part in (canonical_query(params), extra) if part)
    return f"{base}?{query}" if query else base


def srcset(base: str, params: TransformParams, *, widths: tuple[int, ...] = SRCSET_WIDTHS, extra: dict[str, str] | None = None) -> str:
    """An `srcset` value for `base` (e.g. `https://img…/i/{id}`), in canonical URLs so each hits one cache entry.

    With a fixed `w` or `h` the image has one layout size, so the candidates
    are densities (1x, 2x, 3x); otherwise they are widths (`320w`, …), keeping
    `ar` and the other params. `extra` carries non-transform params such as `key`.
    """
    suffix = "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted((extra or {}).items()))
    if params.w is not None or params.h is not None:
        return ", ".join(f"{_url(base, msgspec.structs.replace(params, dpr=float(d)), suffix)} {d}x" for d in _DPRS)
    return ", ".join(f"{_url(base, msgspec.structs.replace(params, w=w, dpr=1.0), suffix)} {w}w" for w in widths)


def names_project_preset(query: dict[str, str]) -> bool:
    """True when `preset` names something other than a built-in: only the project can say what."""
    name = query.get("preset")
    return name is not None and name not in BUILTIN_PRESETS


async def project_transform(
    reads: Reads, project_id: int, query: dict[str, str], *, allowed_extra: frozenset[str] = frozenset()
) -> TransformParams:
    """Parse `query` whose `preset` is one of the project's own."""
    name = query["preset"]
    preset = await reads.preset(project_id, name)
    if preset is None:
        raise UndefinedPreset(f"`preset` {name!r} is not defined")
    return parse_transform(query, allowed_extra=allowed_extra, presets={name: dict(parse_qsl(preset.query))})


def canonical_preset(params: dict[str, str]) -> str:
    """The canonical query a preset stores: parsed like URL params, so a stored preset never expands into a 400."""
    query = canonical_query(parse_transform(params))
    if not query:
        raise EmptyPreset()
    return query


async def save_preset(conn: Conn, *, project_id: int, name: str, params: dict[str, str]) -> Preset:
    """Create or redefine a project preset (`/v1/presets` and the console); built-in names are reserved."""
    if name in BUILTIN_PRESETS:
        raise ReservedName(f"`{name}` is a built-in preset; its name is reserved so it means the same everywhere")
    return await put_preset(conn, project_id=project_id, name=name, query=canonical_preset(params))
