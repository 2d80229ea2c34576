"""`promptpix serve --workers N`: several app processes on one port, one parent supervising them.

The parent does what must happen once: it starts (or joins) the embedded
PostgreSQL and hands its URL to the workers in `PROMPTPIX_DATABASE_URL`,
migrates, creates the demo tenancy, and gives the workers a fresh
`PROMETHEUS_MULTIPROC_DIR` so `/metrics` from any worker reports all of them.
uvicorn's supervisor then spawns the workers from the `app_from_env` factory.
On SIGTERM or SIGINT it stops them; each worker stops accepting, lets in-flight
requests (generations included) finish for up to `PROMPTPIX_SHUTDOWN_TIMEOUT`
seconds, and its lifespan closes the pool, which releases any generation claim.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable

import msgspec

from delivery.cli import step
from delivery.ops.embedded import start_embedded_postgres
from delivery.ops.metrics import MULTIPROCESS_ENV
from delivery.settings import Settings

__all__ = ["KEEPALIVE_SECONDS", "serve_workers"]

KEEPALIVE_SECONDS = 75
"""Idle keep-alive of app connections: longer than nginx's upstream `keepalive_timeout` (60s),
so nginx, not the app, closes an idle connection and never reuses one the app just closed."""


def _wait_until_up(settings: Settings, announce: Callable[[], None], stop: threading.Event) -> None:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host
    url = f"http://{host}:{settings.port}/healthz"
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    announce()
                    return
        except OSError:
            pass
        time.sleep(0.1)


def serve_workers(settings: Settings, workers: int, *, prepare: Callable[[Settings], Callable[[], None]]) -> int:
    """`prepare` migrates and sets up the demo, and returns what prints the URLs once a worker answers."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if not settings.database_url:
        step(f"starting the embedded PostgreSQL in {settings.data_path / 'postgres'}")
        url = start_embedded_postgres(settings.data_path)  # stopped by its exit hook when the parent exits
        os.environ["PROMPTPIX_DATABASE_URL"] = url
        settings = msgspec.structs.replace(settings, database_url=url)
    announce = prepare(settings)
    with tempfile.TemporaryDirectory(prefix="promptpix-metrics-") as fresh:
        os.environ.setdefault(MULTIPROCESS_ENV, fresh)
        config = uvicorn.Config(
            "delivery.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout)),
            timeout_keep_alive=KEEPALIVE_SECONDS,
        )
        step(f"listening on {settings.host}:{settings.port} with {workers} workers")
        stop = threading.Event()
        threading.Thread(target=_wait_until_up, args=(settings, announce, stop), daemon=True).start()
        try:
            listener = config.bind_socket()
            # Accepted connections inherit this. asyncio sets it itself only on sockets it creates; without it
            # (no uvloop) a response written as headers then body waits out the client's delayed ACK (~40 ms).
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            Multiprocess(config, sockets=[listener]).run()
        finally:
            stop.set()
    return 0
