"""Repair after crashes: orphaned objects and generations left pending.

Two things a crash can leave behind (see delivery.assets.masters for the write order):
an object with no row (the process died between PUT and INSERT, or the
database went away after the PUT), and a generation row still `pending`
because the process running it died. The sweep removes the first once they
are older than a grace period and marks the second failed once no process
holds its generation lock. It is safe to run from several processes at once
and from the CLI while the service runs.
"""

from __future__ import annotations

import datetime as dt
import logging

import asyncpg
import msgspec

from delivery.assets.masters import OBJECT_LOCK_SQL
from delivery.db.connection import Conn, holds_session_state
from delivery.db.generations import pending_generations
from delivery.prompts import billing
from delivery.storage import Storage, StoredObject

__all__ = ["SWEEP_LOCK", "PendingGeneration", "SweepReport", "settle_abandoned", "settle_abandoned_at_key", "sweep"]

log = logging.getLogger("promptpix.sweep")

_MASTERS = "masters/"  # delivery.assets.ids.master_key puts every master under here
_BATCH = 500
SWEEP_LOCK = 0x70707377  # "ppsw": one sweep at a time across processes


class PendingGeneration(msgspec.Struct, frozen=True):
    id: int
    project_id: int
    generation_key: str
    created_at: dt.datetime


class SweepReport(msgspec.Struct, frozen=True):
    applied: bool
    orphans: tuple[StoredObject, ...] = ()
    """Objects no row references, older than the grace period (deleted when applied)."""
    abandoned: tuple[PendingGeneration, ...] = ()
    """Generations left pending by a crash (marked failed when applied)."""
    skipped: int = 0
    """Candidates a live writer held at that moment; the next sweep looks again."""
    ran: bool = True
    """False when another process was sweeping (or, for the periodic sweep, had just swept)."""

    def lines(self) -> list[str]:
        verb = "deleted" if self.applied else "would delete"
        out = [f"{verb} object {o.key} ({o.size} bytes, written {o.modified:%Y-%m-%d %H:%M:%S}Z)" for o in self.orphans]
        verb = "marked" if self.applied else "would mark"
        out += [f"{verb} generation {g.id} failed (pending since {g.created_at:%Y-%m-%d %H:%M:%S}Z)" for g in self.abandoned]
        if self.skipped:
            out.append(f"skipped {self.skipped} candidates held by a running write")
        return out


async def settle_abandoned(conn: Conn, generation: PendingGeneration) -> None:
    """Mark a crashed generation failed and refund its reservation (at most once, delivery.prompts.billing)."""
    async with conn.transaction():
        await conn.execute(
            """UPDATE generations SET status = 'failed', cost = 0, finished_at = now(),
                   error = 'abandoned: the process running it stopped before it finished'
               WHERE id = $1 AND status = 'pending'""",
            generation.id,
        )
        await billing.refund(conn, generation_id=generation.id, now=dt.datetime.now(dt.UTC))


async def settle_abandoned_at_key(
    conn: Conn, *, project_id: int, generation_key: str, keep: int | None = None
) -> list[PendingGeneration]:
    """Settle every attempt at this key left pending; only for a caller holding the key's claim.

    Every generation runs under its key's claim (delivery.prompts.claims), so a
    pending row seen by the claim's holder belongs to a process that died or
    lost its connection: it is refunded now, by the first request or worker that
    sees it, rather than by the next sweep. `keep` is the caller's own
    reservation (a job's candidate), and other live jobs' reservations are
    pending by design: neither is touched.
    """
    rows = await pending_generations(conn, project_id=project_id, generation_key=generation_key, keep=keep)
    abandoned = [PendingGeneration(**row) for row in rows]
    for generation in abandoned:
        await settle_abandoned(conn, generation)
        log.warning("abandoned generation settled", extra={"generation": generation.id, "pending_since": generation.created_at.isoformat()})
    return abandoned


async def _unreferenced(conn: Conn, batch: list[StoredObject]) -> list[StoredObject]:
    rows = await conn.fetch("SELECT storage_key FROM assets WHERE storage_key = ANY($1::text[])", [o.key for o in batch])
    referenced = {r["storage_key"] for r in rows}
    return [o for o in batch if o.key not in referenced]


async def _remove(conn: Conn, storage: Storage, found: StoredObject, apply: bool) -> bool:
    """Delete one orphan under its object lock, re-checking the row; False if a writer holds it."""
    async with conn.transaction():
        if not await conn.fetchval(f"SELECT pg_try_advisory_xact_lock({OBJECT_LOCK_SQL})", found.key):
            return False
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM assets WHERE storage_key = $1)", found.key):
            return False
        if apply:
            await storage.delete(found.key)
    return True


async def _orphans(conn: Conn, storage: Storage, cutoff: dt.datetime, apply: bool) -> tuple[list[StoredObject], int]:
    removed: list[StoredObject] = []
    skipped = 0
    batch: list[StoredObject] = []

    async def flush() -> None:
        nonlocal skipped
        for found in await _unreferenced(conn, batch):
            if await _remove(conn, storage, found, apply):
                removed.append(found)
            else:
                skipped += 1
        batch.clear()

    async for found in storage.list(_MASTERS):
        if found.modified < cutoff:
            batch.append(found)
        if len(batch) >= _BATCH:
            await flush()
    await flush()
    return removed, skipped


async def _abandoned(conn: Conn, cutoff: dt.datetime, apply: bool) -> tuple[list[PendingGeneration], int]:
    rows = await conn.fetch(
        # A queued or running job's reservations are pending by design until a worker draws on them.
        """SELECT id, project_id, generation_key, created_at FROM generations g WHERE status = 'pending' AND created_at < $1
           AND NOT EXISTS (SELECT 1 FROM job_candidates c JOIN jobs j ON j.id = c.job_id
                           WHERE c.generation_id = g.id AND j.status IN ('queued', 'running'))""",
        cutoff,
    )
    settled: list[PendingGeneration] = []
    skipped = 0
    for row in rows:
        generation = PendingGeneration(**row)
        async with conn.transaction():
            # A live generation holds this lock for its whole run (delivery.prompts.ondemand).
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", generation.generation_key):
                skipped += 1
                continue
            if apply:
                await settle_abandoned(conn, generation)
        settled.append(generation)
    return settled, skipped


async def _recently_swept(conn: Conn, within: float | None) -> bool:
    if within is None:
        return False
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM sweep_runs WHERE started_at > now() - $1::float8 * interval '1 second')", within
    )


async def sweep(
    pool: asyncpg.Pool,
    storage: Storage,
    *,
    apply: bool,
    grace: float,
    pending_after: float,
    unless_swept_within: float | None = None,
) -> SweepReport:
    """Find (and with `apply`, repair) what crashes left; dry-run by default.

    One sweep runs at a time across processes; with `unless_swept_within`, it
    also skips when any process applied one that recently, so N processes
    sweeping every hour list the bucket once an hour, not N times.
    """
    async with pool.acquire() as conn:
        holds_session_state(conn)
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", SWEEP_LOCK):
            return SweepReport(applied=apply, ran=False)
        try:
            if await _recently_swept(conn, unless_swept_within):
                return SweepReport(applied=apply, ran=False)
            now = await conn.fetchval("SELECT now()")
            orphans, held_objects = await _orphans(conn, storage, now - dt.timedelta(seconds=grace), apply)
            abandoned, held_rows = await _abandoned(conn, now - dt.timedelta(seconds=pending_after), apply)
            if apply:
                await conn.execute(
                    "INSERT INTO sweep_runs (started_at, orphans, abandoned) VALUES ($1, $2, $3)", now, len(orphans), len(abandoned)
                )
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", SWEEP_LOCK)
    report = SweepReport(applied=apply, orphans=tuple(orphans), abandoned=tuple(abandoned), skipped=held_objects + held_rows)
    if apply and (orphans or abandoned):
        log.info("sweep repaired", extra={"orphans": len(orphans), "abandoned": len(abandoned)})
    return report
