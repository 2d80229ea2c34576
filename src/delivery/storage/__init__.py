"""Object storage for masters: one Protocol, a filesystem and an S3 backend."""

from __future__ import annotations

from delivery.settings import Settings
from delivery.storage.base import ObjectNotFound, Storage

__all__ = ["ObjectNotFound", "Storage", "open_storage"]


def open_storage(settings: Settings) -> Storage:
    url = settings.resolved_storage_url
    if url.startswith("file://"):
        from delivery.storage.fs import FileStorage

        return FileStorage(url.removeprefix("file://"))
    raise NotImplementedError(f"storage backend for {url.split(':', 1)[0]}:// is not built yet")
