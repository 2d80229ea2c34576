"""`POST /v1/projects/{project}/links`: sign a `/g/` link for a page."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from delivery.access.links import default_link_key, sign_link
from delivery.db.api_keys import get_api_key
from delivery.errors import UnknownKey
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.images.params import MAX_EXP, check_link_params
from delivery.services import Services

__all__ = ["sign_project_link"]

_MAX_EXP = MAX_EXP


class LinkRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    params: dict[str, str]
    """`prompt` and any transform or generation params; `key`, `sig` and `exp` are set by the server."""
    key_id: str | None = None
    """A publishable key of the project; None: its oldest live one."""
    expires_in: Annotated[int, msgspec.Meta(ge=1, le=_MAX_EXP)] | None = None
    """Seconds the link stays valid; None never expires. The `exp` it makes must be one `/g/` accepts."""


class SignedLink(msgspec.Struct, frozen=True):
    url: str
    path: str
    expires: int | None


@post("/projects/{project:str}/links", opt={"scope": "generate"}, status_code=200, responses=problems(404), summary="Sign a /g/ link")
async def sign_project_link(request: Request, project: FromPath[str], principal: NamedDependency[Principal], data: JSONBody[LinkRequest]) -> SignedLink:
    services: Services = request.app.state.services
    owner = await principal.project_named(services, project)
    params = {k: v for k, v in data.params.items() if k not in ("key", "sig", "exp")}
    now = dt.datetime.now(dt.UTC)
    expires = int(now.timestamp()) + data.expires_in if data.expires_in else None
    check_link_params(params, expires=expires, max_prompt_chars=services.settings.max_prompt_chars)
    async with services.pool.acquire() as conn:
        if data.key_id:
            key = await get_api_key(conn, id=data.key_id)
            if key is None:
                raise UnknownKey("unknown key")
        else:
            key = await default_link_key(conn, project=owner, now=now)
        path = await sign_link(
            conn, request.app.state.keyring, project=owner, key=key, params=params, expires=expires, now=now
        )
    return SignedLink(url=services.settings.resolved_public_url + path, path=path, expires=expires)
