"""`/v1/projects/{project}/keys`: create, list, revoke and rotate a project's keys."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated

import msgspec
from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from delivery.access.keys import KeySpec, create_key, rotate_key
from delivery.access.links import new_signing_secret
from delivery.db.api_keys import ApiKey, get_api_key, list_api_keys, retire_api_key
from delivery.errors import InvalidParam, KeyCannotSign, UnknownApiKey
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.services import Services

__all__ = [
    "create_project_key",
    "list_project_keys",
    "revoke_project_key",
    "rotate_project_key",
    "rotate_signing_secret",
]

_ADMIN = {"scope": "keys:admin"}
_DAY = 86_400
_MAX_GRACE = 30 * _DAY
_MAX_KEY_LIFETIME = 100 * 366 * _DAY
"""Bounds that keep `now + seconds` a datetime: msgspec refuses larger numbers with a 400 before the route runs."""


class KeyView(msgspec.Struct, frozen=True):
    """A key as the API shows it: never its secret, never its hash."""

    id: str
    kind: str
    name: str
    scopes: list[str]
    allowed_origins: list[str]
    rate_limit: int | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    replaced_by: str | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyView:
        return cls(**{f: getattr(key, f) for f in cls.__struct_fields__})


class NewKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: str
    name: str = ""
    scopes: list[str] | None = None
    expires_in: Annotated[int, msgspec.Meta(ge=1, le=_MAX_KEY_LIFETIME)] | None = None
    """Seconds from now (at most about 100 years); None never expires."""
    allowed_origins: list[str] = []
    rate_limit: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)] | None = None


class CreatedKeyView(msgspec.Struct, frozen=True):
    key: KeyView
    secret: str
    """The full key. It is shown here once and cannot be recovered."""


class Rotation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    grace_seconds: Annotated[int, msgspec.Meta(ge=0, le=_MAX_GRACE)] = _DAY
    """How long what is being replaced keeps working."""


class SigningSecretView(msgspec.Struct, frozen=True):
    key_id: str
    signing_secret: str
    """base64url; sign links with HMAC-SHA256 (docs/security.md). Older secrets retire at `others_retire_at`."""
    others_retire_at: dt.datetime


def _grace(rotation: Rotation) -> dt.timedelta:
    if not 0 <= rotation.grace_seconds <= 30 * _DAY:
        raise InvalidParam("`grace_seconds` must be from 0 to 2592000 (30 days)")
    return dt.timedelta(seconds=rotation.grace_seconds)


async def _own_key(services: Services, principal: NamedDependency[Principal], project: str, key_id: str) -> ApiKey:
    owner = await principal.project_named(services, project)
    async with services.pool.acquire() as conn:
        key = await get_api_key(conn, id=key_id)
    if key is None or key.project_id != owner.id:  # another project's key is as unknown as a missing one
        raise UnknownApiKey()
    return key


@post("/projects/{project:str}/keys", opt=_ADMIN, responses=problems(404), summary="Create a key (the full key is returned once)")
async def create_project_key(request: Request, project: FromPath[str], principal: NamedDependency[Principal], data: JSONBody[NewKey]) -> CreatedKeyView:
    services: Services = request.app.state.services
    owner = await principal.project_named(services, project)
    if data.expires_in is not None and data.expires_in <= 0:
        raise InvalidParam("`expires_in` must be a positive number of seconds")
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=data.expires_in) if data.expires_in else None
    spec = KeySpec(
        kind=data.kind,
        name=data.name,
        scopes=data.scopes,
        expires_at=expires_at,
        allowed_origins=data.allowed_origins,
        rate_limit=data.rate_limit,
    )
    async with services.pool.acquire() as conn:
        created = await create_key(conn, project_id=owner.id, spec=spec)  # never `admin`: only the operator CLI grants it
    return CreatedKeyView(key=KeyView.of(created.key), secret=created.full_key)


@get("/projects/{project:str}/keys", opt=_ADMIN, responses=problems(404), summary="List a project's keys")
async def list_project_keys(request: Request, project: FromPath[str], principal: NamedDependency[Principal]) -> list[KeyView]:
    services: Services = request.app.state.services
    owner = await principal.project_named(services, project)
    async with services.pool.acquire() as conn:
        return [KeyView.of(k) for k in await list_api_keys(conn, project_id=owner.id)]


@delete("/projects/{project:str}/keys/{key_id:str}", opt=_ADMIN, status_code=200, responses=problems(404), summary="Revoke a key now")
async def revoke_project_key(request: Request, project: FromPath[str], key_id: FromPath[str], principal: NamedDependency[Principal]) -> KeyView:
    services: Services = request.app.state.services
    key = await _own_key(services, principal, project, key_id)
    async with services.pool.acquire() as conn:
        revoked = await retire_api_key(conn, id=key.id, project_id=key.project_id, revoke=True)
    if revoked is None:
        raise UnknownApiKey()
    return KeyView.of(revoked)


@post("/projects/{project:str}/keys/{key_id:str}/rotate", opt=_ADMIN, responses=problems(404), summary="Replace a key; the old one works for a grace period")
async def rotate_project_key(
    request: Request, project: FromPath[str], key_id: FromPath[str], principal: NamedDependency[Principal], data: JSONBody[Rotation]
) -> CreatedKeyView:
    services: Services = request.app.state.services
    key = await _own_key(services, principal, project, key_id)
    async with services.pool.acquire() as conn:
        # An `admin` key is refused: rotating hands out its new secret, and /v1 never hands out `admin`.
        created = await rotate_key(conn, key=key, grace=_grace(data), now=dt.datetime.now(dt.UTC))
    return CreatedKeyView(key=KeyView.of(created.key), secret=created.full_key)


@post(
    "/projects/{project:str}/keys/{key_id:str}/signing-secrets",
    opt=_ADMIN,
    responses=problems(404),
    summary="Start signing links with a new secret; older ones verify for a grace period",
)
async def rotate_signing_secret(
    request: Request, project: FromPath[str], key_id: FromPath[str], principal: NamedDependency[Principal], data: JSONBody[Rotation]
) -> SigningSecretView:
    services: Services = request.app.state.services
    key = await _own_key(services, principal, project, key_id)
    if key.kind != "publishable":
        raise KeyCannotSign()
    retire_at = dt.datetime.now(dt.UTC) + _grace(data)
    async with services.pool.acquire() as conn:
        secret = await new_signing_secret(conn, request.app.state.keyring, key_id=key.id, retire_others_at=retire_at)
    encoded = base64.urlsafe_b64encode(secret).decode().rstrip("=")
    return SigningSecretView(key_id=key.id, signing_secret=encoded, others_retire_at=retire_at)
