"""A fake Replicate API on 127.0.0.1: predictions and file downloads, as the `replicate` client speaks them.

- `POST /v1/predictions` (`{"version", "input"}`) and
  `POST /v1/models/{owner}/{name}/predictions` (`{"input"}`) create a prediction;
- `GET /v1/predictions/{id}` polls it: `starting` on the first poll after the
  create, then its final state (`succeeded` with an output URL, or `failed`
  with an `error` text);
- `POST /v1/predictions/{id}/cancel`;
- `GET /files/{id}.png` downloads the output.

Every create is recorded (path, model, version, input, token). Each test
scripts what the next creates answer (`Reply`): an HTTP error with a problem
details body and headers, a delay, a failed prediction, an oversized or
undeclared-size download. The normal image is drawn at the requested aspect
class's size (or `width`/`height`), with a reference image inset bottom left.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any

import msgspec
import pyvips

from generation.analysis import thumbnail
from generation.models import ASPECT_CLASSES
from harness.local_server import LocalServer

__all__ = ["API_TOKEN", "FakeReplicate", "Prediction", "Reply"]

API_TOKEN = "r8_test-token"
_MODEL_PATH = re.compile(r"^/v1/models/([^/]+)/([^/]+)/predictions$")
_PREDICTION = re.compile(r"^/v1/predictions/([^/]+)(/cancel)?$")
_FILE = re.compile(r"^/files/([^/.]+)\.png$")


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """One scripted answer to a create; the defaults are a normal success."""

    status: int = 201
    """The create's HTTP status: 201, or an error with a problem details body."""
    headers: dict[str, str] = {}
    delay: float = 0.0
    """Seconds before the create answers."""
    error: str | None = None
    """Set: the prediction fails with this `error` text."""
    output_bytes: int | None = None
    """Set: the download is this many bytes (garbage past the PNG header)."""
    hide_length: bool = False
    """The download is chunked, with no Content-Length."""
    predict_time: float = 1.25

    @classmethod
    def http_error(cls, status: int, *, retry_after: str | None = None, detail: str = "fake error") -> Reply:
        return cls(status=status, headers={"Retry-After": retry_after} if retry_after else {}, error=detail)


class Prediction(msgspec.Struct, kw_only=True):
    id: str
    model: str
    version: str
    input: dict[str, Any]
    token: str | None
    reply: Reply
    polls: int = 0
    canceled: bool = False


def draw(inputs: dict[str, Any]) -> bytes:
    if "width" in inputs and "height" in inputs:
        width, height = int(inputs["width"]), int(inputs["height"])
    else:
        width, height = ASPECT_CLASSES.get(inputs.get("aspect_ratio") or "1:1", (1024, 1024))
    image = (pyvips.Image.black(width, height, bands=3) + [170, 90, 40]).cast("uchar")
    for value in inputs.values():
        if isinstance(value, str) and value.startswith("data:image/"):
            side = min(width, height) // 4
            tile = thumbnail(base64.b64decode(value.split(",", 1)[1]), side).cast("uchar")
            image = image.insert(tile, side // 8, height - side // 8 - tile.height)
    return image.pngsave_buffer(compression=1)


class FakeReplicate(LocalServer):
    """Start with `with FakeReplicate() as fake:`; point the client at `fake.url`."""

    def __init__(self) -> None:
        self.predictions: dict[str, Prediction] = {}
        self.creates: list[Prediction] = []
        """Every create, in order, failed ones included."""
        self.downloads = 0
        self.default_version = "5599ed30703defd1d160a25a63321b4dec97101d98b4674bcc56e41f62f35637"
        self._scripts: deque[Reply] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        super().__init__(self._handler(), "fake-replicate")

    @property
    def url(self) -> str:
        return self.origin

    def script(self, *replies: Reply) -> None:
        """Answer the next creates with `replies`, in order; then answer normally."""
        with self._lock:
            self._scripts.extend(replies)

    def _json(self, prediction: Prediction) -> dict[str, Any]:
        status = "starting"
        output: Any = None
        error = None
        if prediction.canceled:
            status = "canceled"
        elif prediction.polls >= 1:
            if prediction.reply.error is not None:
                status, error = "failed", prediction.reply.error
            else:
                status, output = "succeeded", [f"{self.url}/files/{prediction.id}.png"]
        return {
            "id": prediction.id,
            "model": prediction.model,
            "version": prediction.version,
            "status": status,
            "input": prediction.input,
            "output": output,
            "error": error,
            "logs": "",
            "metrics": {"predict_time": prediction.reply.predict_time} if status == "succeeded" else {},
            "created_at": "2026-01-01T00:00:00Z",
            "urls": {"get": f"{self.url}/v1/predictions/{prediction.id}", "cancel": f"{self.url}/v1/predictions/{prediction.id}/cancel"},
        }

    def _create(self, model: str, version: str, body: dict[str, Any], token: str | None) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            reply = self._scripts.popleft() if self._scripts else Reply()
            prediction = Prediction(id=f"p{next(self._ids)}", model=model, version=version, input=body.get("input", {}), token=token, reply=reply)
            self.creates.append(prediction)
        if reply.delay:
            time.sleep(reply.delay)
        if token != f"Bearer {API_TOKEN}":
            return _problem(401, "Unauthenticated", "invalid token")
        if reply.status >= 400:
            return _problem(reply.status, "fake error", reply.error or "fake error", reply.headers)
        with self._lock:
            self.predictions[prediction.id] = prediction
        return 201, {}, json.dumps(self._json(prediction)).encode()

    def _poll(self, prediction_id: str, cancel: bool) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            prediction = self.predictions.get(prediction_id)
            if prediction is None:
                return _problem(404, "Not found", "no such prediction")
            if cancel:
                prediction.canceled = True
            else:
                prediction.polls += 1
            return 200, {}, json.dumps(self._json(prediction)).encode()

    def _file(self, prediction_id: str) -> tuple[bytes, bool] | None:
        with self._lock:
            prediction = self.predictions.get(prediction_id)
            self.downloads += 1
        if prediction is None:
            return None
        reply = prediction.reply
        if reply.output_bytes is not None:
            return b"\x89PNG\r\n\x1a\n" + bytes(reply.output_bytes - 8), reply.hide_length
        return draw(prediction.input), reply.hide_length

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _send(self, status: int, headers: dict[str, str], body: bytes, content_type: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.split("?")[0]
                token = self.headers.get("Authorization")
                body = json.loads(raw or b"{}")
                if path == "/v1/predictions":
                    self._send(*fake._create("", str(body.get("version", "")), body, token))
                elif match := _MODEL_PATH.match(path):
                    self._send(*fake._create(f"{match[1]}/{match[2]}", fake.default_version, body, token))
                elif (match := _PREDICTION.match(path)) and match[2]:
                    self._send(*fake._poll(match[1], cancel=True))
                else:
                    self._send(*_problem(404, "Not found", path))

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if (match := _PREDICTION.match(path)) and not match[2]:
                    self._send(*fake._poll(match[1], cancel=False))
                    return
                file = fake._file(match[1]) if (match := _FILE.match(path)) else None
                if file is None:
                    self._send(*_problem(404, "Not found", path))
                    return
                data, chunked = file
                if not chunked:
                    self._send(200, {}, data, "image/png")
                    return
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(data), 65536):
                        chunk = data[start : start + 65536]
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the client stopped reading at its limit

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return status, headers or {}, json.dumps(body).encode()
