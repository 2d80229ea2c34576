"""Text embeddings for semantic search: the provider protocol and the offline embedder.

An `Embedder` turns texts into unit vectors of `EMBEDDING_DIMENSIONS` floats,
so cosine similarity is a dot product and vectors from one model compare with
each other. Documents (what describes an asset) and queries (what a user
types) are embedded with different task types, as retrieval models expect.

`OfflineEmbedder` is not a model: it hashes words into the vector (feature
hashing), so texts that share words land near each other and paraphrases do
not. It exists so development and tests of the semantic path run without a
key, deterministically; its vectors carry the model name `OFFLINE_EMBEDDING_MODEL`
and are never compared with a real model's.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "OFFLINE_EMBEDDING_MODEL",
    "EmbedTask",
    "Embedder",
    "OfflineEmbedder",
    "hashed_embedding",
    "unit",
]

EMBEDDING_DIMENSIONS = 768
"""Fixed, because the database column and its HNSW index are typed `vector(768)`: Gemini's embedding
model is asked for this many (its Matryoshka training keeps a prefix meaningful), and pgvector indexes
at most 2000."""
OFFLINE_EMBEDDING_MODEL = "offline-hashed-words-1"

EmbedTask = Literal["document", "query"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset(["a", "an", "and", "are", "at", "by", "for", "from", "in", "into", "is", "it", "of", "on", "or", "the", "to", "with"])


class Embedder(Protocol):
    name: str
    model: str
    """Stored with every vector: vectors of different models are never compared."""

    async def embed(self, texts: Sequence[str], *, task: EmbedTask) -> list[list[float]]:
        """One unit vector of EMBEDDING_DIMENSIONS floats per text, in order; a `GenerationError` when it cannot."""
        ...

    async def aclose(self) -> None: ...


def unit(vector: Sequence[float]) -> list[float]:
    """`vector` scaled to length 1 (a zero vector stays zero)."""
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else [0.0] * len(vector)


def _stem(word: str) -> str:
    # Enough folding that "foxes" meets "fox" and "running" meets "run"; not a linguistic stemmer.
    for suffix in ("ing", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word[-1] == word[-2] else word


def hashed_embedding(text: str, *, synonyms: Mapping[str, str] | None = None, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """Feature hashing of `text`'s words (case-folded, stop words out, crudely stemmed; `synonyms` maps a
    word to the word it stands for first): each word adds ±1 at a position its BLAKE2b hash picks."""
    vector = [0.0] * dimensions
    for raw in _WORD.findall(text.casefold()):
        word = (synonyms or {}).get(raw, raw)
        if word in _STOP:
            continue
        digest = hashlib.blake2b(_stem(word).encode(), digest_size=8).digest()
        position = int.from_bytes(digest[:4], "big") % dimensions
        vector[position] += 1.0 if digest[4] & 1 else -1.0
    return unit(vector)


class OfflineEmbedder:
    """Deterministic word hashing, labelled `OFFLINE_EMBEDDING_MODEL`: no network, no cost, no semantics."""

    name = "offline"
    model = OFFLINE_EMBEDDING_MODEL

    async def embed(self, texts: Sequence[str], *, task: EmbedTask) -> list[list[float]]:
        return [hashed_embedding(text) for text in texts]

    async def aclose(self) -> None:
        return None
