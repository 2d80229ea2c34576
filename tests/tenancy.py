"""Test tenants: an organisation with a billing account, a project, and keys, made through the real code."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import msgspec

from delivery.access.keys import ADMIN_SCOPE, GRANTABLE_SCOPES, KeySpec, create_key
from delivery.db.billing import create_account, post_entry
from delivery.db.organizations import create_organization
from delivery.db.projects import Project, create_project
from tests.cli import Cli


class Tenant(msgspec.Struct, frozen=True):
    project: Project
    publishable_id: str
    publishable_key: str
    secret_id: str
    secret_key: str

    @property
    def org(self) -> int:
        return self.project.organization_id


async def make_tenant(
    url: str,
    *,
    slug: str = "acme",
    plan: str = "prepaid",
    credits: int = 0,
    allow_unsigned: bool = False,
    origins: list[str] | None = None,
    rate_limit: int | None = None,
    operator: bool = False,
    **account: Any,
) -> Tenant:
    """`operator`: the secret key also holds the operator's `admin` scope, as `promptpix keys create --scope admin` grants."""
    conn = await asyncpg.connect(url)
    try:
        org = await create_organization(conn, name=slug.title())
        await create_account(conn, organization_id=org.id, plan=plan, **account)  # type: ignore[arg-type]  # a table of account fields, checked by the query
        if credits:
            await post_entry(conn, organization_id=org.id, kind="grant", credits=credits, note="test", now=dt.datetime.now(dt.UTC))
        project = await create_project(
            conn, organization_id=org.id, slug=slug, name=slug, allowed_origins=origins or [], allow_unsigned=allow_unsigned
        )
        pk = await create_key(conn, project_id=project.id, spec=KeySpec(kind="publishable", rate_limit=rate_limit))
        scopes = [*GRANTABLE_SCOPES, ADMIN_SCOPE] if operator else None
        sk = await create_key(conn, project_id=project.id, spec=KeySpec(kind="secret", scopes=scopes), operator=operator)
    finally:
        await conn.close()
    return Tenant(
        project=project, publishable_id=pk.key.id, publishable_key=pk.full_key, secret_id=sk.key.id, secret_key=sk.full_key
    )


async def fingerprint(url: str) -> dict[str, str]:
    """md5 of every row of every table: equal before and after means nothing was written."""
    conn = await asyncpg.connect(url)
    try:
        tables = [r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {t: await conn.fetchval(f'SELECT md5(coalesce(string_agg(x::text, \'|\' ORDER BY x::text), \'\')) FROM "{t}" x') for t in tables}
    finally:
        await conn.close()


def operator_key(cli: Cli, *, database_url: str, project: str = "acme") -> str:
    """A secret key with only the `admin` scope, made the one way there is: `promptpix keys create --scope admin`."""
    cli.env(PROMPTPIX_DATABASE_URL=database_url)
    done = cli("keys", "create", "--project", project, "--kind", "secret", "--scope", "admin", "--name", "operator")
    assert done.code == 0 and "scopes admin" in done.out, done
    return done.out.strip().splitlines()[-1]
