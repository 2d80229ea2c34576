"""Queries for styles: per-project prompt additions and a default aspect, by name.

A project's `default_style` names one of these (a foreign key keeps it honest);
`/g/` links use it when they name no `style=`.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from delivery.db.asset_names import check_name
from delivery.db.connection import Conn, fetch_one

__all__ = ["Style", "delete_style", "get_style", "list_styles", "put_style", "set_default_style"]


class Style(msgspec.Struct, frozen=True):
    project_id: int
    name: str
    prompt: str
    """Added to the user's prompt for the enhancer (GenerationRequest.style_prompt)."""
    aspect_class: str | None
    """The master's aspect when a link gives neither `ar` nor both `w` and `h`."""
    created_at: dt.datetime
    updated_at: dt.datetime


async def put_style(
    conn: Conn, *, project_id: int, name: str, prompt: str, aspect_class: str | None = None
) -> Style:
    row = await fetch_one(
        conn,
        """INSERT INTO styles (project_id, name, prompt, aspect_class) VALUES ($1, $2, $3, $4)
           ON CONFLICT (project_id, name) DO UPDATE
           SET prompt = EXCLUDED.prompt, aspect_class = EXCLUDED.aspect_class, updated_at = now()
           RETURNING *""",
        project_id,
        check_name(name),
        prompt,
        aspect_class,
    )
    return Style(**row)


async def get_style(conn: Conn, *, project_id: int, name: str) -> Style | None:
    row = await conn.fetchrow("SELECT * FROM styles WHERE project_id = $1 AND name = $2", project_id, name)
    return None if row is None else Style(**row)


async def list_styles(conn: Conn, *, project_id: int) -> list[Style]:
    rows = await conn.fetch("SELECT * FROM styles WHERE project_id = $1 ORDER BY name", project_id)
    return [Style(**r) for r in rows]


async def delete_style(conn: Conn, *, project_id: int, name: str) -> bool:
    """Deleting a project's default style also clears the default, in one transaction. False: no such style."""
    async with conn.transaction():
        await conn.execute("UPDATE projects SET default_style = NULL WHERE id = $1 AND default_style = $2", project_id, name)
        deleted = await conn.fetchval("DELETE FROM styles WHERE project_id = $1 AND name = $2 RETURNING name", project_id, name)
    return deleted is not None


async def set_default_style(conn: Conn, *, project_id: int, name: str | None) -> bool:
    """Make `name` the project's default style (None clears it); False, changing nothing, when no style has that name."""
    if name is not None and await get_style(conn, project_id=project_id, name=name) is None:
        return False
    await conn.execute("UPDATE projects SET default_style = $2 WHERE id = $1", project_id, name)
    return True
