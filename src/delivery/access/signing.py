"""Link signatures: the canonical string, HMAC-SHA256, and the secrets it is keyed with.

A signed `/g/` link carries `key` (a publishable key id), optional `exp` (unix
seconds) and `sig` = base64url(HMAC-SHA256(secret, canonical)) where canonical
is `{path}?{query without sig}` with every name and value percent-encoded the
same way and pairs sorted by name. The key id is a query parameter, so it is
inside the signed string. Signed links must also be *written* in that order:
a link has exactly one spelling, so one edge-cache entry (docs/security.md).

Signing secrets are never stored: each is HMAC(master secret, key id, salt),
where the salt is a random row in `signing_secrets`. Without the server's
master secret a database dump signs nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import quote

from delivery.errors import RepeatedParam, UnsortedParams
from delivery.settings import Settings, SettingsError

__all__ = ["Keyring", "canonical_string", "check_signed_shape", "load_master_secret", "matches", "sign_pairs", "signature"]

_SAFE = "-._~"


class Keyring:
    """Holds the master secret and derives per-key signing secrets from it; never prints it."""

    def __init__(self, master: bytes) -> None:
        self._master = master

    def link_secret(self, key_id: str, salt: bytes) -> bytes:
        return hmac.new(self._master, b"promptpix/link/v1\x00" + key_id.encode() + b"\x00" + salt, hashlib.sha256).digest()

    def console_cookie_secret(self) -> bytes:
        """Signs console session cookies; a purpose of its own, so no link secret can forge a cookie."""
        return hmac.new(self._master, b"promptpix/console-cookie/v1", hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "Keyring(<hidden>)"


def load_master_secret(settings: Settings) -> bytes:
    """PROMPTPIX_SECRET_KEY, or (development only) a random secret kept in the data dir.

    The file appears whole or not at all (written aside, then hard-linked into
    place, which fails if it exists), so processes starting together agree on one secret.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    if settings.production:
        raise SettingsError("PROMPTPIX_ENV=production needs PROMPTPIX_SECRET_KEY")
    path: Path = settings.data_path / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process won; use its secret
        finally:
            draft.unlink()
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise SettingsError(f"{path} is shorter than 32 characters; delete it to make a new one")
    return secret.encode()


def canonical_string(path: str, pairs: list[tuple[str, str]]) -> bytes:
    body = "&".join(f"{quote(k, safe=_SAFE)}={quote(v, safe=_SAFE)}" for k, v in sorted(pairs) if k != "sig")
    return f"{path}?{body}".encode()


def signature(secret: bytes, path: str, pairs: list[tuple[str, str]]) -> str:
    digest = hmac.new(secret, canonical_string(path, pairs), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_pairs(secret: bytes, path: str, pairs: list[tuple[str, str]]) -> str:
    """The query of a signed link, in canonical order with `sig` last."""
    unsigned = [(k, v) for k, v in pairs if k != "sig"]
    body = canonical_string(path, unsigned).decode().partition("?")[2]
    return f"{body}&sig={signature(secret, path, unsigned)}"


def check_signed_shape(pairs: list[tuple[str, str]]) -> None:
    """A signed link names each parameter once, in canonical (sorted) order; `sig` may come last."""
    names = [k for k, _ in pairs]
    if len(set(names)) != len(names):
        raise RepeatedParam()
    unsigned = [n for n in names if n != "sig"]
    if unsigned != sorted(unsigned):
        raise UnsortedParams()


def matches(secret: bytes, path: str, pairs: list[tuple[str, str]], given: str) -> bool:
    """Constant-time comparison of the expected and given signatures."""
    return hmac.compare_digest(signature(secret, path, pairs).encode(), given.encode())
