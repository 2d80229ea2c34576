"""`promptpix projects create SLUG --org ID`: a project that URLs address by its slug.

`promptpix projects prompt-policy SLUG --block WORD --allow PHRASE`: the
project's own prompt terms, on top of the deployment's (docs/generation.md).

`promptpix projects root-aspect SLUG 16:9`: the aspect class the project's
roots are drawn at when a URL gives no `ar` (`default`: PROMPTPIX_ROOT_ASPECT).
"""

from __future__ import annotations

import argparse

import asyncpg

from delivery.cli.common import run_with_connection
from delivery.db.organizations import get_organization
from delivery.db.projects import create_project, get_project_by_slug, set_root_aspect
from delivery.errors import UnknownOrganization, UnknownProject
from delivery.prompts.policy import set_project_prompt_terms
from delivery.settings import Settings
from generation import ASPECT_CLASSES

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


def cmd_prompt_policy(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> None:
        project = await get_project_by_slug(conn, slug=args.slug)
        if project is None:
            raise UnknownProject(f"unknown project {args.slug!r}")
        blocklist = [] if args.clear else [*project.prompt_blocklist, *args.block]
        allowlist = [] if args.clear else [*project.prompt_allowlist, *args.allow]
        updated = await set_project_prompt_terms(conn, project, blocklist=blocklist, allowlist=allowlist, settings=settings)
        print(f"project {updated.slug!r}: blocked {', '.join(updated.prompt_blocklist) or 'nothing'}; allowed {', '.join(updated.prompt_allowlist) or 'nothing'}")

    return run_with_connection(settings, work)


def cmd_root_aspect(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> None:
        project = await get_project_by_slug(conn, slug=args.slug)
        if project is None:
            raise UnknownProject(f"unknown project {args.slug!r}")
        aspect = None if args.aspect == "default" else args.aspect
        await set_root_aspect(conn, project_id=project.id, aspect_class=aspect)
        print(f"project {project.slug!r}: new roots are drawn at {aspect or settings.root_aspect} when a URL gives no `ar`")

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
    policy = projects.add_parser("prompt-policy", help="the project's blocked and allowed prompt terms")
    policy.add_argument("slug")
    policy.add_argument("--block", action="append", default=[], help="word or phrase refused in prompts (repeatable)")
    policy.add_argument("--allow", action="append", default=[], help="phrase that never counts as blocked (repeatable)")
    policy.add_argument("--clear", action="store_true", help="remove the project's own terms")
    policy.set_defaults(run=cmd_prompt_policy)
    root = projects.add_parser("root-aspect", help="the aspect class the project's roots are drawn at without `ar`")
    root.add_argument("slug")
    root.add_argument("aspect", choices=[*ASPECT_CLASSES, "default"], help="an aspect class, or `default` for PROMPTPIX_ROOT_ASPECT")
    root.set_defaults(run=cmd_root_aspect)
