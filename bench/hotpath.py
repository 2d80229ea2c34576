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
from litestar.types import ASGIApp

from delivery.app import create_app
from delivery.ops.logs import configure_logging
from delivery.settings import Settings

__all__ = ["hit_cost", "time_requests"]


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def time_requests(app: ASGIApp, path: str, query: str, requests: int) -> tuple[float, set[int]]:
    """Microseconds per request of `GET path?query` sent straight to the ASGI app, and the statuses it answered."""
    statuses: set[int] = set()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"bench"), (b"accept", b"image/avif,image/webp,*/*")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), _receive, send)  # type: ignore[arg-type]  # plain dicts stand in for the typed ASGI events
    return (time.perf_counter() - started) / requests * 1e6, statuses


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
            micros, statuses = await time_requests(app, path, query, requests)
            assert statuses == {200}, statuses
            results[label] = micros
    logging.getLogger().handlers.clear()
    stream.close()
    return results
