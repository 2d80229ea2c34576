"""`/v1/organization` and `/v1/projects`: the caller's organisation and its projects.

A secret key belongs to one project, and through it to one organisation. Any
secret key reads its organisation; a key with `projects:admin` lists, reads,
creates and changes the organisation's projects. Another organisation's
project is a 404, like a missing one.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from delivery.access.projects import NewProject, ProjectChange, change_project, open_project
from delivery.db.organizations import get_organization
from delivery.db.projects import Project, get_organization_project, list_projects
from delivery.errors import UnknownOrganization, UnknownProject
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.services import Services

__all__ = ["create_project", "edit_project", "list_organization_projects", "read_organization", "read_project"]

_ADMIN = {"scope": "projects:admin"}


class OrganizationView(msgspec.Struct, frozen=True):
    id: int
    name: str
    created_at: dt.datetime
    projects: int
    """How many projects it has."""


class ProjectView(msgspec.Struct, frozen=True):
    slug: str
    name: str
    allowed_origins: list[str]
    allow_unsigned: bool
    """Whether unsigned `/g/` links are served to the allowed origins."""
    default_style: str | None
    root_aspect: str | None
    """The aspect class new roots are drawn at when a URL gives no `ar`; None: the deployment's (PROMPTPIX_ROOT_ASPECT)."""
    created_at: dt.datetime

    @classmethod
    def of(cls, project: Project) -> ProjectView:
        return cls(**{f: getattr(project, f) for f in cls.__struct_fields__})


@get("/organization", summary="The organisation the key's project belongs to", responses=problems(404))
async def read_organization(request: Request, principal: NamedDependency[Principal]) -> OrganizationView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        org = await get_organization(conn, id=principal.project.organization_id)
        if org is None:  # a project's organisation is a foreign key: only a race with deleting it gets here
            raise UnknownOrganization()
        count = await conn.fetchval("SELECT count(*) FROM projects WHERE organization_id = $1", org.id)
    return OrganizationView(id=org.id, name=org.name, created_at=org.created_at, projects=count)


@get("/projects", opt=_ADMIN, summary="The organisation's projects, by slug", responses=problems())
async def list_organization_projects(request: Request, principal: NamedDependency[Principal]) -> list[ProjectView]:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        return [ProjectView.of(p) for p in await list_projects(conn, organization_id=principal.project.organization_id)]


@post("/projects", opt=_ADMIN, summary="Create a project in the organisation (and its default style)", responses=problems(409, 422))
async def create_project(request: Request, principal: NamedDependency[Principal], data: JSONBody[NewProject]) -> ProjectView:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        return ProjectView.of(await open_project(conn, organization_id=principal.project.organization_id, spec=data))


async def _project(services: Services, principal: Principal, slug: str) -> Project:
    async with services.pool.acquire() as conn:
        project = await get_organization_project(conn, organization_id=principal.project.organization_id, slug=slug)
    if project is None:
        raise UnknownProject()
    return project


@get("/projects/{project:str}", opt=_ADMIN, summary="One of the organisation's projects", responses=problems(404))
async def read_project(request: Request, principal: NamedDependency[Principal], project: FromPath[str]) -> ProjectView:
    return ProjectView.of(await _project(request.app.state.services, principal, project))


@patch("/projects/{project:str}", opt=_ADMIN, summary="Rename a project, set its allowed origins, default style or root aspect", responses=problems(404, 422))
async def edit_project(request: Request, principal: NamedDependency[Principal], project: FromPath[str], data: JSONBody[ProjectChange]) -> ProjectView:
    services: Services = request.app.state.services
    found = await _project(services, principal, project)
    async with services.pool.acquire() as conn:
        return ProjectView.of(await change_project(conn, project=found, change=data))
