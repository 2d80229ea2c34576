"""API keys: minting, parsing and checking link keys.

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

import asyncpg
import msgspec

from delivery.db.api_keys import ApiKey, get_api_key, touch_api_key
from delivery.db.projects import Project
from delivery.errors import Forbidden, NotFound, Unauthorized

__all__ = ["KINDS", "MintedKey", "authorize_link", "hash_secret", "mint_key", "parse_key"]

KINDS = {"publishable": "pk", "secret": "sk"}


class MintedKey(msgspec.Struct, frozen=True):
    key_id: str
    kind: str
    full_key: str
    secret_hash: bytes


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
    """(key id, secret) of a well-formed key; Unauthorized otherwise."""
    body, checksum = full_key[:-6], full_key[-6:]
    parts = body.split("_")
    if len(parts) != 4 or parts[0] != "pp" or parts[1] not in KINDS.values():
        raise Unauthorized("malformed API key")
    if not hmac.compare_digest(_checksum(body), checksum):
        raise Unauthorized("malformed API key")
    return f"{parts[1]}_{parts[2]}", parts[3]


async def authorize_link(conn: asyncpg.Connection, *, project: Project, key_id: str | None) -> ApiKey:
    """The key a `/g/` link names must be live and belong to the link's project."""
    if not key_id:
        raise Unauthorized("`key` is required on generation links")
    try:
        key = await get_api_key(conn, id=key_id)
    except NotFound:
        raise Forbidden("unknown or revoked key") from None
    if key.project_id != project.id or not key.active(dt.datetime.now(dt.UTC)):
        raise Forbidden("unknown or revoked key")
    await touch_api_key(conn, id=key.id)
    return key
