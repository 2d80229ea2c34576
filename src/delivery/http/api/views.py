"""Assets as the API shows them: their fields, their `@names` and every URL they can be served at."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from delivery.db.assets import Asset, names_of
from delivery.db.connection import Conn
from delivery.db.presets import project_presets
from delivery.images.urls import AssetUrls, asset_urls

__all__ = ["AssetView", "FocalPointView", "asset_views"]


Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class FocalPointView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the subject is, as fractions of width and height; crops centre on it."""

    x: Fraction
    y: Fraction


class AssetView(msgspec.Struct, frozen=True):
    id: str
    source: Literal["generated", "uploaded"]
    mime: str
    width: int
    height: int
    bytes: int
    focal_point: FocalPointView
    alt_text: str
    tags: list[str]
    colors: list[str]
    names: list[str]
    """The `@names` that point at this asset now."""
    prompt: str | None
    enhanced_prompt: str | None
    style: str | None
    model: str | None
    offline: bool
    """Drawn by the offline renderer, not a model."""
    parent_id: str | None
    """The root (or upload) a derived master was made from; None for every other asset."""
    derivation: Literal["extend"] | None
    """How a derived master was made from its parent: `extend`, outpainted to another aspect class."""
    created_at: dt.datetime
    urls: AssetUrls


async def asset_views(conn: Conn, base: str, project_id: int, assets: list[Asset]) -> list[AssetView]:
    names = await names_of(conn, asset_ids=[a.id for a in assets])
    presets = await project_presets(conn, project_id)
    return [
        AssetView(
            id=a.id,
            source=a.source,
            mime=a.mime,
            width=a.width,
            height=a.height,
            bytes=a.bytes,
            focal_point=FocalPointView(a.focal_x, a.focal_y),
            alt_text=a.alt_text,
            tags=a.tags,
            colors=a.colors,
            names=names.get(a.id, []),
            prompt=a.prompt,
            enhanced_prompt=a.enhanced_prompt,
            style=a.style,
            model=a.model,
            offline=a.offline,
            parent_id=a.parent_id,
            derivation=a.derivation,
            created_at=a.created_at,
            urls=asset_urls(base, a, presets),
        )
        for a in assets
    ]
