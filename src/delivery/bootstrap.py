"""First-run set-up for the embedded default: a demo organisation, project and publishable key."""

from __future__ import annotations

import asyncpg
import msgspec

from delivery.auth import mint_key
from delivery.db.api_keys import insert_api_key
from delivery.db.organizations import create_organization
from delivery.db.projects import create_project, get_project_by_slug
from delivery.errors import NotFound

__all__ = ["DEMO_SLUG", "Demo", "ensure_demo"]

DEMO_SLUG = "demo"


class Demo(msgspec.Struct, frozen=True):
    project_slug: str
    key_id: str
    full_key: str | None
    """Shown once, when the key is created; None on later runs."""


async def ensure_demo(conn: asyncpg.Connection) -> Demo:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('promptpix-demo'))")
        try:
            project = await get_project_by_slug(conn, slug=DEMO_SLUG)
        except NotFound:
            org = await create_organization(conn, name="Demo")
            project = await create_project(conn, organization_id=org.id, slug=DEMO_SLUG, name="Demo project")
        key_id = await conn.fetchval(
            """SELECT id FROM api_keys WHERE project_id = $1 AND kind = 'publishable' AND revoked_at IS NULL
               ORDER BY created_at LIMIT 1""",
            project.id,
        )
        if key_id is not None:
            return Demo(project_slug=project.slug, key_id=key_id, full_key=None)
        minted = mint_key("publishable")
        await insert_api_key(
            conn,
            id=minted.key_id,
            project_id=project.id,
            kind="publishable",
            secret_hash=minted.secret_hash,
            name="demo",
            scopes=["generate"],
        )
        return Demo(project_slug=project.slug, key_id=minted.key_id, full_key=minted.full_key)
