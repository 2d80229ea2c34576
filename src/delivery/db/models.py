"""Queries for the model catalogue (`models`) and a project's default model and allow-list."""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

import msgspec

from delivery.db.connection import Conn, fetch_one

__all__ = ["PROVIDERS", "CatalogueModel", "ProviderName", "get_model", "list_models", "put_model", "set_model_enabled", "set_project_models"]

ProviderName = Literal["gemini", "replicate", "offline"]
PROVIDERS: tuple[str, ...] = get_args(ProviderName)
"""The `models.provider` check, as a tuple for messages and choices."""


class CatalogueModel(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """What `model=` says."""
    provider: ProviderName
    version: str
    """Pinned: what the provider is asked for, and what the generation key holds."""
    family: str = ""
    text_to_image: bool = True
    edit: bool = False
    max_references: int = 0
    price: int
    """Credits reserved for one generation."""
    fallback_rank: int = 0
    enabled: bool = True
    created_at: dt.datetime | None = None


async def put_model(conn: Conn, model: CatalogueModel) -> CatalogueModel:
    row = await fetch_one(
        conn,
        """INSERT INTO models (name, provider, version, family, text_to_image, edit, max_references, price, fallback_rank, enabled)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (name) DO UPDATE SET provider = $2, version = $3, family = $4, text_to_image = $5, edit = $6,
               max_references = $7, price = $8, fallback_rank = $9, enabled = $10
           RETURNING *""",
        model.name,
        model.provider,
        model.version,
        model.family,
        model.text_to_image,
        model.edit,
        model.max_references,
        model.price,
        model.fallback_rank,
        model.enabled,
    )
    return CatalogueModel(**row)


async def get_model(conn: Conn, *, name: str, for_update: bool = False) -> CatalogueModel | None:
    """`for_update`: lock the row until the transaction ends (read-modify-write)."""
    row = await conn.fetchrow("SELECT * FROM models WHERE name = $1" + (" FOR UPDATE" if for_update else ""), name)
    return None if row is None else CatalogueModel(**row)


async def list_models(conn: Conn, *, family: str | None = None) -> list[CatalogueModel]:
    """By family, then fallback rank, then name: a family's failover order."""
    rows = await conn.fetch(
        "SELECT * FROM models WHERE $1::text IS NULL OR family = $1 ORDER BY family, fallback_rank, name", family
    )
    return [CatalogueModel(**row) for row in rows]


async def set_model_enabled(conn: Conn, *, name: str, enabled: bool) -> CatalogueModel | None:
    row = await conn.fetchrow("UPDATE models SET enabled = $2 WHERE name = $1 RETURNING *", name, enabled)
    return None if row is None else CatalogueModel(**row)


async def set_project_models(conn: Conn, *, project_id: int, default: str | None, allowed: list[str]) -> bool:
    """False when the project does not exist; a default outside a non-empty allow-list is the caller's to refuse."""
    status = await conn.execute(
        "UPDATE projects SET default_model = $2, allowed_models = $3 WHERE id = $1", project_id, default, allowed
    )
    return status != "UPDATE 0"
