"""One contract for every storage backend: filesystem, and S3 on a real SeaweedFS server."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import pytest

from delivery.settings import Settings
from delivery.storage import ObjectNotFound, Storage, StorageUnavailable, StoredObject, open_storage
from tests.s3server import S3Server

ESCAPES = [
    "../escape",
    "masters/../../escape",
    "masters/../escape",
    "%2e%2e/escape",
    "%252e%252e/escape",
    "/escape",
    "masters//escape",
    "masters/./escape",
    "..",
    "",
    "masters\\..\\escape",
    "masters/x?y",
]


class Backend(msgspec.Struct, frozen=True):
    storage: Storage
    outside: Callable[[], bytes | None]
    """What sits just outside this storage's root (None once it is gone)."""
    put_by_hand: Callable[[str, bytes], None]
    """Writes an object at a key under this storage's root without going through it, as an operator might."""


def s3_settings(server: S3Server, url: str) -> Settings:
    return Settings(
        storage_url=url,
        s3_endpoint=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    )


@pytest.fixture(params=["fs", "s3", "s3-prefixed"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "fs":
        (tmp_path / "escape").write_bytes(b"outside")
        storage = await open_storage(Settings(storage_url=f"file://{tmp_path / 'objects'}"))

        def outside() -> bytes | None:
            return (tmp_path / "escape").read_bytes() if (tmp_path / "escape").exists() else None

        def put_by_hand(key: str, data: bytes) -> None:
            (tmp_path / "objects" / key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "objects" / key).write_bytes(data)

    else:
        server: S3Server = request.getfixturevalue("seaweedfs")
        bucket = server.new_bucket()
        client = server.client()
        if request.param == "s3-prefixed":  # outside is the rest of the bucket
            neighbour, url = bucket, f"s3://{bucket}/deployment-a"
        else:  # outside is another bucket
            neighbour, url = server.new_bucket(), f"s3://{bucket}"
        client.put_object(Bucket=neighbour, Key="escape", Body=b"outside")
        storage = await open_storage(s3_settings(server, url))

        def outside() -> bytes | None:
            try:
                return client.get_object(Bucket=neighbour, Key="escape")["Body"].read()
            except client.exceptions.NoSuchKey:
                return None

        def put_by_hand(key: str, data: bytes) -> None:
            prefix = url.removeprefix(f"s3://{bucket}").strip("/")
            client.put_object(Bucket=bucket, Key=f"{prefix}/{key}" if prefix else key, Body=data)

    try:
        yield Backend(storage=storage, outside=outside, put_by_hand=put_by_hand)
    finally:
        await storage.close()


async def listed(storage: Storage, prefix: str) -> dict[str, StoredObject]:
    return {o.key: o async for o in storage.list(prefix)}


async def test_put_get_overwrite_delete(backend: Backend) -> None:
    storage = backend.storage
    key = "masters/1/ab/ab12.png"
    assert not await storage.exists(key)
    with pytest.raises(ObjectNotFound, match=re.escape(repr(key))):
        await storage.get(key)
    await storage.put(key, b"first", content_type="image/png")
    assert await storage.get(key) == b"first"
    assert await storage.exists(key)
    await storage.put(key, b"second", content_type="image/png")
    assert await storage.get(key) == b"second"
    await storage.delete(key)
    assert not await storage.exists(key)
    with pytest.raises(ObjectNotFound, match=re.escape(repr(key))):
        await storage.get(key)
    await storage.delete(key)  # deleting what is gone is not an error
    await storage.ping()


async def test_list_walks_a_folder_with_sizes_and_times(backend: Backend) -> None:
    storage = backend.storage
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    await storage.put("masters/1/aa/one.png", b"1", content_type="image/png")
    await storage.put("masters/2/bb/two.jpg", b"22", content_type="image/jpeg")
    await storage.put("variants/1/three.webp", b"333", content_type="image/webp")

    masters = await listed(storage, "masters/")
    assert set(masters) == {"masters/1/aa/one.png", "masters/2/bb/two.jpg"}
    assert masters["masters/2/bb/two.jpg"].size == 2
    for found in masters.values():
        assert found.modified.tzinfo is not None
        assert before <= found.modified <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    assert set(await listed(storage, "masters/1/")) == {"masters/1/aa/one.png"}
    assert set(await listed(storage, "")) == {*masters, "variants/1/three.webp"}
    assert await listed(storage, "nothing/") == {}
    with pytest.raises(ValueError, match=r"^listing prefix must be empty or a folder ending in '/': 'mast'$"):
        await listed(storage, "mast")


async def test_list_leaves_out_what_this_service_could_not_have_written(backend: Backend) -> None:
    """Keys put there by hand (spaces, `%`) are never offered to the sweep's delete."""
    storage = backend.storage
    await storage.put("masters/1/aa/ours.png", b"1", content_type="image/png")
    backend.put_by_hand("masters/1/aa/by hand%20.png", b"x")
    backend.put_by_hand("masters/1/aa/also-by-hand.png", b"y")  # a key the service could have written: listed
    assert set(await listed(storage, "masters/")) == {"masters/1/aa/ours.png", "masters/1/aa/also-by-hand.png"}


@pytest.mark.parametrize("key", ESCAPES)
async def test_keys_that_could_escape_name_nothing_and_touch_nothing(backend: Backend, key: str) -> None:
    storage = backend.storage
    assert not await storage.exists(key)
    with pytest.raises(ObjectNotFound, match=re.escape(repr(key))):
        await storage.get(key)
    with pytest.raises(ObjectNotFound, match=re.escape(repr(key))):
        await storage.put(key, b"evil", content_type="image/png")
    with pytest.raises(ObjectNotFound, match=re.escape(repr(key))):
        await storage.delete(key)
    assert backend.outside() == b"outside"
    assert await listed(storage, "") == {}


@pytest.fixture(params=["fs-root-is-a-file", "s3-answers-503", "s3-wrong-secret"])
async def broken(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "fs-root-is-a-file":
        (tmp_path / "objects").write_bytes(b"not a folder")
        settings = Settings(storage_url=f"file://{tmp_path / 'objects'}")
    elif request.param == "s3-answers-503":
        settings = Settings(
            storage_url="s3://bucket",
            s3_endpoint=request.getfixturevalue("s3_answering_503"),
            aws_access_key_id="a",
            aws_secret_access_key="b",
        )
    else:
        server: S3Server = request.getfixturevalue("seaweedfs")
        settings = s3_settings(msgspec.structs.replace(server, secret_key="wrong"), f"s3://{server.new_bucket()}")
    storage = await open_storage(settings)
    try:
        yield storage
    finally:
        await storage.close()


async def test_an_outage_is_a_503_never_a_missing_object(broken: Storage) -> None:
    with pytest.raises(StorageUnavailable, match=r"^object storage is unavailable right now$") as raised:
        await broken.put("masters/1/aa/x.png", b"x", content_type="image/png")
    assert raised.value.status == 503 and raised.value.retry_after
