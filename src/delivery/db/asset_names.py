"""Queries for asset names: a project's `@name` aliases, each pointing at one of its assets.

A name can move to another asset at any time (`/i/{project}/@{name}` follows
it), so it is a row of its own rather than a column of the asset.
"""

from __future__ import annotations

import datetime as dt
import re

import msgspec

from delivery.db.assets import Asset
from delivery.db.connection import Conn
from delivery.errors import InvalidName, ReservedName

__all__ = [
    "NAME_PATTERN",
    "AssetName",
    "check_name",
    "delete_name",
    "get_named_asset",
    "list_names",
    "named_assets",
    "set_name",
]

NAME_PATTERN = r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?"
"""Lowercase letters, digits, `_` and `-`, at most 64, starting and ending alphanumeric."""
_NAME = re.compile(rf"^{NAME_PATTERN}\Z")
_RESERVED = re.compile(r"^(?:prev|step\d+)\Z")
"""Flows reference earlier steps as `@prev` and `@step1`…; a project name must not shadow them."""


class AssetName(msgspec.Struct, frozen=True):
    project_id: int
    name: str
    asset_id: str
    updated_at: dt.datetime


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidName(f"`{name}` is not a valid name: use a-z, 0-9, `_` and `-`, at most 64 characters")
    if _RESERVED.match(name):
        raise ReservedName(f"`{name}` is reserved for flow steps")
    return name


async def set_name(conn: Conn, *, project_id: int, name: str, asset_id: str) -> AssetName | None:
    """Point `name` at an asset of the same project, creating or moving the name; None when the project has no such live asset."""
    row = await conn.fetchrow(
        """INSERT INTO asset_names (project_id, name, asset_id)
           SELECT $1, $2, id FROM assets WHERE id = $3 AND project_id = $1 AND deleted_at IS NULL
           ON CONFLICT (project_id, name) DO UPDATE SET asset_id = EXCLUDED.asset_id, updated_at = now()
           RETURNING *""",
        project_id,
        check_name(name),
        asset_id,
    )
    return None if row is None else AssetName(**row)


async def delete_name(conn: Conn, *, project_id: int, name: str) -> bool:
    """False: no asset has that name."""
    return await conn.fetchval("DELETE FROM asset_names WHERE project_id = $1 AND name = $2 RETURNING name", project_id, name) is not None


async def list_names(conn: Conn, *, project_id: int) -> list[AssetName]:
    rows = await conn.fetch("SELECT * FROM asset_names WHERE project_id = $1 ORDER BY name", project_id)
    return [AssetName(**r) for r in rows]


async def named_assets(conn: Conn, *, project_id: int, names: list[str]) -> dict[str, Asset]:
    """The live asset behind each of `names` that exists; missing names are simply absent."""
    rows = await conn.fetch(
        """SELECT n.name AS alias, a.* FROM asset_names n JOIN assets a ON a.id = n.asset_id
           WHERE n.project_id = $1 AND n.name = ANY($2::text[]) AND a.deleted_at IS NULL""",
        project_id,
        names,
    )
    return {r["alias"]: Asset(**{k: v for k, v in r.items() if k != "alias"}) for r in rows}


async def get_named_asset(conn: Conn, *, project_id: int, name: str) -> Asset | None:
    return (await named_assets(conn, project_id=project_id, names=[name])).get(name)
