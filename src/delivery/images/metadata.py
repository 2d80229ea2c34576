"""`fm=json`: an asset's metadata instead of its pixels, shaped after imgix's JSON output.

imgix answers `fm=json` with the source's properties under their own names
(`PixelWidth`, `PixelHeight`, `Content-Type`, `Content-Length`); those keys
are kept so code written against imgix reads them, and what only promptpix
knows (focal point, alt text, tags, colours, the prompt and model of a
generated asset) is under `promptpix`. Transform params do not change it: it
describes the master, as imgix's does.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from delivery.db.assets import Asset
from delivery.images.formats import by_mime

__all__ = ["JSON", "JSON_MIME", "MetadataDocument", "asset_metadata"]

JSON = "json"
"""The `fm` value (and Cloudflare's `format` value) that asks for metadata."""
JSON_MIME = "application/json"


class MetadataDocument(msgspec.Struct, frozen=True):
    body: bytes
    etag: str
    """Strong, from the body: the metadata of an asset can be edited (alt text, tags), its pixels cannot."""


def _promptpix(asset: Asset) -> dict[str, Any]:
    fmt = by_mime(asset.mime)
    out: dict[str, Any] = {
        "id": asset.id,
        "format": fmt.name if fmt else None,
        "source": asset.source,
        "focal_point": {"x": round(asset.focal_x, 4), "y": round(asset.focal_y, 4)},  # stored as float4: its digits past 4 are noise
        "alt_text": asset.alt_text,
        "tags": list(asset.tags),
        "colors": list(asset.colors),
    }
    if asset.source == "generated":
        out["generation"] = {
            "prompt": asset.prompt,
            "enhanced_prompt": asset.enhanced_prompt,
            "style": asset.style,
            "provider": asset.provider,
            "model": asset.model,
            "offline": asset.offline,
        }
    return out


def asset_metadata(asset: Asset) -> MetadataDocument:
    document = {
        "PixelWidth": asset.width,
        "PixelHeight": asset.height,
        "Content-Type": asset.mime,
        "Content-Length": str(asset.bytes),  # imgix writes it as a string
        "promptpix": _promptpix(asset),
    }
    body = msgspec.json.encode(document)
    etag = '"' + hashlib.sha256(b"json:" + body).hexdigest()[:32] + '"'
    return MetadataDocument(body=body, etag=etag)
