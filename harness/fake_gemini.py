"""A fake Gemini endpoint on 127.0.0.1 that speaks the REST wire format google-genai uses.

`POST /{v1beta|v1}/models/{model}:generateContent` with the JSON the SDK sends
(camelCase envelope; `inlineData` parts carrying base64 with `mime_type` or
`mimeType`), answered the way Gemini answers: candidates with text or
`inlineData` parts, `finishReason`, `promptFeedback.blockReason`,
`usageMetadata`, `modelVersion`, and `{"error": {code, message, status}}`
bodies for failures. It records every request so tests can assert on what the
real client sent, and each test scripts what it answers, per stage.

The stage of a request is read from its shape: image output requested
(`responseModalities` has IMAGE) is extension (outpainting) when its text
starts with the extension instruction, else synthesis, an image in the contents is
analysis, a JSON schema with an `allowed` verdict is moderation, anything else
is enhancement. Moderation refuses prompts containing one of `unsafe_words`.

`POST /{version}/models/{model}:batchEmbedContents` (what google-genai sends
for `embed_content` on the Gemini API) and `:embedContent` answer
`{"embeddings": [{"values": [...]}]}` / `{"embedding": {"values": [...]}}`.
The vectors are a test double, not a model: each word is mapped through a
small synonym table (`SYNONYMS`) to a canonical word, then hashed into the
vector (`generation.hashed_embedding`), so a paraphrase built from those
synonyms lands near its target, deterministically.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

import msgspec
import pyvips

from generation import hashed_embedding
from generation.analysis import thumbnail
from generation.models import ASPECT_CLASSES, placement
from generation.providers.gemini_answers import EXTEND_INSTRUCTION
from harness.local_server import LocalServer

__all__ = ["API_KEY", "SYNONYMS", "FakeGemini", "Received", "Reply", "fake_embedding"]

API_KEY = "test-key"
Stage = Literal["enhance", "synthesize", "extend", "analyze", "moderate", "embed"]
_PATH = re.compile(r"^/(v1beta|v1)/models/([^/:]+):generateContent$")
_EMBED_PATH = re.compile(r"^/(v1beta|v1)/models/([^/:]+):(batchEmbedContents|embedContent)$")
FULL_DIMENSIONS = 3072
"""What gemini-embedding-001 returns when no `outputDimensionality` is asked for."""

SYNONYMS: dict[str, str] = {
    word: canonical
    for canonical, words in {
        "fox": ("vulpine", "vixen", "reynard"),
        "dog": ("puppy", "hound", "canine", "pooch"),
        "cat": ("kitten", "feline", "kitty"),
        "snow": ("snowy", "snowfall", "blizzard", "wintry"),
        "mountain": ("peak", "summit", "alps", "alpine"),
        "dawn": ("sunrise", "daybreak", "morning"),
        "city": ("urban", "downtown", "metropolis"),
        "street": ("road", "avenue", "boulevard"),
        "ocean": ("sea", "marine", "waves", "seaside"),
        "boat": ("ship", "vessel", "sailboat"),
        "forest": ("woods", "woodland", "trees"),
        "red": ("crimson", "scarlet", "ruby"),
        "sleep": ("asleep", "sleeping", "napping", "dozing", "resting"),
        "run": ("running", "sprinting", "racing", "dashing"),
        "car": ("automobile", "vehicle", "sedan"),
    }.items()
    for word in words
}
"""The fake's whole idea of meaning: these words stand for their canonical word."""
_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """One scripted answer. `body=None` and `raw=None` mean the stage's normal answer."""

    status: int = 200
    body: dict[str, Any] | None = None
    raw: bytes | None = None
    delay: float = 0.0
    headers: dict[str, str] = {}

    @classmethod
    def error(cls, code: int, *, retry_after: str | None = None, retry_delay: str | None = None, reason: str | None = None) -> Reply:
        details: list[dict[str, Any]] = []
        if retry_delay is not None:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
        if reason is not None:
            details.append({"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"})
        error = {"code": code, "message": f"fake error {code}", "status": _STATUS.get(code, "UNKNOWN")}
        if details:
            error["details"] = details
        return cls(status=code, body={"error": error}, headers={"Retry-After": retry_after} if retry_after else {})

    @classmethod
    def blocked(cls, reason: str = "SAFETY") -> Reply:
        return cls(body={"promptFeedback": {"blockReason": reason}, "usageMetadata": {"promptTokenCount": 9}})

    @classmethod
    def finished(cls, reason: str, text: str | None = None) -> Reply:
        """A candidate that stopped with `reason`, carrying at most some text: no image."""
        parts = [{"text": text}] if text is not None else []
        candidate: dict[str, Any] = {"finishReason": reason, "index": 0}
        if parts:
            candidate["content"] = {"role": "model", "parts": parts}
        return cls(body={"candidates": [candidate], "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3}})

    @classmethod
    def text(cls, text: str) -> Reply:
        return cls.finished("STOP", text)

    @classmethod
    def delayed(cls, seconds: float) -> Reply:
        return cls(delay=seconds)


class Received(msgspec.Struct, frozen=True):
    """What one request carried, decoded from the wire."""

    stage: Stage
    api_version: str
    model: str
    api_key: str | None
    body: dict[str, Any]
    texts: tuple[str, ...]
    images: tuple[tuple[str, bytes], ...]
    """Inline image parts (mime, bytes) of the contents, in order."""
    system_instruction: str | None
    aspect_ratio: str | None
    seed: int | None
    response_schema: dict[str, Any] | None


def _b64(text: str) -> bytes:
    """The SDK (pydantic) sends URL-safe base64, Google documents the standard alphabet: accept both."""
    return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)


def _decode(path_version: str, model: str, api_key: str | None, body: dict[str, Any]) -> Received:
    parts = [p for content in body.get("contents", []) for p in content.get("parts", [])]
    texts = tuple(p["text"] for p in parts if "text" in p)
    images = tuple(
        (blob.get("mimeType") or blob.get("mime_type") or "", _b64(blob["data"]))
        for p in parts
        if (blob := p.get("inlineData") or p.get("inline_data"))
    )
    config = body.get("generationConfig", {})
    system = body.get("systemInstruction")
    schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
    stage: Stage = (
        ("extend" if texts and texts[0].startswith(EXTEND_INSTRUCTION) else "synthesize")
        if "IMAGE" in config.get("responseModalities", [])
        else "analyze"
        if images
        else "moderate"
        if "allowed" in schema.get("properties", {})
        else "enhance"
    )
    return Received(
        stage=stage,
        api_version=path_version,
        model=model,
        api_key=api_key,
        body=body,
        texts=texts,
        images=images,
        system_instruction="".join(p.get("text", "") for p in system.get("parts", [])) if system else None,
        aspect_ratio=config.get("imageConfig", {}).get("aspectRatio"),
        seed=config.get("seed"),
        response_schema=config.get("responseJsonSchema") or config.get("responseSchema"),
    )


def draw(received: Received) -> bytes:
    """What the fake model 'draws': a flat scene at the class's size, references inset at the bottom left."""
    width, height = ASPECT_CLASSES.get(received.aspect_ratio or "1:1", (1024, 1024))
    image = (pyvips.Image.black(width, height, bands=3) + [60, 110, 170]).cast("uchar")
    side = min(width, height) // 4
    x = side // 8
    for _, data in received.images:
        tile = thumbnail(data, side).cast("uchar")
        image = image.insert(tile, x, height - side // 8 - tile.height)
        x += tile.width + side // 8
    return image.pngsave_buffer(compression=1)


def outpaint(received: Received) -> bytes:
    """What the fake model answers to an extension: the input image scaled into the class's native size,
    centred, unchanged but for the scale, with margins of a flat colour, as a model that keeps it would."""
    width, height = ASPECT_CLASSES.get(received.aspect_ratio or "1:1", (1024, 1024))
    source = pyvips.Image.new_from_buffer(received.images[0][1], "")
    if source.bands < 3:
        source = source.colourspace("srgb")
    left, top, w, h = placement(source.width, source.height, width, height)
    inner = source[0:3].resize(w / source.width, vscale=h / source.height).cast("uchar")
    canvas = (pyvips.Image.black(width, height, bands=3) + [200, 120, 60]).cast("uchar")
    return canvas.insert(inner.crop(0, 0, min(w, inner.width), min(h, inner.height)), left, top).pngsave_buffer(compression=1)


def fake_embedding(text: str, dimensions: int = FULL_DIMENSIONS) -> list[float]:
    """The fake's vector for `text`: synonyms folded, words hashed (see the module docstring)."""
    return hashed_embedding(text, synonyms=SYNONYMS, dimensions=dimensions)


def _decode_embed(path_version: str, model: str, api_key: str | None, body: dict[str, Any]) -> Received:
    requests = body.get("requests") or [body]  # batchEmbedContents carries a list, embedContent one request
    texts = tuple(" ".join(p.get("text", "") for p in r.get("content", {}).get("parts", [])) for r in requests)
    return Received(
        stage="embed", api_version=path_version, model=model, api_key=api_key, body=body, texts=texts, images=(),
        system_instruction=None, aspect_ratio=None, seed=None, response_schema=None,
    )  # fmt: skip


class FakeGemini(LocalServer):
    """Start with `with FakeGemini() as fake:`; point the client at `fake.url`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.handled: list[float] = []
        """Seconds the fake spent on each request (scripted delays included), in completion order."""
        self.focal_point = (0.3, 0.7)
        self.unsafe_words = {"forbidden"}
        """Moderation refuses a prompt containing one of these."""
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        super().__init__(self._handler(), "fake-gemini")

    @property
    def url(self) -> str:
        return self.origin

    def script(self, stage: Stage, *replies: Reply) -> None:
        """Answer the next requests of `stage` with `replies`, in order; then answer normally."""
        with self._lock:
            self._scripts[stage].extend(replies)

    def unscript(self, stage: Stage) -> None:
        """Drop what is left of `stage`'s script: its next requests are answered normally."""
        with self._lock:
            self._scripts[stage].clear()

    def of(self, stage: Stage) -> list[Received]:
        return [r for r in self.received if r.stage == stage]

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            script = self._scripts[received.stage]
            return script.popleft() if script else Reply()

    def _normal(self, received: Received) -> dict[str, Any]:
        usage = {"promptTokenCount": 40 + 258 * len(received.images), "candidatesTokenCount": 30, "totalTokenCount": 70}
        if received.stage in ("synthesize", "extend"):
            image = outpaint(received) if received.stage == "extend" else draw(received)
            data = base64.b64encode(image).decode()
            parts: list[dict[str, Any]] = [{"inlineData": {"mimeType": "image/png", "data": data}}]
            usage["candidatesTokenCount"] = 1290
        elif received.stage == "analyze":
            x, y = self.focal_point
            prompt = received.texts[-1].rsplit("Prompt: ", 1)[-1]
            answer = {"focal_point": {"x": x, "y": y}, "alt_text": f"A picture of {prompt}.", "tags": ["Fake", "fake", "picture"]}
            parts = [{"text": json.dumps(answer)}]
        elif received.stage == "moderate":
            unsafe = set(received.texts[0].lower().split()) & self.unsafe_words
            verdict = {"allowed": not unsafe, "reason": "fake unsafe category" if unsafe else ""}
            parts = [{"text": json.dumps(verdict)}]
        else:
            parts = [{"text": json.dumps({"prompt": f"{received.texts[0]}, detailed, cinematic light"})}]
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": received.model, "responseId": "fake"}

    def _embedded(self, received: Received) -> dict[str, Any]:
        requests = received.body.get("requests") or [received.body]
        vectors = [
            {"values": fake_embedding(text, int(r.get("outputDimensionality") or FULL_DIMENSIONS))}
            for text, r in zip(received.texts, requests, strict=True)
        ]
        return {"embeddings": vectors} if "requests" in received.body else {"embedding": vectors[0]}

    def _answer(self, path: str, api_key: str | None, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        match = _PATH.match(path)
        embed = _EMBED_PATH.match(path)
        if not match and not embed:
            return 404, {}, json.dumps(Reply.error(404).body).encode()
        if embed:
            received = _decode_embed(embed[1], embed[2], api_key, json.loads(raw))
        else:
            assert match
            received = _decode(match[1], match[2], api_key, json.loads(raw))
        reply = self._next(received)
        if reply.delay:
            time.sleep(reply.delay)
        if api_key != API_KEY:
            return 400, {}, json.dumps(Reply.error(400, reason="API_KEY_INVALID").body).encode()
        if reply.raw is not None:
            return reply.status, reply.headers, reply.raw
        if reply.body is not None:
            body = reply.body
        else:
            body = self._embedded(received) if received.stage == "embed" else self._normal(received)
        return reply.status, reply.headers, json.dumps(body).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def do_POST(self) -> None:
                started = time.perf_counter()
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, headers, body = fake._answer(self.path.split("?")[0], self.headers.get("x-goog-api-key"), raw)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a stage deadline): nothing to answer
                with fake._lock:
                    fake.handled.append(time.perf_counter() - started)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
