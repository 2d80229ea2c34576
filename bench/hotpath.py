"""Per-request Python cost of a variant-cache hit: the ASGI app called directly, no HTTP server.

Subtracting this from the HTTP numbers tells how much of a hit is the app
and how much the server and the socket.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.ops.logs import configure_logging
from delivery.settings import Settings

__all__ = ["hit_cost"]


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def hit_cost(settings: Settings, path: str, query: str, *, log: Path, requests: int = 20000) -> dict[str, float]:
    """Microseconds per cache hit, with and without the access-log middleware."""
    results = {}
    configure_logging("INFO")  # access lines are formatted and written, as in production, to a file
    stream = log.open("w")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    for label, log_requests in (("with access log", True), ("without access log", False)):
        app = create_app(msgspec.structs.replace(settings, log_requests=log_requests))
        async with AsyncTestClient(app=app) as client:
            for _ in range(2):
                response = await client.get(f"{path}?{query}")
            assert response.headers["x-cache-status"] == "HIT", response.headers
            statuses: list[int] = []

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])  # noqa: B023 (awaited within this iteration)

            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
                "headers": [(b"host", b"bench"), (b"accept", b"image/avif,image/webp,*/*")],
                "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
            }
            started = time.perf_counter()
            for _ in range(requests):
                await app(dict(scope), _receive, send)
            elapsed = time.perf_counter() - started
            assert set(statuses) == {200}, set(statuses)
            results[label] = elapsed / requests * 1e6
    logging.getLogger().handlers.clear()
    stream.close()
    return results
