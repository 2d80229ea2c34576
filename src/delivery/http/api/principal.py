"""Who is calling `/v1`: the secret key in `Authorization`, its project, and the scope the route needs."""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Request

from delivery.access.keys import authenticate_secret_key
from delivery.db.api_keys import ApiKey
from delivery.db.projects import Project, get_organization_project, get_project
from delivery.errors import MissingScope, OtherProject, UnknownProject
from delivery.services import Services

__all__ = ["Principal", "provide_principal"]


class Principal(msgspec.Struct, frozen=True):
    key: ApiKey
    project: Project

    async def project_named(self, services: Services, slug: str) -> Project:
        """The caller's own project or, for a key with `projects:admin`, another of its organisation's.

        Any other slug (existing or not) is 403, so nothing leaks.
        """
        if slug == self.project.slug:
            return self.project
        if "projects:admin" in self.key.scopes:
            async with services.pool.acquire() as conn:
                found = await get_organization_project(conn, organization_id=self.project.organization_id, slug=slug)
            if found is not None:
                return found
        raise OtherProject()


async def provide_principal(request: Request) -> Principal:
    """Authenticate, then check the scope the handler declares in `opt={"scope": …}`."""
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        key = await authenticate_secret_key(conn, authorization=request.headers.get("authorization"), now=dt.datetime.now(dt.UTC))
        project = await get_project(conn, id=key.project_id)
    if project is None:  # a key's project is a foreign key: only a race with deleting the project gets here
        raise UnknownProject()
    scope = request.route_handler.opt.get("scope")
    if scope and scope not in key.scopes:
        raise MissingScope(f"this key lacks the `{scope}` scope")
    return Principal(key=key, project=project)
