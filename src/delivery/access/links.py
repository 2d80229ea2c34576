"""Who may use a `/g/` link: signed links, or unsigned ones from allowed origins.

Every check here only reads the database: a forged, mutated, reordered,
duplicated or expired link is refused before anything is written or drawn.
"""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlsplit

import msgspec

from delivery.access.signing import Keyring, check_signed_shape, matches, sign_pairs
from delivery.db.api_keys import ApiKey, list_api_keys
from delivery.db.connection import Conn
from delivery.db.projects import Project
from delivery.db.reads import Reads
from delivery.db.signing_secrets import SigningSecret, add_signing_secret, live_signing_secrets
from delivery.errors import (
    BadSignature,
    ExpiredLink,
    ExpiryOnUnsignedLink,
    KeyNotForLinks,
    LinkKeyUnusable,
    MalformedExpiry,
    MissingLinkKey,
    NoLinkKey,
    NoSigningSecret,
    OriginNotAllowed,
    RevokedKey,
    SignedLinksOnly,
    UnknownKey,
)

__all__ = ["LinkGrant", "authorize_link", "default_link_key", "new_signing_secret", "origin_allowed", "sign_link"]


class LinkGrant(msgspec.Struct, frozen=True):
    key: ApiKey
    signed: bool
    expires: int | None
    """Unix time the link stops working; cache headers must not outlive it."""


def _origin_of(value: str | None) -> str | None:
    if not value or value == "null":
        return None
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _matches_pattern(pattern: str, origin: str) -> bool:
    pattern = pattern.lower().rstrip("/")
    if pattern == origin:
        return True
    scheme, _, host = pattern.partition("://*.")
    return bool(host) and origin.startswith(f"{scheme}://") and origin.endswith(f".{host}")


def origin_allowed(allowed: list[str], *, origin: str | None, referer: str | None) -> bool:
    """`*` allows any page (and none); otherwise Origin, else Referer's origin, must match a pattern.

    Patterns are exact origins (`https://shop.example`) or one leading wildcard
    label (`https://*.example.com`, which does not match the bare domain).
    """
    if "*" in allowed:
        return True
    source = _origin_of(origin) or _origin_of(referer)
    return source is not None and any(_matches_pattern(p, source) for p in allowed)


async def _link_key(reads: Reads, project: Project, key_id: str | None, now: dt.datetime) -> ApiKey:
    if not key_id:
        raise MissingLinkKey()
    key = await reads.api_key(key_id)
    if key is None or key.project_id != project.id:  # another project's key is as unknown as a missing one
        raise UnknownKey()
    if not key.active(now):
        raise RevokedKey()
    if key.kind != "publishable" or "generate" not in key.scopes:
        raise KeyNotForLinks()
    return key


async def _verify_signature(
    reads: Reads, keyring: Keyring, key: ApiKey, path: str, pairs: list[tuple[str, str]], now: dt.datetime
) -> int | None:
    values = dict(pairs)
    expires: int | None = None
    if "exp" in values:
        try:
            expires = int(values["exp"], 10)
        except ValueError:
            raise MalformedExpiry() from None
    given = values["sig"]

    def signed_by_one_of(candidates: list[SigningSecret]) -> bool:
        return any(matches(keyring.link_secret(key.id, s.salt), path, pairs, given) for s in candidates)

    # A cached list may predate a secret made a moment ago (rotation): a mismatch reads the list once more.
    signed = signed_by_one_of(await reads.live_signing_secrets(key.id, now))
    if not (signed or signed_by_one_of(await reads.live_signing_secrets(key.id, now, refresh=True))):
        raise BadSignature()
    if expires is not None and expires <= now.timestamp():
        raise ExpiredLink()
    return expires


async def authorize_link(
    reads: Reads,
    *,
    project: Project,
    path: str,
    pairs: list[tuple[str, str]],
    keyring: Keyring,
    origin: str | None,
    referer: str | None,
    now: dt.datetime,
) -> LinkGrant:
    """A link is good if it is signed by a live secret of its key, or unsigned from an allowed origin.

    Only reads: the caller records the key's use (delivery.access.usage) once the link is good."""
    signed = any(k == "sig" for k, _ in pairs)
    if signed:
        check_signed_shape(pairs)
    key = await _link_key(reads, project, dict(pairs).get("key"), now)
    if signed:
        expires = await _verify_signature(reads, keyring, key, path, pairs, now)
    else:
        if any(k == "exp" for k, _ in pairs):
            raise ExpiryOnUnsignedLink()
        if not project.allow_unsigned:
            raise SignedLinksOnly()
        narrowed = [project.allowed_origins] + ([key.allowed_origins] if key.allowed_origins else [])
        if not all(origin_allowed(allowed, origin=origin, referer=referer) for allowed in narrowed):
            raise OriginNotAllowed()
        expires = None
    return LinkGrant(key=key, signed=signed, expires=expires)


async def new_signing_secret(
    conn: Conn, keyring: Keyring, *, key_id: str, retire_others_at: dt.datetime | None
) -> bytes:
    """Start signing with a fresh secret; return it so clients can sign links themselves."""
    stored = await add_signing_secret(conn, key_id=key_id, salt=secrets.token_bytes(32), retire_others_at=retire_others_at)
    return keyring.link_secret(key_id, stored.salt)


async def default_link_key(conn: Conn, *, project: Project, now: dt.datetime) -> ApiKey:
    """The project's oldest live publishable key: what links are signed with when the caller names none."""
    live = [k for k in await list_api_keys(conn, project_id=project.id) if k.kind == "publishable" and k.active(now)]
    if not live:
        raise NoLinkKey()
    return live[0]


async def sign_link(
    conn: Conn,
    keyring: Keyring,
    *,
    project: Project,
    key: ApiKey,
    params: dict[str, str],
    expires: int | None,
    now: dt.datetime,
) -> str:
    """`/g/{project}?…&sig=…`, signed with the key's newest live secret."""
    if key.project_id != project.id or key.kind != "publishable" or not key.active(now):
        raise LinkKeyUnusable()
    live = await live_signing_secrets(conn, key_id=key.id, now=now)
    if not live:
        raise NoSigningSecret()
    pairs = [(k, v) for k, v in params.items() if k not in ("key", "sig", "exp")] + [("key", key.id)]
    if expires is not None:
        pairs.append(("exp", str(expires)))
    path = f"/g/{project.slug}"
    return f"{path}?{sign_pairs(keyring.link_secret(key.id, live[0].salt), path, pairs)}"
