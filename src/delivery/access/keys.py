"""API keys: minting, parsing, creating, rotating, and authenticating REST callers.

A full key is `pp_<key id>_<secret><checksum>`: the key id (`pk_…` or
`sk_…`) is public and goes in URLs; the 256-bit secret is shown once and only
its SHA-256 is stored; the checksum lets a scanner or a typo check reject a
key without a database round trip.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import zlib

import msgspec

from delivery.db.api_keys import ApiKey, NewApiKey, get_api_key, insert_api_key, retire_api_key, touch_api_key
from delivery.db.connection import Conn
from delivery.db.signing_secrets import add_signing_secret
from delivery.errors import AdminScopeRefused, InvalidApiKey, InvalidParam, MalformedApiKey, MissingBearer, PublishableBearer, RetiredKeyRotation

__all__ = [
    "ADMIN_SCOPE",
    "GRANTABLE_SCOPES",
    "KINDS",
    "SCOPES",
    "CreatedKey",
    "KeySpec",
    "MintedKey",
    "authenticate_secret_key",
    "create_key",
    "hash_secret",
    "mint_key",
    "parse_key",
    "rotate_key",
]

KINDS = {"publishable": "pk", "secret": "sk"}
ADMIN_SCOPE = "admin"
"""The operator's scope: the model catalogue and reports across organisations.

Every key belongs to a project, so this is the one scope that reaches beyond
its project. Only the operator CLI grants it (`create_key(operator=True)`);
no key created or rotated through `/v1` or the console can hold it, so a
project's `keys:admin` can never climb to it.
"""
GRANTABLE_SCOPES = ("generate", "assets:read", "assets:write", "keys:admin", "billing:read", "projects:admin")
"""What a project may give its own keys, and what a secret key gets when no scopes are named."""
SCOPES = (*GRANTABLE_SCOPES, ADMIN_SCOPE)
PUBLISHABLE_SCOPES = ("generate",)
"""Publishable keys sit in pages: they may only generate, never administer."""


class MintedKey(msgspec.Struct, frozen=True):
    key_id: str
    kind: str
    full_key: str
    secret_hash: bytes


class KeySpec(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    name: str = ""
    scopes: list[str] | None = None
    """None: every scope the kind may hold."""
    expires_at: dt.datetime | None = None
    allowed_origins: list[str] = []
    rate_limit: int | None = None


class CreatedKey(msgspec.Struct, frozen=True):
    key: ApiKey
    full_key: str
    """Shown once, never stored."""


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _checksum(body: str) -> str:
    return _b32(zlib.crc32(body.encode()).to_bytes(4, "big"))[:6]


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def mint_key(kind: str) -> MintedKey:
    key_id = f"{KINDS[kind]}_{_b32(secrets.token_bytes(10))}"
    secret = _b32(secrets.token_bytes(32))
    body = f"pp_{key_id}_{secret}"
    return MintedKey(key_id=key_id, kind=kind, full_key=body + _checksum(body), secret_hash=hash_secret(secret))


def parse_key(full_key: str) -> tuple[str, str]:
    """(key id, secret) of a well-formed key; MalformedApiKey otherwise."""
    body, checksum = full_key[:-6], full_key[-6:]
    parts = body.split("_")
    if len(parts) != 4 or parts[0] != "pp" or parts[1] not in KINDS.values():
        raise MalformedApiKey()
    if not hmac.compare_digest(_checksum(body), checksum):
        raise MalformedApiKey()
    return f"{parts[1]}_{parts[2]}", parts[3]


def _scopes(spec: KeySpec, *, operator: bool) -> list[str]:
    allowed = PUBLISHABLE_SCOPES if spec.kind == "publishable" else SCOPES
    scopes = list(PUBLISHABLE_SCOPES if spec.kind == "publishable" else GRANTABLE_SCOPES) if spec.scopes is None else spec.scopes
    unknown = sorted(set(scopes) - set(allowed))
    if unknown:
        raise InvalidParam(f"a {spec.kind} key cannot hold scopes {', '.join(unknown)} (allowed: {', '.join(allowed)})")
    if ADMIN_SCOPE in scopes and not operator:
        raise AdminScopeRefused()
    return sorted(set(scopes))


async def create_key(conn: Conn, *, project_id: int, spec: KeySpec, operator: bool = False) -> CreatedKey:
    """Store a new key's hash (and, for publishable keys, its first signing secret); return the full key once.

    `operator`: the caller may grant the `admin` scope (the operator CLI only);
    anyone else asking for it gets a 403.
    """
    if spec.kind not in KINDS:
        raise InvalidParam("`kind` must be publishable or secret")
    if spec.rate_limit is not None and spec.rate_limit <= 0:
        raise InvalidParam("`rate_limit` must be positive")
    minted = mint_key(spec.kind)
    async with conn.transaction():
        key = await insert_api_key(
            conn,
            key=NewApiKey(
                id=minted.key_id,
                project_id=project_id,
                kind=spec.kind,
                secret_hash=minted.secret_hash,
                name=spec.name,
                scopes=_scopes(spec, operator=operator),
                expires_at=spec.expires_at,
                allowed_origins=spec.allowed_origins,
                rate_limit=spec.rate_limit,
            ),
        )
        if spec.kind == "publishable":
            await add_signing_secret(conn, key_id=key.id, salt=secrets.token_bytes(32), retire_others_at=None)
    return CreatedKey(key=key, full_key=minted.full_key)


async def rotate_key(
    conn: Conn, *, key: ApiKey, grace: dt.timedelta, now: dt.datetime, operator: bool = False
) -> CreatedKey:
    """A new key with the old one's name, scopes and limits; the old one works for `grace` more.

    Rotating hands out the new secret, so an `admin` key is rotated only where
    `admin` may be granted (`operator`), as in `create_key`.
    """
    if not key.active(now):
        raise RetiredKeyRotation()
    spec = KeySpec(
        kind=key.kind,
        name=key.name,
        scopes=key.scopes,
        expires_at=key.expires_at,
        allowed_origins=key.allowed_origins,
        rate_limit=key.rate_limit,
    )
    async with conn.transaction():
        created = await create_key(conn, project_id=key.project_id, spec=spec, operator=operator)
        await retire_api_key(
            conn, id=key.id, project_id=key.project_id, revoke=False, expires_at=now + grace, replaced_by=created.key.id
        )
    return created


async def authenticate_secret_key(conn: Conn, *, authorization: str | None, now: dt.datetime) -> ApiKey:
    """The live secret key in `Authorization: Bearer pp_sk_…`; 401 for anything else, 403 for a publishable key."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingBearer()
    key_id, secret = parse_key(token.strip())
    key = await get_api_key(conn, id=key_id)
    if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(secret)) or not key.active(now):
        raise InvalidApiKey()
    if key.kind != "secret":
        raise PublishableBearer()
    await touch_api_key(conn, id=key.id)
    return key
