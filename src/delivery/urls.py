"""The URLs the API hands out for an asset: the original, one per preset, and a `srcset`.

Preset URLs spell the preset's params out (`/i/{id}?h=200&w=200`) rather than
`?preset=thumb`: `/i/` responses are immutable, and a project can redefine a
preset at any time, so a URL that named the preset would keep showing the old
definition wherever it was cached. Spelled out, a URL never changes meaning and
shares its cache entry with anyone who writes the same params.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from delivery.db.assets import Asset

__all__ = ["BUILTIN_PRESETS", "SRCSET_WIDTHS", "AssetUrls", "asset_urls", "preset_queries"]

BUILTIN_PRESETS: dict[str, str] = {
    "thumb": "h=200&w=200",
    "card": "h=400&w=600",
    "og": "fm=jpg&h=630&w=1200",
    "hero": "ar=16:9&w=1920",
    "avatar": "crop=attention&h=128&w=128",
}
"""Built-in presets as canonical queries (DESIGN.md §1); the transform side's table is the
one to point this at once both live in one place."""

SRCSET_WIDTHS = (320, 640, 960, 1280, 1920, 2560)


class AssetUrls(msgspec.Struct, frozen=True):
    original: str
    """`/i/{id}`: the master as stored."""
    presets: dict[str, str]
    """Preset name -> URL, the built-ins and the project's own (which win on a shared name)."""
    srcset: str
    """Widths up to the master's, for `<img srcset>`."""


def preset_queries(project_presets: Mapping[str, str]) -> dict[str, str]:
    return {**BUILTIN_PRESETS, **project_presets}


def asset_urls(base: str, asset: Asset, project_presets: Mapping[str, str]) -> AssetUrls:
    original = f"{base}/i/{asset.id}"
    widths = [w for w in SRCSET_WIDTHS if w < asset.width]
    srcset = [f"{original}?w={w} {w}w" for w in widths] + [f"{original} {asset.width}w"]
    return AssetUrls(
        original=original,
        presets={name: f"{original}?{query}" for name, query in preset_queries(project_presets).items()},
        srcset=", ".join(srcset),
    )
