"""S3 storage via aioboto3: AWS S3, R2, MinIO, SeaweedFS.

One client per process, opened by the app's lifespan and closed with it, so
connections are pooled across requests. `s3://bucket/optional/prefix` puts
every key under that prefix, so one bucket can serve several deployments.
Botocore retries throttling and 5xx answers a few times; what is still failing
after that becomes StorageUnavailable (503), never a missing object.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any
from urllib.parse import urlsplit

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from delivery.settings import Settings
from delivery.storage.base import ObjectNotFound, StorageUnavailable, StoredObject, check_key, check_prefix, is_safe_key

__all__ = ["S3Storage"]

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


@contextmanager
def _errors(key: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") in _MISSING:
            raise ObjectNotFound(key) from exc
        raise StorageUnavailable(f"S3 {error.get('Code')}: {error.get('Message')} ({key})") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"S3 unreachable: {exc}") from exc


class S3Storage:
    def __init__(self, client: Any, bucket: str, prefix: str, stack: AsyncExitStack) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix
        self._stack = stack

    @classmethod
    async def open(cls, settings: Settings) -> S3Storage:
        url = urlsplit(settings.resolved_storage_url)
        prefix = url.path.strip("/")
        session = aioboto3.Session(
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            region_name=settings.s3_region,
        )
        config = Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"mode": "standard", "max_attempts": 3},
            s3={"addressing_style": "path"} if settings.s3_endpoint else None,
        )
        stack = AsyncExitStack()
        client = await stack.enter_async_context(session.client("s3", endpoint_url=settings.s3_endpoint, config=config))
        return cls(client, url.netloc, f"{prefix}/" if prefix else "", stack)

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        with _errors(key):
            await self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    async def get(self, key: str) -> bytes:
        with _errors(key):
            response = await self._client.get_object(Bucket=self.bucket, Key=self._key(key))
            async with response["Body"] as stream:
                return await stream.read()

    async def exists(self, key: str) -> bool:
        try:
            with _errors(key):
                await self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ObjectNotFound:
            return False
        return True

    async def delete(self, key: str) -> None:
        with _errors(key):
            await self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        paginator = self._client.get_paginator("list_objects_v2")
        with _errors(prefix):
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + check_prefix(prefix)):
                for item in page.get("Contents", []):
                    key = item["Key"].removeprefix(self.prefix)
                    if is_safe_key(key):
                        yield StoredObject(key=key, size=item["Size"], modified=item["LastModified"].astimezone(dt.UTC))

    async def ping(self) -> None:
        with _errors(""):
            await self._client.head_bucket(Bucket=self.bucket)

    async def close(self) -> None:
        await self._stack.aclose()
