"""Raw ASGI: every request's path, query and form or JSON body pass `delivery.hygiene` before any route sees them.

One place instead of a check per route: a NUL or an invalid UTF-8 sequence is a
400 naming where it was (an error image on image URLs, through the app's
exception handlers), never a 500 from the database or a header, and never a
prompt sent to a provider.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from delivery.hygiene import check_json, check_path, check_query

__all__ = ["HygieneMiddleware"]

_FORM = b"application/x-www-form-urlencoded"


def _content_type(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value.split(b";", 1)[0].strip().lower())
    return b""


def _is_json(content_type: bytes) -> bool:
    return content_type == b"application/json" or content_type.endswith(b"+json")


class HygieneMiddleware:
    def __init__(self, app: ASGIApp, *, max_json_depth: int, max_body_bytes: int) -> None:
        self.app = app
        self.max_json_depth = max_json_depth
        self.max_body_bytes = max_body_bytes
        """Bodies past this are not read here: the route's own size limit refuses them."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        check_path(scope.get("raw_path") or scope["path"].encode())
        check_query(scope.get("query_string", b""))
        content_type = _content_type(scope)
        if not (_is_json(content_type) or content_type == _FORM):
            await self.app(scope, receive, send)
            return
        messages, body, complete = await self._read(receive)
        if complete and body:
            if content_type == _FORM:
                check_query(body, what="the form")
            else:
                check_json(body, max_depth=self.max_json_depth)
        await self.app(scope, self._replay(messages, receive), send)

    async def _read(self, receive: Receive) -> tuple[list[ReceiveMessage], bytes, bool]:
        """The body's messages (kept to replay), their bytes, and whether that was all of it."""
        messages: list[ReceiveMessage] = []
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages, b"", False  # the client went away
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                return messages, b"".join(chunks), True
            if size > self.max_body_bytes:
                return messages, b"", False

    @staticmethod
    def _replay(messages: list[ReceiveMessage], receive: Receive) -> Receive:
        pending = list(messages)

        async def replay() -> ReceiveMessage:
            if pending:
                return pending.pop(0)
            return await receive()

        return replay
