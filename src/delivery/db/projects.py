"""Queries for projects, addressed in URLs by their slug."""

from __future__ import annotations

import datetime as dt

import msgspec

from delivery.db.connection import Conn, fetch_one

__all__ = [
    "Project",
    "all_projects",
    "create_project",
    "get_organization_project",
    "get_project",
    "get_project_by_slug",
    "list_projects",
    "rename_project",
    "set_link_policy",
    "set_prompt_policy",
    "set_root_aspect",
]


class Project(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    organization_id: int
    slug: str
    name: str
    default_style: str | None
    allowed_origins: list[str]
    created_at: dt.datetime
    allow_unsigned: bool = False
    """Whether `/g/` links without `sig` are served (to the allowed origins only)."""
    prompt_blocklist: list[str] = []
    """Terms refused in this project's prompts, besides the deployment's (generation.safety)."""
    prompt_allowlist: list[str] = []
    default_model: str | None = None
    """A catalogue model (delivery.db.models) used when `model=` is absent; None: the deployment's default."""
    allowed_models: list[str] = []
    """Catalogue models `model=` may name; empty: every enabled one."""
    root_aspect: str | None = None
    """Aspect class of this project's roots when a URL gives no `ar`; None: PROMPTPIX_ROOT_ASPECT."""


async def create_project(
    conn: Conn,
    *,
    organization_id: int,
    slug: str,
    name: str,
    allowed_origins: list[str] | None = None,
    allow_unsigned: bool = False,
) -> Project:
    row = await fetch_one(
        conn,
        """INSERT INTO projects (organization_id, slug, name, allowed_origins, allow_unsigned)
           VALUES ($1, $2, $3, $4, $5) RETURNING *""",
        organization_id,
        slug,
        name,
        allowed_origins or [],
        allow_unsigned,
    )
    return Project(**row)


async def get_project_by_slug(conn: Conn, *, slug: str) -> Project | None:
    row = await conn.fetchrow("SELECT * FROM projects WHERE slug = $1", slug)
    return None if row is None else Project(**row)


async def get_project(conn: Conn, *, id: int) -> Project | None:
    row = await conn.fetchrow("SELECT * FROM projects WHERE id = $1", id)
    return None if row is None else Project(**row)


async def get_organization_project(conn: Conn, *, organization_id: int, slug: str) -> Project | None:
    """The project with this slug if it belongs to the organisation; another organisation's is None, like a missing one."""
    row = await conn.fetchrow("SELECT * FROM projects WHERE slug = $1 AND organization_id = $2", slug, organization_id)
    return None if row is None else Project(**row)


async def rename_project(conn: Conn, *, id: int, name: str) -> Project | None:
    row = await conn.fetchrow("UPDATE projects SET name = $2 WHERE id = $1 RETURNING *", id, name)
    return None if row is None else Project(**row)


async def set_link_policy(
    conn: Conn, *, id: int, allow_unsigned: bool, allowed_origins: list[str]
) -> Project | None:
    row = await conn.fetchrow(
        "UPDATE projects SET allow_unsigned = $2, allowed_origins = $3 WHERE id = $1 RETURNING *",
        id,
        allow_unsigned,
        allowed_origins,
    )
    return None if row is None else Project(**row)


async def all_projects(conn: Conn) -> list[Project]:
    rows = await conn.fetch("SELECT * FROM projects ORDER BY organization_id, slug")
    return [Project(**r) for r in rows]


async def list_projects(conn: Conn, *, organization_id: int) -> list[Project]:
    rows = await conn.fetch("SELECT * FROM projects WHERE organization_id = $1 ORDER BY slug", organization_id)
    return [Project(**r) for r in rows]


async def set_prompt_policy(conn: Conn, *, id: int, blocklist: list[str], allowlist: list[str]) -> Project | None:
    row = await conn.fetchrow("UPDATE projects SET prompt_blocklist = $2, prompt_allowlist = $3 WHERE id = $1 RETURNING *", id, blocklist, allowlist)
    return None if row is None else Project(**row)


async def set_root_aspect(conn: Conn, *, project_id: int, aspect_class: str | None) -> Project | None:
    row = await conn.fetchrow("UPDATE projects SET root_aspect = $2 WHERE id = $1 RETURNING *", project_id, aspect_class)
    return None if row is None else Project(**row)
