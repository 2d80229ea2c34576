"""Queries for generations: one row per attempt, kept for cost and failure reporting."""

from __future__ import annotations

import asyncpg

from delivery.db.connection import Conn

__all__ = ["finish_generation", "pending_generations", "start_generation"]


async def start_generation(
    conn: Conn, *, project_id: int, generation_key: str, provider: str, model: str
) -> int:
    return await conn.fetchval(
        """INSERT INTO generations (project_id, generation_key, status, provider, model)
           VALUES ($1, $2, 'pending', $3, $4) RETURNING id""",
        project_id,
        generation_key,
        provider,
        model,
    )


async def finish_generation(
    conn: Conn,
    *,
    id: int,
    status: str,
    latency_ms: int,
    cost: float = 0.0,
    asset_id: str | None = None,
    error: str | None = None,
    provider: str | None = None,
    model: str | None = None,
) -> None:
    """`provider`, `model`: who actually drew it, when a fallback did (None keeps what `start_generation` recorded)."""
    await conn.execute(
        """UPDATE generations
           SET status = $2, latency_ms = $3, cost = $4, asset_id = $5, error = $6, finished_at = now(),
               provider = coalesce($7, provider), model = coalesce($8, model)
           WHERE id = $1""",
        id,
        status,
        latency_ms,
        cost,
        asset_id,
        error,
        provider,
        model,
    )


async def pending_generations(
    conn: Conn, *, project_id: int, generation_key: str, keep: int | None = None
) -> list[asyncpg.Record]:
    """Attempts at this key still `pending` (id, project_id, generation_key, created_at), but for `keep`
    and the reservations of queued or running jobs, which are pending until a worker draws on them."""
    return await conn.fetch(
        """SELECT id, project_id, generation_key, created_at FROM generations g
           WHERE project_id = $1 AND generation_key = $2 AND status = 'pending' AND id IS DISTINCT FROM $3
             AND NOT EXISTS (SELECT 1 FROM job_candidates c JOIN jobs j ON j.id = c.job_id
                             WHERE c.generation_id = g.id AND j.status IN ('queued', 'running'))
           ORDER BY id""",
        project_id,
        generation_key,
        keep,
    )
