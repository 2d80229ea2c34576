"""Queries for organizations."""

from __future__ import annotations

import datetime as dt

import msgspec

from delivery.db.connection import Conn, fetch_one

__all__ = ["Organization", "create_organization", "get_organization", "list_organizations"]


class Organization(msgspec.Struct, frozen=True):
    id: int
    name: str
    created_at: dt.datetime


async def create_organization(conn: Conn, *, name: str) -> Organization:
    row = await fetch_one(conn, "INSERT INTO organizations (name) VALUES ($1) RETURNING *", name)
    return Organization(**row)


async def get_organization(conn: Conn, *, id: int) -> Organization | None:
    row = await conn.fetchrow("SELECT * FROM organizations WHERE id = $1", id)
    return None if row is None else Organization(**row)


async def list_organizations(conn: Conn) -> list[Organization]:
    rows = await conn.fetch("SELECT * FROM organizations ORDER BY id")
    return [Organization(**r) for r in rows]
