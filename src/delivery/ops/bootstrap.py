"""First-run set-up for the embedded default: a demo organisation, project and publishable key."""

from __future__ import annotations

import secrets

import msgspec

from delivery.access.keys import KeySpec, create_key
from delivery.db.billing import ensure_account
from delivery.db.connection import Conn
from delivery.db.organizations import create_organization
from delivery.db.projects import create_project, get_project_by_slug, set_link_policy
from delivery.db.signing_secrets import add_signing_secret

__all__ = ["DEMO_SLUG", "Demo", "ensure_demo"]

DEMO_SLUG = "demo"


class Demo(msgspec.Struct, frozen=True):
    organization_id: int
    project_slug: str
    key_id: str
    """What links carry in `key=`; the key's secret is never needed by a link, so it is not kept."""


async def ensure_demo(conn: Conn) -> Demo:
    """Idempotent: the demo serves unsigned links from any page and never runs out of credits.

    Later runs re-assert that policy, so the demo of any existing data dir keeps working.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('promptpix-demo'))")
        project = await get_project_by_slug(conn, slug=DEMO_SLUG)
        if project is None:
            org = await create_organization(conn, name="Demo")
            project = await create_project(conn, organization_id=org.id, slug=DEMO_SLUG, name="Demo project")
        await set_link_policy(conn, id=project.id, allow_unsigned=True, allowed_origins=["*"])
        await ensure_account(conn, organization_id=project.organization_id, plan="unlimited")
        key_id = await conn.fetchval(
            """SELECT id FROM api_keys WHERE project_id = $1 AND kind = 'publishable' AND revoked_at IS NULL
               ORDER BY created_at LIMIT 1""",
            project.id,
        )
        if key_id is not None:
            if not await conn.fetchval("SELECT 1 FROM signing_secrets WHERE key_id = $1", key_id):
                await add_signing_secret(conn, key_id=key_id, salt=secrets.token_bytes(32), retire_others_at=None)
            return Demo(organization_id=project.organization_id, project_slug=project.slug, key_id=key_id)
        created = await create_key(conn, project_id=project.id, spec=KeySpec(kind="publishable", name="demo"))
        return Demo(organization_id=project.organization_id, project_slug=project.slug, key_id=created.key.id)
