"""Queries for asset embeddings (migration 014): pgvector columns, written and compared as text literals.

Vectors travel as pgvector's text form (`[0.1,0.2,…]`) cast with `::vector`,
so no codec has to be registered on the pool's connections.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from delivery.db.assets import Asset, exact_vector_order
from delivery.db.connection import Conn

__all__ = ["EmbeddingRow", "embedded_hashes", "has_embedding", "missing_embeddings", "similar_assets", "upsert_embeddings", "vector_literal"]


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


class EmbeddingRow(msgspec.Struct, frozen=True, kw_only=True):
    asset_id: str
    project_id: int
    model: str
    text_hash: str
    vector: list[float]


async def embedded_hashes(conn: Conn, *, asset_ids: list[str], model: str) -> dict[str, str]:
    """Asset id -> hash of the text its stored embedding of `model` was made from (absent: none)."""
    rows = await conn.fetch("SELECT asset_id, text_hash FROM asset_embeddings WHERE asset_id = ANY($1::text[]) AND model = $2", asset_ids, model)
    return {r["asset_id"]: r["text_hash"] for r in rows}


async def upsert_embeddings(conn: Conn, *, rows: list[EmbeddingRow]) -> None:
    """Store each asset's embedding, replacing an older one (of any model); an asset removed meanwhile is skipped."""
    await conn.executemany(
        """INSERT INTO asset_embeddings (asset_id, project_id, model, text_hash, embedding)
           SELECT $1, $2, $3, $4, $5::vector WHERE EXISTS (SELECT 1 FROM assets WHERE id = $1)
           ON CONFLICT (asset_id) DO UPDATE SET model = excluded.model, text_hash = excluded.text_hash,
                                               embedding = excluded.embedding, embedded_at = now()""",
        [(r.asset_id, r.project_id, r.model, r.text_hash, vector_literal(r.vector)) for r in rows],
    )


async def has_embedding(conn: Conn, *, asset_id: str, model: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM asset_embeddings WHERE asset_id = $1 AND model = $2)", asset_id, model))


async def missing_embeddings(conn: Conn, *, project_id: int | None, model: str, after: str, limit: int) -> list[Asset]:
    """Live assets (of one project, or all) with no embedding of `model`, in id order after `after`."""
    rows = await conn.fetch(
        """SELECT a.* FROM assets a
           WHERE a.deleted_at IS NULL AND ($1::bigint IS NULL OR a.project_id = $1) AND a.id > $3
             AND NOT EXISTS (SELECT 1 FROM asset_embeddings e WHERE e.asset_id = a.id AND e.model = $2)
           ORDER BY a.id LIMIT $4""",
        project_id,
        model,
        after,
        limit,
    )
    return [Asset(**r) for r in rows]


async def similar_assets(
    conn: Conn, *, project_id: int, asset_id: str, model: str, limit: int
) -> list[tuple[Asset, float]]:
    """The project's live assets nearest to `asset_id`'s embedding (itself left out), nearest first, with their
    cosine similarity. The caller checks that the asset has an embedding of `model`."""
    async with conn.transaction():
        await exact_vector_order(conn, limit + 1)
        rows = await conn.fetch(
            """WITH target AS (SELECT embedding FROM asset_embeddings WHERE asset_id = $2 AND model = $3),
               near AS MATERIALIZED (
                 SELECT e.asset_id, e.embedding <=> (SELECT embedding FROM target) AS distance
                 FROM asset_embeddings e JOIN assets a ON a.id = e.asset_id
                 WHERE e.project_id = $1 AND e.model = $3 AND a.deleted_at IS NULL AND e.asset_id <> $2
                 ORDER BY e.embedding <=> (SELECT embedding FROM target) LIMIT $4)
               SELECT a.*, (1 - n.distance)::float8 AS similarity FROM near n JOIN assets a ON a.id = n.asset_id
               ORDER BY n.distance, a.id""",
            project_id,
            asset_id,
            model,
            limit,
        )
    return [(Asset(**{k: v for k, v in r.items() if k != "similarity"}), r["similarity"]) for r in rows]

