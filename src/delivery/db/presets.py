"""Queries for a project's named transform presets, stored as canonical queries (delivery.images.params)."""

from __future__ import annotations

import datetime as dt

import msgspec

from delivery.db.asset_names import check_name
from delivery.db.connection import Conn, fetch_one

__all__ = ["Preset", "delete_preset", "get_preset", "list_presets", "project_presets", "put_preset"]


class Preset(msgspec.Struct, frozen=True):
    project_id: int
    name: str
    query: str
    """Canonical transform query, e.g. `fm=webp&h=400&w=600`."""
    created_at: dt.datetime
    updated_at: dt.datetime


async def put_preset(conn: Conn, *, project_id: int, name: str, query: str) -> Preset:
    """Create or redefine; the caller has canonicalised `query` with the URL parser."""
    row = await fetch_one(
        conn,
        """INSERT INTO presets (project_id, name, query) VALUES ($1, $2, $3)
           ON CONFLICT (project_id, name) DO UPDATE SET query = EXCLUDED.query, updated_at = now()
           RETURNING *""",
        project_id,
        check_name(name),
        query,
    )
    return Preset(**row)


async def get_preset(conn: Conn, *, project_id: int, name: str) -> Preset | None:
    row = await conn.fetchrow("SELECT * FROM presets WHERE project_id = $1 AND name = $2", project_id, name)
    return None if row is None else Preset(**row)


async def list_presets(conn: Conn, *, project_id: int) -> list[Preset]:
    rows = await conn.fetch("SELECT * FROM presets WHERE project_id = $1 ORDER BY name", project_id)
    return [Preset(**r) for r in rows]


async def delete_preset(conn: Conn, *, project_id: int, name: str) -> bool:
    """False: no preset has that name."""
    return await conn.fetchval("DELETE FROM presets WHERE project_id = $1 AND name = $2 RETURNING name", project_id, name) is not None


async def project_presets(conn: Conn, project_id: int) -> dict[str, str]:
    """Name -> canonical query of the project's own presets, for URL `preset=` expansion over the built-ins."""
    rows = await conn.fetch("SELECT name, query FROM presets WHERE project_id = $1 ORDER BY name", project_id)
    return {r["name"]: r["query"] for r in rows}
