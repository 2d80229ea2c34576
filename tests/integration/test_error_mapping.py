"""The exception handler table: only a lost database answers "the database is unavailable"."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar import get
from litestar.di import NamedDependency, Provide
from litestar.testing import AsyncTestClient

from delivery.app import _connect, create_app
from delivery.errors import DatabaseUnavailable
from delivery.settings import Settings
from generation import ProviderUnavailable
from tests.fakes import CountingProvider

DOWN = "the database is unavailable right now"


def _disk_full() -> str:
    raise OSError(28, "No space left on device")


def _connection_lost() -> str:
    raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")


def _provider_down() -> str:
    raise ProviderUnavailable("upstream 502", detail="bad gateway")


@get("/test/os-error", dependencies={"thing": Provide(_disk_full, sync_to_thread=False)})
async def os_error_route(thing: NamedDependency[str]) -> str:
    return thing


@get("/test/connection-lost", dependencies={"thing": Provide(_connection_lost, sync_to_thread=False)})
async def connection_lost_route(thing: NamedDependency[str]) -> str:
    return thing


@get("/test/provider-down", dependencies={"thing": Provide(_provider_down, sync_to_thread=False)})
async def provider_down_route(thing: NamedDependency[str]) -> str:
    return thing


@pytest.fixture
async def test_client(settings: Settings, provider: CountingProvider) -> AsyncIterator[AsyncTestClient]:
    app = create_app(settings, provider=provider)
    for route in (os_error_route, connection_lost_route, provider_down_route):
        app.register(route)
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_a_stray_os_error_is_a_500_with_its_traceback_logged_not_a_database_outage(
    test_client: AsyncTestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="promptpix.app"):
        response = await test_client.get("/test/os-error")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {"type": "about:blank", "title": "Internal Server Error", "status": 500, "detail": "internal error"}
    assert "retry-after" not in response.headers
    assert DOWN not in response.text
    [record] = [r for r in caplog.records if r.name == "promptpix.app"]
    assert record.message == "unhandled error" and record.exc_info and record.exc_info[0] is OSError


async def test_a_lost_database_connection_is_a_503_to_retry(test_client: AsyncTestClient) -> None:
    response = await test_client.get("/test/connection-lost")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json()["detail"] == DOWN


async def test_generation_errors_are_mapped_by_the_same_table(test_client: AsyncTestClient) -> None:
    response = await test_client.get("/test/provider-down")
    assert response.status_code == 503 and response.headers["retry-after"] == "10"
    assert response.json()["detail"] == "image generation is unavailable right now"  # the provider's words stay in the logs


async def test_a_refused_database_connection_is_database_unavailable() -> None:
    with pytest.raises(DatabaseUnavailable, match=f"^{DOWN}$") as raised:
        await _connect("postgresql://promptpix@127.0.0.1:1/none", timeout=5)  # nothing listens on port 1
    assert raised.value.status == 503 and "connecting: " in raised.value.detail
