"""Queries for projects, addressed in URLs by their slug."""

from __future__ import annotations

import datetime as dt

import asyncpg
import msgspec

from delivery.errors import NotFound

__all__ = ["Project", "create_project", "get_project_by_slug"]


class Project(msgspec.Struct, frozen=True):
    id: int
    organization_id: int
    slug: str
    name: str
    default_style: str | None
    allowed_origins: list[str]
    created_at: dt.datetime


async def create_project(
    conn: asyncpg.Connection, *, organization_id: int, slug: str, name: str, allowed_origins: list[str] | None = None
) -> Project:
    row = await conn.fetchrow(
        """INSERT INTO projects (organization_id, slug, name, allowed_origins)
           VALUES ($1, $2, $3, $4) RETURNING *""",
        organization_id,
        slug,
        name,
        allowed_origins or [],
    )
    return Project(**row)


async def get_project_by_slug(conn: asyncpg.Connection, *, slug: str) -> Project:
    row = await conn.fetchrow("SELECT * FROM projects WHERE slug = $1", slug)
    if row is None:
        raise NotFound("project not found")
    return Project(**row)
