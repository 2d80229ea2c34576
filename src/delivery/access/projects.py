"""Creating and changing an organisation's projects: the rules `/v1/projects` and the console share.

Slugs are unique across the service (they are the `/g/{slug}` in links), so a
slug another organisation holds is taken here too. A project's allowed origins
are the pages that may use its unsigned links; giving some turns unsigned
links on unless the caller says otherwise.
"""

from __future__ import annotations

import re

import asyncpg
import msgspec

from delivery.db.connection import Conn
from delivery.db.projects import (
    Project,
    create_project,
    get_project,
    get_project_by_slug,
    rename_project,
    set_link_policy,
    set_root_aspect,
)
from delivery.db.styles import set_default_style
from delivery.errors import InvalidField, SlugTaken, UndefinedStyle, UnknownProject
from delivery.prompts.styles import save_style
from generation import ASPECT_CLASSES

__all__ = [
    "MAX_ORIGINS",
    "MAX_PROJECT_NAME",
    "NewProject",
    "NewProjectStyle",
    "ProjectChange",
    "change_project",
    "check_root_aspect",
    "open_project",
]

MAX_PROJECT_NAME = 200
MAX_ORIGINS = 50
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # the projects.slug CHECK constraint, checked first for a clear message
_ORIGIN = re.compile(r"https?://(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?")


class NewProjectStyle(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A style made with the project and set as its default."""

    name: str
    prompt: str = ""
    aspect_ratio: str | None = None


class NewProject(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: str
    """Lowercase letters, digits and dashes, starting with a letter or digit; at most 63 characters."""
    name: str = ""
    """Defaults to the slug."""
    allowed_origins: list[str] = []
    """Pages that may use unsigned links: `*`, exact origins (`https://shop.example`) or `https://*.example.com`."""
    allow_unsigned: bool | None = None
    """Serve unsigned `/g/` links to the allowed origins; default: whether any origins are given."""
    default_style: NewProjectStyle | None = None


class ProjectChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields left out stay as they are."""

    name: str | None = None
    allowed_origins: list[str] | None = None
    allow_unsigned: bool | None = None
    default_style: str | msgspec.UnsetType | None = msgspec.UNSET
    """The name of one of the project's styles; null clears the default."""
    root_aspect: str | msgspec.UnsetType | None = msgspec.UNSET
    """The aspect class (`16:9`) new roots are drawn at when a URL gives no `ar`; null: PROMPTPIX_ROOT_ASPECT."""


def _slug(slug: str) -> str:
    if not _SLUG.fullmatch(slug):
        raise InvalidField("`slug` must be 1–63 lowercase letters, digits and dashes, starting with a letter or digit")
    return slug


def _name(name: str) -> str:
    if len(name) > MAX_PROJECT_NAME:
        raise InvalidField(f"`name` is longer than {MAX_PROJECT_NAME} characters")
    if not name.isprintable():  # PostgreSQL text refuses NUL, and a name is one line
        raise InvalidField("`name` must be printable characters on one line")
    return name.strip()


def _origins(origins: list[str]) -> list[str]:
    if len(origins) > MAX_ORIGINS:
        raise InvalidField(f"at most {MAX_ORIGINS} allowed origins")
    cleaned = []
    for origin in origins:
        value = origin.strip().lower().rstrip("/")
        if value != "*" and not _ORIGIN.fullmatch(value):
            raise InvalidField(f"`{origin[:100]}` is not an origin: use `*`, `https://shop.example` or `https://*.example.com`")
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def check_root_aspect(value: str | None) -> str | None:
    """A project's root aspect: one of the aspect classes the providers draw, or None for the deployment's."""
    if value is not None and value not in ASPECT_CLASSES:
        raise InvalidField(f"`root_aspect` must be an aspect class ({', '.join(ASPECT_CLASSES)}) or null for the deployment's default")
    return value


async def open_project(conn: Conn, *, organization_id: int, spec: NewProject) -> Project:
    """Create a project in the organisation (and its default style, when given) in one transaction."""
    slug, name, origins = _slug(spec.slug), _name(spec.name), _origins(spec.allowed_origins)
    allow_unsigned = bool(origins) if spec.allow_unsigned is None else spec.allow_unsigned
    async with conn.transaction():
        if await get_project_by_slug(conn, slug=slug) is not None:
            raise SlugTaken(f"the slug `{slug}` is taken")
        try:
            project = await create_project(
                conn, organization_id=organization_id, slug=slug, name=name or slug, allowed_origins=origins, allow_unsigned=allow_unsigned
            )
        except asyncpg.UniqueViolationError:  # a concurrent request took the slug between the check and the insert
            raise SlugTaken(f"the slug `{slug}` is taken") from None
        if spec.default_style is not None:
            style = spec.default_style
            await save_style(conn, project_id=project.id, name=style.name, prompt=style.prompt, aspect_ratio=style.aspect_ratio, default=True)
            project = msgspec.structs.replace(project, default_style=style.name)
    return project


async def change_project(conn: Conn, *, project: Project, change: ProjectChange) -> Project:
    """Apply the fields the change sets, in one transaction; the project as it is afterwards."""
    async with conn.transaction():
        if change.name is not None:
            await rename_project(conn, id=project.id, name=_name(change.name) or project.slug)
        if change.allowed_origins is not None or change.allow_unsigned is not None:
            origins = project.allowed_origins if change.allowed_origins is None else _origins(change.allowed_origins)
            allow = project.allow_unsigned if change.allow_unsigned is None else change.allow_unsigned
            await set_link_policy(conn, id=project.id, allow_unsigned=allow, allowed_origins=origins)
        if not isinstance(change.default_style, msgspec.UnsetType) and not await set_default_style(conn, project_id=project.id, name=change.default_style):
            raise UndefinedStyle(f"unknown style `{change.default_style}`")
        if not isinstance(change.root_aspect, msgspec.UnsetType):
            await set_root_aspect(conn, project_id=project.id, aspect_class=check_root_aspect(change.root_aspect))
        changed = await get_project(conn, id=project.id)
    if changed is None:  # projects are never deleted by this service: only a manual DELETE gets here
        raise UnknownProject()
    return changed
