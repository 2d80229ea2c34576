"""A fake Cloudflare API: `POST /client/v4/zones/{zone}/purge_cache`, recording each purge and when it came.

Answers as Cloudflare does (`{"success": true, "result": {"id": zone}}`), checks
the bearer token, and can be told to answer the next requests with 429 (and
`Retry-After`) to exercise the purger's backoff.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import msgspec

from harness.local_server import LocalServer

__all__ = ["TOKEN", "ZONE", "FakeCloudflare", "Purge"]

TOKEN = "fake-cloudflare-token"
ZONE = "0123456789abcdef0123456789abcdef"
_PATH = re.compile(r"^/client/v4/zones/([0-9a-f]{32})/purge_cache$")


class Purge(msgspec.Struct, frozen=True):
    zone: str
    body: dict[str, Any]
    at: float
    """time.monotonic() when it arrived."""
    status: int


class FakeCloudflare(LocalServer):
    def __init__(self) -> None:
        self.purges: list[Purge] = []
        self._throttle = 0
        self._lock = threading.Lock()
        super().__init__(self._handler(), "fake-cloudflare")

    @property
    def url(self) -> str:
        """What PROMPTPIX_CLOUDFLARE_API_URL is set to."""
        return f"{self.origin}/client/v4"

    def throttle(self, count: int) -> None:
        """Answer the next `count` purges with 429."""
        with self._lock:
            self._throttle = count

    def accepted(self) -> list[Purge]:
        with self._lock:
            return [p for p in self.purges if p.status == 200]

    def tags(self) -> list[str]:
        return [t for p in self.accepted() for t in p.body.get("tags", [])]

    def _answer(self, path: str, authorization: str | None, raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
        match = _PATH.match(path)
        if match is None:
            return 404, {}, {"success": False, "errors": [{"code": 7003, "message": "No route for the URI"}]}
        body = json.loads(raw or b"{}")
        with self._lock:
            status = 403 if authorization != f"Bearer {TOKEN}" else 429 if self._throttle > 0 else 200
            if status == 429:
                self._throttle -= 1
            self.purges.append(Purge(zone=match[1], body=body, at=time.monotonic(), status=status))
        if status == 403:
            return 403, {}, {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}
        if status == 429:
            return 429, {"Retry-After": "1"}, {"success": False, "errors": [{"code": 971, "message": "Please wait and consider throttling your request speed"}]}
        return 200, {}, {"success": True, "errors": [], "messages": [], "result": {"id": match[1]}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, body = fake._answer(self.path, self.headers.get("Authorization"), raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json", "Content-Length": str(len(data))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
