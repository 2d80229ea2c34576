"""The storage boundary. Keys are built by the server only (see delivery.ids), never from user input."""

from __future__ import annotations

from typing import Protocol

__all__ = ["ObjectNotFound", "Storage"]


class ObjectNotFound(KeyError):
    """No object under that key."""


class Storage(Protocol):
    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Store durably; when it returns, a `get` from any process sees the object."""
        ...

    async def get(self, key: str) -> bytes:
        ...

    async def exists(self, key: str) -> bool:
        ...

    async def delete(self, key: str) -> None:
        ...

    async def ping(self) -> None:
        """Raise if the backend cannot be reached (readiness)."""
        ...

    async def close(self) -> None:
        ...
