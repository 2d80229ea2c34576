"""Image URLs without a round trip: `/i/{id}`, `/i/{project}/@{name}`, `/g/{project}?prompt=…`, `srcset`, signed links.

Every transform parameter the service knows is typed in `Transform`; any other
name passes through unchanged, so parameters the service adds later work
before this package knows them. Pairs are written sorted, one spelling per
URL, as the service's signed links must be; the service drops defaults itself
when it builds its cache key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from typing import Literal, TypedDict
from urllib.parse import parse_qsl, quote

__all__ = ["SRCSET_WIDTHS", "Transform", "generate_url", "image_url", "named_url", "sign_link", "signed_query", "srcset"]

Value = str | int | float | bool

Transform = TypedDict(
    "Transform",
    {
        "w": int,
        "h": int,
        "fit": Literal["clip", "crop", "max", "min", "fill", "fillmax", "scale", "facearea"],
        "fm": Literal["avif", "webp", "jpg", "jpeg", "pjpg", "png"],
        "q": int,
        "dpr": float,
        "ar": str,
        "crop": Literal["focalpoint", "attention", "entropy", "center"],
        "fp-x": float,
        "fp-y": float,
        "auto": Literal["format", "compress", "format,compress"],
        "blur": float,
        "bg": str,
        "preset": str,
    },
    total=False,
)
"""The common transform parameters (docs/delivery.md); `fp-x`/`fp-y` are spelled as in URLs."""

SRCSET_WIDTHS = (320, 640, 960, 1280, 1920, 2560)
"""The widths the service lists in an asset's own `srcset`."""

_SIGNED_SAFE = "-._~"
"""Characters the link signature leaves unescaped (RFC 3986 unreserved)."""


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _pairs(params: Mapping[str, Value | None] | None, extra: Mapping[str, Value | None]) -> list[tuple[str, str]]:
    merged = {**(params or {}), **extra}
    return sorted((k, _text(v)) for k, v in merged.items() if v is not None)


def _query(pairs: Iterable[tuple[str, str]], *, safe: str) -> str:
    return "&".join(f"{quote(k, safe=safe)}={quote(v, safe=safe)}" for k, v in pairs)


def _join(base: str, path: str, query: str) -> str:
    return f"{base.rstrip('/')}{path}" + (f"?{query}" if query else "")


def image_url(base: str, asset_id: str, params: Mapping[str, Value | None] | None = None, **transform: Value | None) -> str:
    """`/i/{asset_id}` with transform params, written as the service writes an asset's URLs (`ar=16:9`)."""
    return _join(base, f"/i/{asset_id}", _query(_pairs(params, transform), safe=":"))


def named_url(base: str, project: str, name: str, params: Mapping[str, Value | None] | None = None, **transform: Value | None) -> str:
    """`/i/{project}/@{name}`: follows the name when it moves (cached for a minute, not forever)."""
    return _join(base, f"/i/{quote(project, safe='')}/@{quote(name, safe='')}", _query(_pairs(params, transform), safe=":"))


def generate_url(
    base: str, project: str, prompt: str, key: str, params: Mapping[str, Value | None] | None = None, **transform: Value | None
) -> str:
    """An unsigned `/g/` link (the project must allow unsigned links from the page's origin)."""
    pairs = _pairs(params, {**transform, "prompt": prompt, "key": key})
    return _join(base, f"/g/{quote(project, safe='')}", _query(pairs, safe=_SIGNED_SAFE))


def signed_query(secret: bytes, path: str, pairs: list[tuple[str, str]]) -> str:
    """The query of a signed link: pairs sorted, `sig` = base64url(HMAC-SHA256(secret, `path?query`)) last."""
    body = _query(sorted((k, v) for k, v in pairs if k != "sig"), safe=_SIGNED_SAFE)
    digest = hmac.new(secret, f"{path}?{body}".encode(), hashlib.sha256).digest()
    return f"{body}&sig={base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def _secret(signing_secret: str | bytes) -> bytes:
    if isinstance(signing_secret, bytes):
        return signing_secret
    return base64.urlsafe_b64decode(signing_secret + "=" * (-len(signing_secret) % 4))


def sign_link(
    base: str,
    project: str,
    prompt: str,
    *,
    key_id: str,
    signing_secret: str | bytes,
    params: Mapping[str, Value | None] | None = None,
    expires_in: int | None = None,
    expires_at: int | None = None,
    **transform: Value | None,
) -> str:
    """A signed `/g/` link, as `POST /v1/projects/{p}/links` would make it.

    `signing_secret` is the base64url string `POST …/keys/{id}/signing-secrets`
    returned (or its bytes); `key_id` the publishable key id (`pk_…`). A link
    with `expires_in` (seconds) or `expires_at` (unix time) stops working then.
    """
    if expires_in is not None and expires_at is not None:
        raise ValueError("give expires_in or expires_at, not both")
    expires = expires_at if expires_in is None else int(time.time()) + expires_in
    extra: dict[str, Value | None] = {**transform, "prompt": prompt, "key": key_id, "exp": expires}
    pairs = [(k, v) for k, v in _pairs(params, extra) if k != "sig"]
    path = f"/g/{quote(project, safe='')}"
    return _join(base, path, signed_query(_secret(signing_secret), path, pairs))


def srcset(url: str, *, widths: Iterable[int] = SRCSET_WIDTHS, max_width: int | None = None, **transform: Value | None) -> str:
    """`srcset` for an `/i/` URL (which may already carry params): one candidate per width.

    With `max_width` (the master's width) larger widths are left out and the
    master itself ends the list, as in the service's own asset URLs: never an upscale.
    With a fixed `w` or `h` the candidates are densities (1x, 2x, 3x) instead.
    """
    base, _, query = url.partition("?")
    given = dict(parse_qsl(query, keep_blank_values=True))
    merged: dict[str, Value | None] = {**given, **transform}
    if merged.get("w") is not None or merged.get("h") is not None:
        return ", ".join(f"{_join(base, '', _query(_pairs(merged, {'dpr': d if d > 1 else None}), safe=':'))} {d}x" for d in (1, 2, 3))
    chosen = [w for w in widths if max_width is None or w < max_width]
    parts = [f"{_join(base, '', _query(_pairs(merged, {'w': w}), safe=':'))} {w}w" for w in chosen]
    if max_width is not None:
        parts.append(f"{_join(base, '', _query(_pairs(merged, {}), safe=':'))} {max_width}w")
    return ", ".join(parts)
