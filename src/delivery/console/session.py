"""Who is using the console: the session cookie, its organisation and projects, and form checks."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import msgspec
from litestar import Request
from litestar.datastructures import FormMultiDict

from delivery.access.console import COOKIE_NAME, csrf_matches, read_session
from delivery.db.console import ConsoleSession
from delivery.db.organizations import Organization, get_organization
from delivery.db.projects import Project, list_projects
from delivery.errors import ConsoleSignInRequired, CrossSiteForm, UnknownProject
from delivery.services import Services

__all__ = ["Console", "checked_form", "provide_console"]


class Console(msgspec.Struct, frozen=True):
    session: ConsoleSession
    organization: Organization
    projects: list[Project]
    """The organisation's projects: the only ones its admin reaches."""

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    def project(self, slug: str) -> Project:
        """One of this organisation's projects; another organisation's is as unknown as a missing one."""
        for project in self.projects:
            if project.slug == slug:
                return project
        raise UnknownProject()


async def provide_console(request: Request) -> Console:
    services: Services = request.app.state.services
    now = dt.datetime.now(dt.UTC)
    async with services.pool.acquire() as conn:
        session = await read_session(conn, request.app.state.keyring, cookie=request.cookies.get(COOKIE_NAME), now=now)
        if session is None:
            raise ConsoleSignInRequired()
        organization = await get_organization(conn, id=session.organization_id)
        if organization is None:
            raise ConsoleSignInRequired()
        projects = await list_projects(conn, organization_id=organization.id)
    return Console(session=session, organization=organization, projects=projects)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _same_site(request: Request) -> bool:
    """A browser names the page a form came from in `Origin`; it must be this service (as addressed, or its public URL)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # no Origin (older browsers, same-origin GETs turned POST): the CSRF token decides alone
    services: Services = request.app.state.services
    return origin in (_origin(str(request.base_url)), _origin(services.settings.resolved_public_url))


async def checked_form(request: Request, console: Console) -> FormMultiDict:
    """The posted form, once its CSRF token matches the session's and its origin is this service."""
    form = await request.form()
    token = form.get("csrf")
    if not _same_site(request) or not csrf_matches(console.session, token if isinstance(token, str) else None):
        raise CrossSiteForm()
    return form
