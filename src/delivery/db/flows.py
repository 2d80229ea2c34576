"""Queries for flows: chained generations, each step an asset that later steps may reference."""

from __future__ import annotations

import datetime as dt

import msgspec

from delivery.db.connection import Conn, fetch_one

__all__ = ["Flow", "FlowStep", "append_step", "create_flow", "get_flow", "list_steps"]


class Flow(msgspec.Struct, frozen=True):
    id: int
    project_id: int
    title: str
    created_at: dt.datetime


class FlowStep(msgspec.Struct, frozen=True):
    flow_id: int
    position: int
    """1 for the first step: `@step1`."""
    asset_id: str
    prompt: str
    created_at: dt.datetime


async def create_flow(conn: Conn, *, project_id: int, title: str = "") -> Flow:
    row = await fetch_one(conn, "INSERT INTO flows (project_id, title) VALUES ($1, $2) RETURNING *", project_id, title)
    return Flow(**row)


async def get_flow(conn: Conn, *, project_id: int, id: int) -> Flow | None:
    """Another project's flow is as unknown as a missing one."""
    row = await conn.fetchrow("SELECT * FROM flows WHERE id = $1 AND project_id = $2", id, project_id)
    return None if row is None else Flow(**row)


async def list_steps(conn: Conn, *, flow_id: int) -> list[FlowStep]:
    rows = await conn.fetch("SELECT * FROM flow_steps WHERE flow_id = $1 ORDER BY position", flow_id)
    return [FlowStep(**r) for r in rows]


async def append_step(conn: Conn, *, flow_id: int, asset_id: str, prompt: str) -> FlowStep:
    """The next position, under the flow's row lock so concurrent appends never share one."""
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM flows WHERE id = $1 FOR UPDATE", flow_id)
        row = await fetch_one(
            conn,
            """INSERT INTO flow_steps (flow_id, position, asset_id, prompt)
               SELECT $1, coalesce(max(position), 0) + 1, $2, $3 FROM flow_steps WHERE flow_id = $1
               RETURNING *""",
            flow_id,
            asset_id,
            prompt,
        )
    return FlowStep(**row)
