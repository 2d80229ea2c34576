"""Object storage for masters: one Protocol, a filesystem and an S3 backend."""

from __future__ import annotations

from delivery.settings import Settings
from delivery.storage.base import ObjectNotFound, Storage, StorageUnavailable, StoredObject

__all__ = ["ObjectNotFound", "Storage", "StorageUnavailable", "StoredObject", "open_storage"]


async def open_storage(settings: Settings) -> Storage:
    """The backend `PROMPTPIX_STORAGE_URL` names, connected; close it with `await storage.close()`."""
    url = settings.resolved_storage_url
    if url.startswith("s3://"):
        from delivery.storage.s3 import S3Storage

        return await S3Storage.open(settings)
    from delivery.storage.fs import FileStorage

    return FileStorage(url.removeprefix("file://"))
