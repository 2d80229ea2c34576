"""Filesystem storage, the embedded default: objects as files under one root.

Writes go to a temporary file that is fsynced and renamed into place, so a
reader never sees a half-written master and a crash leaves no partial object
(only a `.tmp-` file, which the sweep lists and removes like any orphan).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

from delivery.storage.base import ObjectNotFound, StorageUnavailable, StoredObject, check_key, check_prefix, is_safe_key

__all__ = ["FileStorage"]

T = TypeVar("T")


class FileStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ObjectNotFound(key)
        return path

    async def _io(self, key: str, fn: Callable[[], T]) -> T:
        """Run blocking file I/O in a thread; a missing file is ObjectNotFound, any other failure 503.

        `fn` resolves the path itself, so `_path`'s lstat per component stays off the event loop too.
        """
        try:
            return await asyncio.to_thread(fn)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        try:
            await asyncio.to_thread(lambda: self._write(self._path(key), data))
        except OSError as exc:  # a full disk or a read-only mount is an outage, not a missing object
            raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def get(self, key: str) -> bytes:
        return await self._io(key, lambda: self._path(key).read_bytes())

    async def exists(self, key: str) -> bool:
        try:
            return await self._io(key, lambda: self._path(key).is_file())
        except ObjectNotFound:
            return False

    async def delete(self, key: str) -> None:
        await self._io(key, lambda: self._path(key).unlink(missing_ok=True))

    def _scan(self, prefix: str) -> list[StoredObject]:
        found: list[StoredObject] = []
        for folder, _, files in os.walk(self.root / prefix):
            for name in files:
                path = Path(folder, name)
                key = path.relative_to(self.root).as_posix()
                if not is_safe_key(key):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:  # deleted while we walked
                    continue
                modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
                found.append(StoredObject(key=key, size=stat.st_size, modified=modified))
        return found

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        for found in await self._io(prefix, lambda: self._scan(check_prefix(prefix))):
            yield found

    async def ping(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise OSError(f"storage root {self.root} is not writable")

    async def close(self) -> None:
        return None
