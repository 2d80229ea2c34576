"""`/v1/projects/{project}/prompt-policy`: the project's own blocked and allowed prompt terms.

The same function as `promptpix projects prompt-policy` writes them
(delivery.prompts.policy). Blocking more only narrows what the project's own
keys can generate, so `keys:admin` may do it. Allowed phrases are taken out of a
prompt before the deployment's blocklist is matched too, so changing them
could loosen the operator's policy: that needs the operator's `admin` scope.
"""

from __future__ import annotations

import msgspec
from litestar import Request, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from delivery.access.keys import ADMIN_SCOPE
from delivery.db.projects import Project
from delivery.errors import MissingScope
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.prompts.policy import set_project_prompt_terms
from delivery.services import Services
from generation import terms

__all__ = ["read_prompt_policy", "write_prompt_policy"]


class PromptPolicyView(msgspec.Struct, frozen=True):
    blocklist: list[str]
    """Words and phrases refused in this project's prompts (whole words, any case), on top of the deployment's."""
    allowlist: list[str]
    """Phrases that never count as blocked, even when they contain a blocked word."""


class PromptPolicyBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Each list given replaces the project's; one left out stays as it is."""

    blocklist: list[str] | None = None
    allowlist: list[str] | None = None


def _view(project: Project) -> PromptPolicyView:
    return PromptPolicyView(blocklist=project.prompt_blocklist, allowlist=project.prompt_allowlist)


@get("/projects/{project:str}/prompt-policy", opt={"scope": "keys:admin"}, summary="The project's own prompt terms", responses=problems())
async def read_prompt_policy(request: Request, project: FromPath[str], principal: NamedDependency[Principal]) -> PromptPolicyView:
    return _view(await principal.project_named(request.app.state.services, project))


@put(
    "/projects/{project:str}/prompt-policy",
    opt={"scope": "keys:admin"},
    summary="Replace the project's blocked and/or allowed prompt terms",
    responses=problems(422),
)
async def write_prompt_policy(
    request: Request, project: FromPath[str], principal: NamedDependency[Principal], data: JSONBody[PromptPolicyBody]
) -> PromptPolicyView:
    services: Services = request.app.state.services
    owner = await principal.project_named(services, project)
    allowlist = owner.prompt_allowlist if data.allowlist is None else data.allowlist
    if list(terms(allowlist)) != owner.prompt_allowlist and ADMIN_SCOPE not in principal.key.scopes:
        raise MissingScope(f"changing the allowlist needs the `{ADMIN_SCOPE}` scope: allowed phrases are exempt from the deployment's blocklist too")
    blocklist = owner.prompt_blocklist if data.blocklist is None else data.blocklist
    async with services.pool.acquire() as conn:
        updated = await set_project_prompt_terms(conn, owner, blocklist=blocklist, allowlist=allowlist, settings=services.settings)
    return _view(updated)
