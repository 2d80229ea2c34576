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
from delivery.images import presets
from delivery.images.params import TransformParams, canonical_query, parse_transform

__all__ = ["BUILTIN_PRESET_QUERIES", "AssetUrls", "asset_urls", "preset_queries"]

BUILTIN_PRESET_QUERIES: dict[str, str] = {
    name: canonical_query(parse_transform(dict(params))) for name, params in presets.BUILTIN_PRESETS.items()
}
"""The built-in presets (delivery.images.presets) as canonical queries."""


class AssetUrls(msgspec.Struct, frozen=True):
    original: str
    """`/i/{id}`: the master as stored."""
    presets: dict[str, str]
    """Preset name -> URL, the built-ins and the project's own."""
    srcset: str
    """Widths up to the master's, for `<img srcset>`."""


def preset_queries(project_presets: Mapping[str, str]) -> dict[str, str]:
    return {**BUILTIN_PRESET_QUERIES, **project_presets}


def asset_urls(base: str, asset: Asset, project_presets: Mapping[str, str]) -> AssetUrls:
    original = f"{base}/i/{asset.id}"
    widths = tuple(w for w in presets.SRCSET_WIDTHS if w < asset.width)
    smaller = [presets.srcset(original, TransformParams(), widths=widths)] if widths else []
    return AssetUrls(
        original=original,
        presets={name: f"{original}?{query}" for name, query in preset_queries(project_presets).items()},
        srcset=", ".join([*smaller, f"{original} {asset.width}w"]),
    )
