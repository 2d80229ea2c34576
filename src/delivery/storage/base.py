"""The storage boundary. Keys are built by the server only (see delivery.assets.ids), never from user input.

Both backends still check every key against one strict shape, so even a bug
that let request text reach a key could not climb out of the storage root or
into another project's objects.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Protocol

import msgspec

from delivery.errors import StorageUnavailable

__all__ = ["ObjectNotFound", "Storage", "StorageUnavailable", "StoredObject", "check_key", "check_prefix", "is_safe_key"]

_SEGMENT = re.compile(r"^[A-Za-z0-9._-]{1,255}\Z")


class ObjectNotFound(KeyError):
    """No object under that key (or a key that can never name one)."""


class StoredObject(msgspec.Struct, frozen=True):
    key: str
    size: int
    modified: dt.datetime
    """Last write, timezone-aware UTC: the sweep's grace period counts from here."""


def is_safe_key(key: str) -> bool:
    """A relative path of plain segments: no `.`/`..`, no empty segment, no `%`, `\\` or `:`."""
    return all(_SEGMENT.match(s) and s.strip(".") for s in key.split("/"))


def check_key(key: str) -> str:
    if not is_safe_key(key):
        raise ObjectNotFound(key)
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix is empty or a folder (`masters/`), never part of a name."""
    if prefix and not (prefix.endswith("/") and is_safe_key(prefix[:-1])):
        raise ValueError(f"listing prefix must be empty or a folder ending in '/': {prefix!r}")
    return prefix


class Storage(Protocol):
    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Store durably; when it returns, a `get` from any process sees the object."""
        ...

    async def get(self, key: str) -> bytes:
        ...

    async def exists(self, key: str) -> bool:
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        ...

    def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Every object under a folder prefix, in no particular order (for the sweep).

        Objects whose keys this service could never have written (unsafe keys)
        are left out, so nothing can hand them to `delete`.
        """
        ...

    async def ping(self) -> None:
        """Raise if the backend cannot be reached (readiness)."""
        ...

    async def close(self) -> None:
        ...
