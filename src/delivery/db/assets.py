"""Queries for assets: the stored masters every image URL is served from."""

from __future__ import annotations

import datetime as dt

import asyncpg
import msgspec

from delivery.errors import NotFound

__all__ = ["Asset", "NewAsset", "find_generated_asset", "get_asset", "insert_asset"]


class NewAsset(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: int
    source: str
    storage_key: str
    mime: str
    width: int
    height: int
    bytes: int
    focal_x: float = 0.5
    focal_y: float = 0.5
    alt_text: str = ""
    tags: list[str] = []
    colors: list[str] = []
    prompt: str | None = None
    enhanced_prompt: str | None = None
    style: str | None = None
    provider: str | None = None
    model: str | None = None
    offline: bool = False
    generation_key: str | None = None


class Asset(NewAsset, frozen=True, kw_only=True):
    created_at: dt.datetime
    deleted_at: dt.datetime | None = None


_COLUMNS = tuple(f.name for f in msgspec.structs.fields(NewAsset))
_INSERT = (
    f"INSERT INTO assets ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_COLUMNS) + 1))}) "
    "ON CONFLICT DO NOTHING RETURNING *"
)


async def insert_asset(conn: asyncpg.Connection, *, asset: NewAsset) -> Asset:
    """Insert, or return the row that won a race for the same id or generation key."""
    row = await conn.fetchrow(_INSERT, *(getattr(asset, c) for c in _COLUMNS))
    if row is None:
        row = await conn.fetchrow(
            """SELECT * FROM assets WHERE id = $1
               OR (project_id = $2 AND generation_key = $3)""",
            asset.id,
            asset.project_id,
            asset.generation_key,
        )
    return Asset(**row)


async def get_asset(conn: asyncpg.Connection, *, id: str) -> Asset:
    row = await conn.fetchrow("SELECT * FROM assets WHERE id = $1 AND deleted_at IS NULL", id)
    if row is None:
        raise NotFound("asset not found")
    return Asset(**row)


async def find_generated_asset(conn: asyncpg.Connection, *, project_id: int, generation_key: str) -> Asset | None:
    row = await conn.fetchrow(
        "SELECT * FROM assets WHERE project_id = $1 AND generation_key = $2 AND deleted_at IS NULL",
        project_id,
        generation_key,
    )
    return None if row is None else Asset(**row)
