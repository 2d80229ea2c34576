"""Console sign-in: one-time link tokens, signed session cookies and per-session CSRF tokens.

A link token is 256 random bits, single use, short-lived; redeeming it opens a
session. The session id is 256 random bits too: the cookie carries it with an
HMAC (so a forged or altered cookie is refused before the database is asked),
and the database holds only its SHA-256, with the organisation and expiry.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets

import msgspec

from delivery.access.signing import Keyring
from delivery.db.connection import Conn
from delivery.db.console import ConsoleSession, delete_session, get_session, insert_link_token, insert_session, redeem_link_token
from delivery.db.organizations import get_organization
from delivery.errors import UnknownOrganization

__all__ = [
    "COOKIE_NAME",
    "OpenedSession",
    "csrf_matches",
    "issue_link_token",
    "open_session",
    "read_session",
    "sign_out",
]

COOKIE_NAME = "promptpix_console"


class OpenedSession(msgspec.Struct, frozen=True):
    cookie: str
    """The cookie value: session id and its HMAC."""
    organization_id: int
    expires_at: dt.datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _mac(keyring: Keyring, session_id: str) -> str:
    return _b64(hmac.new(keyring.console_cookie_secret(), session_id.encode(), hashlib.sha256).digest())


async def issue_link_token(conn: Conn, *, organization_id: int, lifetime: dt.timedelta, now: dt.datetime) -> str:
    """A one-time token for `/console/signin?token=…`; only its hash is stored."""
    if await get_organization(conn, id=organization_id) is None:
        raise UnknownOrganization()
    token = _b64(secrets.token_bytes(32))
    await insert_link_token(conn, token_hash=_hash(token), organization_id=organization_id, expires_at=now + lifetime)
    return token


async def open_session(
    conn: Conn, keyring: Keyring, *, token: str, lifetime: dt.timedelta, now: dt.datetime
) -> OpenedSession | None:
    """Redeem a link token (once) for a new session; None when the token is unknown, used or expired."""
    if not token or len(token) > 128:
        return None
    async with conn.transaction():
        organization_id = await redeem_link_token(conn, token_hash=_hash(token), now=now)
        if organization_id is None:
            return None
        session_id = _b64(secrets.token_bytes(32))
        expires_at = now + lifetime
        await insert_session(
            conn, id_hash=_hash(session_id), organization_id=organization_id, csrf_token=_b64(secrets.token_bytes(32)), expires_at=expires_at
        )
    return OpenedSession(cookie=f"{session_id}.{_mac(keyring, session_id)}", organization_id=organization_id, expires_at=expires_at)


def _session_id(keyring: Keyring, cookie: str | None) -> str | None:
    if not cookie or len(cookie) > 200 or cookie.count(".") != 1:
        return None
    session_id, mac = cookie.split(".")
    return session_id if hmac.compare_digest(mac, _mac(keyring, session_id)) else None


async def read_session(conn: Conn, keyring: Keyring, *, cookie: str | None, now: dt.datetime) -> ConsoleSession | None:
    """The live session a cookie names; None for a missing, forged, expired or signed-out one."""
    session_id = _session_id(keyring, cookie)
    if session_id is None:
        return None
    return await get_session(conn, id_hash=_hash(session_id), now=now)


async def sign_out(conn: Conn, keyring: Keyring, *, cookie: str | None) -> None:
    session_id = _session_id(keyring, cookie)
    if session_id is not None:
        await delete_session(conn, id_hash=_hash(session_id))


def csrf_matches(session: ConsoleSession, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), session.csrf_token.encode())
