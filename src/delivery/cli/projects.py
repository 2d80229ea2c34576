"""`promptpix projects create SLUG --org ID`: a project that URLs address by its slug.

`promptpix projects list [--org ID]`, `promptpix projects show SLUG`: what exists.

`promptpix projects prompt-policy SLUG --block WORD --allow PHRASE`: the
project's own prompt terms, on top of the deployment's (docs/generation.md).

`promptpix projects root-aspect SLUG 16:9`: the aspect class the project's
roots are drawn at when a URL gives no `ar` (`default`: PROMPTPIX_ROOT_ASPECT).
"""

from __future__ import annotations

import argparse
import datetime as dt

from delivery.access.projects import NewProject, ProjectChange, change_project, open_project
from delivery.cli.common import database_id, nonempty, project_by_slug, run_with_connection
from delivery.db.api_keys import list_api_keys
from delivery.db.connection import Conn
from delivery.db.organizations import get_organization
from delivery.db.projects import Project, all_projects, list_projects
from delivery.errors import UnknownOrganization
from delivery.prompts.policy import set_project_prompt_terms
from delivery.settings import Settings
from generation import ASPECT_CLASSES

__all__ = ["register"]


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        org = await get_organization(conn, id=args.org)
        if org is None:
            raise UnknownOrganization()
        spec = NewProject(
            slug=args.slug, name=nonempty(args.name, "--name") if args.name else "", allowed_origins=args.origin, allow_unsigned=args.allow_unsigned
        )
        project = await open_project(conn, organization_id=org.id, spec=spec)  # the API's checks: slug, name, origins
        links = f"unsigned links from {', '.join(project.allowed_origins) or 'nowhere'}" if project.allow_unsigned else "signed links only"
        print(f"created project {project.slug!r} (id {project.id}) in organisation {org.id} {org.name!r}: {links}")

    return run_with_connection(settings, work)


def cmd_prompt_policy(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        project = await project_by_slug(conn, args.slug)
        blocklist = [] if args.clear else [*project.prompt_blocklist, *args.block]
        allowlist = [] if args.clear else [*project.prompt_allowlist, *args.allow]
        updated = await set_project_prompt_terms(conn, project, blocklist=blocklist, allowlist=allowlist, settings=settings)
        print(f"project {updated.slug!r}: blocked {', '.join(updated.prompt_blocklist) or 'nothing'}; allowed {', '.join(updated.prompt_allowlist) or 'nothing'}")

    return run_with_connection(settings, work)


def _links(project: Project) -> str:
    return f"unsigned links from {', '.join(project.allowed_origins) or 'nowhere'}" if project.allow_unsigned else "signed links only"


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        found = await list_projects(conn, organization_id=args.org) if args.org else await all_projects(conn)
        for project in found:
            print(f"{project.slug}\t{project.id}\torg {project.organization_id}\t{project.name}\t{_links(project)}")

    return run_with_connection(settings, work)


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        project = await project_by_slug(conn, args.slug)
        keys = await list_api_keys(conn, project_id=project.id)
        now = dt.datetime.now(dt.UTC)
        print(f"project {project.slug!r} (id {project.id}) {project.name!r} in organisation {project.organization_id}")
        print(f"links: {_links(project)}")
        print(f"keys: {sum(k.active(now) for k in keys)} live of {len(keys)} (`promptpix keys list --project {project.slug}`)")

    return run_with_connection(settings, work)


def cmd_root_aspect(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        project = await project_by_slug(conn, args.slug)
        aspect = None if args.aspect == "default" else args.aspect
        await change_project(conn, project=project, change=ProjectChange(root_aspect=aspect))
        print(f"project {project.slug!r}: new roots are drawn at {aspect or settings.root_aspect} when a URL gives no `ar`")

    return run_with_connection(settings, work)


def register(commands: argparse._SubParsersAction) -> None:
    projects = commands.add_parser("projects", help="projects").add_subparsers(dest="projects_command", required=True)
    create = projects.add_parser("create", help="create a project")
    create.add_argument("slug", help="lowercase letters, digits and dashes; used in /g/{slug} URLs")
    create.add_argument("--org", type=database_id, required=True, help="organisation id (`promptpix orgs list`)")
    create.add_argument("--name", default="")
    create.add_argument("--origin", action="append", default=[], help="allowed page origin (repeatable), e.g. https://shop.example")
    create.add_argument("--allow-unsigned", action="store_true", help="serve unsigned /g/ links to the allowed origins")
    create.set_defaults(run=cmd_create)
    listing = projects.add_parser("list", help="every project (of one organisation with --org)")
    listing.add_argument("--org", type=database_id, help="organisation id")
    listing.set_defaults(run=cmd_list)
    show = projects.add_parser("show", help="a project: organisation, link policy, keys")
    show.add_argument("slug")
    show.set_defaults(run=cmd_show)
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
