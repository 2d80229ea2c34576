"""Embeddings for semantic search: what describes an asset, embedded in the background, and query vectors.

An asset's document is its alt text, tags, prompt and enhanced prompt: for a
generated image the vision model's description and the words that drew it, for
an upload the vision model's description (or the alt text given). It is
embedded after the asset is generated, uploaded, analysed or edited, by one
background task per process (`EmbeddingQueue`), never on a request's path:
requests only `submit` an id. The worker reads the row when its turn comes, so
it embeds the text as it is then, skips a text already embedded with the
current model (by hash), and sends up to `PROMPTPIX_EMBEDDING_BATCH` texts per
call. A failed call is logged and its assets dropped; `promptpix assets embed`
embeds whatever has no vector yet. Embedding is the deployment's cost: no
credits are reserved or debited for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from contextlib import suppress

import asyncpg
from cachetools import LRUCache

from delivery.db.assets import Asset, Semantic, get_live_assets
from delivery.db.embeddings import EmbeddingRow, embedded_hashes, upsert_embeddings, vector_literal
from delivery.errors import EmbeddingUnavailable
from delivery.settings import Settings
from generation import Embedder, GenerationError

__all__ = ["EmbeddingQueue", "document_text", "embed_assets", "semantic_search", "text_hash"]

log = logging.getLogger("promptpix.embeddings")

MAX_DOCUMENT_CHARS = 8000
"""Well under the embedding model's input limit (2048 tokens for Gemini's): a longer document is cut, not refused."""


def document_text(asset: Asset) -> str:
    """What is embedded for an asset; empty when nothing describes it (then it gets no embedding)."""
    parts = [asset.alt_text, ", ".join(asset.tags), asset.prompt or "", asset.enhanced_prompt or ""]
    return "\n".join(p.strip() for p in parts if p and p.strip())[:MAX_DOCUMENT_CHARS]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def embed_assets(pool: asyncpg.Pool, embedder: Embedder, assets: list[Asset]) -> int:
    """Embed and store the documents of `assets` that changed since their stored vector; how many were embedded.
    Raises the embedder's `GenerationError`."""
    documents = {a.id: (a, text) for a in assets if (text := document_text(a))}
    if not documents:
        return 0
    async with pool.acquire() as conn:
        stored = await embedded_hashes(conn, asset_ids=list(documents), model=embedder.model)
    todo = [(a, text) for a, text in documents.values() if stored.get(a.id) != text_hash(text)]
    if not todo:
        return 0
    vectors = await embedder.embed([text for _, text in todo], task="document")
    rows = [
        EmbeddingRow(asset_id=a.id, project_id=a.project_id, model=embedder.model, text_hash=text_hash(text), vector=vector)
        for (a, text), vector in zip(todo, vectors, strict=True)
    ]
    async with pool.acquire() as conn:
        await upsert_embeddings(conn, rows=rows)
    return len(rows)


class EmbeddingQueue:
    """Asset ids waiting to be embedded (each once, in order), worked off by one task per process."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, embedder: Embedder | None) -> None:
        self.embedder = embedder
        """None: semantic search is off (`PROMPTPIX_EMBEDDINGS`); `submit` does nothing."""
        self._pool = pool
        self._batch = settings.embedding_batch
        self._bound = settings.embedding_queue
        self._timeout = settings.embedding_timeout
        self._pending: dict[str, int] = {}
        """Asset id -> project id, in submission order (a dict as an ordered set)."""
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._queries: LRUCache[str, list[float]] = LRUCache(maxsize=1000)
        """Recent search queries' vectors: paging through one search embeds its query once."""

    def submit(self, asset_id: str, project_id: int) -> None:
        """Embed this asset's document soon (a no-op when embeddings are off)."""
        if self.embedder is None:
            return
        if asset_id not in self._pending and len(self._pending) >= self._bound:
            log.warning("embedding queue full: asset not embedded", extra={"asset": asset_id})
            return
        self._pending[asset_id] = project_id
        self._idle.clear()
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="embeddings")

    async def _run(self) -> None:
        assert self.embedder is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                ids = list(self._pending)[: self._batch]
                by_project: dict[int, list[str]] = {}
                for asset_id in ids:
                    by_project.setdefault(self._pending.pop(asset_id), []).append(asset_id)
                try:
                    for project_id, asset_ids in by_project.items():
                        async with self._pool.acquire() as conn:
                            assets = await get_live_assets(conn, project_id=project_id, ids=asset_ids)
                        await embed_assets(self._pool, self.embedder, list(assets.values()))
                except (GenerationError, asyncpg.PostgresError, OSError) as exc:
                    log.warning("embedding failed: assets left without a new vector", extra={"assets": ids, "error": repr(exc)})
                except Exception:  # a bug must not stop the worker for the life of the process
                    log.exception("embedding failed unexpectedly", extra={"assets": ids})
            self._idle.set()

    async def wait_idle(self) -> None:
        """Until everything submitted so far is embedded (or dropped); on the loop that runs the queue."""
        await self._idle.wait()

    @property
    def idle(self) -> bool:
        """Nothing waiting or being embedded: a plain flag, safe to poll from another thread (tests)."""
        return self._idle.is_set()

    async def query_vector(self, query: str) -> list[float] | None:
        """The search query's vector, or None when embeddings are off or the embedder fails (the search is then
        full-text only, logged)."""
        if self.embedder is None:
            return None
        if (cached := self._queries.get(query)) is not None:
            return cached
        try:
            async with asyncio.timeout(self._timeout):
                [vector] = await self.embedder.embed([query], task="query")
        except (GenerationError, TimeoutError) as exc:
            log.warning("query embedding failed: full-text search only", extra={"error": repr(exc)})
            return None
        self._queries[query] = vector
        return vector

    async def close(self) -> None:
        """Finish what is queued, for at most the embedding timeout, then stop."""
        if self._task is None:
            return
        with suppress(TimeoutError):
            async with asyncio.timeout(self._timeout):
                await self.wait_idle()
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


async def semantic_search(settings: Settings, queue: EmbeddingQueue, query: str, *, hybrid: bool | None = None) -> Semantic | None:
    """The nearest-neighbour half of a search (`GET /v1/assets?q=`, the MCP `search_assets` tool), when embeddings are
    on and the query can be embedded. `hybrid` is what an earlier page of the same search was (None: a first page):
    a first page without a vector is full-text only; a later page of a fused search without one is a 503, since a
    full-text page would not continue its order."""
    if queue.embedder is None or hybrid is False:
        return None
    vector = await queue.query_vector(query)
    if vector is None:
        if hybrid:
            raise EmbeddingUnavailable(retry_after=1)
        return None
    return Semantic(
        vector=vector_literal(vector),
        model=queue.embedder.model,
        candidates=settings.semantic_candidates,
        min_similarity=settings.semantic_min_similarity,
    )
