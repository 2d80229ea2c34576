"""Gemini text embeddings through google-genai (`PROMPTPIX_EMBEDDINGS=gemini`).

One `batchEmbedContents` call per batch of texts, asked for
`EMBEDDING_DIMENSIONS` values per text. Below the model's full size its vectors
are not unit length, so they are normalised here. Documents are embedded as
`RETRIEVAL_DOCUMENT`, search queries as `RETRIEVAL_QUERY`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from google.genai import types

from generation.embeddings import EMBEDDING_DIMENSIONS, EmbedTask, unit
from generation.errors import MalformedResponse, StageTimeout
from generation.providers.gemini import gemini_client
from generation.providers.gemini_errors import TRANSPORT_ERRORS, from_exception

__all__ = ["GeminiEmbedder"]

_TASKS: dict[EmbedTask, str] = {"document": "RETRIEVAL_DOCUMENT", "query": "RETRIEVAL_QUERY"}


class GeminiEmbedder:
    name = "gemini"

    def __init__(self, *, api_key: str, base_url: str | None, model: str, timeout: float) -> None:
        self._client = gemini_client(api_key, base_url)
        self.model = model
        self.timeout = timeout

    async def embed(self, texts: Sequence[str], *, task: EmbedTask) -> list[list[float]]:
        if not texts:
            return []
        contents = [types.Content(parts=[types.Part(text=text)]) for text in texts]  # one Content, one vector, per text
        config = types.EmbedContentConfig(task_type=_TASKS[task], output_dimensionality=EMBEDDING_DIMENSIONS)
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._client.aio.models.embed_content(model=self.model, contents=contents, config=config)
        except TimeoutError:
            raise StageTimeout(f"embedding took longer than {self.timeout:g} s", stage="embed") from None
        except TRANSPORT_ERRORS as exc:
            raise from_exception(exc, "embed") from exc
        vectors = [list(e.values or ()) for e in response.embeddings or ()]
        if len(vectors) != len(texts) or any(len(v) != EMBEDDING_DIMENSIONS for v in vectors):
            detail = f"expected {len(texts)} embeddings of {EMBEDDING_DIMENSIONS} values, got {[len(v) for v in vectors]}"
            raise MalformedResponse("the embedding model sent an unexpected answer", stage="embed", detail=detail)
        return [unit(v) for v in vectors]

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()
