"""`promptpix projects create SLUG --org ID`: a project that URLs address by its slug."""

from __future__ import annotations

import argparse

import asyncpg

from delivery.cli.common import run_with_connection
from delivery.db.organizations import get_organization
from delivery.db.projects import create_project
from delivery.errors import UnknownOrganization
from delivery.settings import Settings

__all__ = ["register"]


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> None:
        org = await get_organization(conn, id=args.org)
        if org is None:
            raise UnknownOrganization()
        project = await create_project(
            conn,
            organization_id=org.id,
            slug=args.slug,
            name=args.name or args.slug,
            allowed_origins=args.origin,
            allow_unsigned=args.allow_unsigned,
        )
        links = f"unsigned links from {', '.join(project.allowed_origins) or 'nowhere'}" if project.allow_unsigned else "signed links only"
        print(f"created project {project.slug!r} (id {project.id}) in organisation {org.id} {org.name!r}: {links}")

    return run_with_connection(settings, work)


def register(commands: argparse._SubParsersAction) -> None:
    projects = commands.add_parser("projects", help="projects").add_subparsers(dest="projects_command", required=True)
    create = projects.add_parser("create", help="create a project")
    create.add_argument("slug", help="lowercase letters, digits and dashes; used in /g/{slug} URLs")
    create.add_argument("--org", type=int, required=True, help="organisation id")
    create.add_argument("--name", default="")
    create.add_argument("--origin", action="append", default=[], help="allowed page origin (repeatable), e.g. https://shop.example")
    create.add_argument("--allow-unsigned", action="store_true", help="serve unsigned /g/ links to the allowed origins")
    create.set_defaults(run=cmd_create)
