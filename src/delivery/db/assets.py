"""Queries for assets: the stored masters every image URL is served from."""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

import msgspec

from delivery.db.connection import Conn, fetch_one
from delivery.settings import SearchLanguage

__all__ = [
    "RRF_K",
    "SEARCH_LANGUAGES",
    "Asset",
    "AssetFilter",
    "AssetSource",
    "NewAsset",
    "Semantic",
    "asset_exists",
    "delete_asset",
    "ensure_search_index",
    "exact_vector_order",
    "find_generated_asset",
    "find_generated_assets",
    "get_asset",
    "get_live_assets",
    "get_project_asset",
    "insert_asset",
    "list_assets",
    "names_of",
    "restore_asset",
    "restore_project_asset",
    "search_assets",
    "search_document",
    "search_sql",
    "update_asset",
]


AssetSource = Literal["generated", "uploaded"]
"""The `assets.source` column's CHECK constraint admits exactly these."""


class NewAsset(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: int
    source: AssetSource
    storage_key: str
    mime: str
    width: int
    height: int
    bytes: int
    focal_x: float = 0.5
    focal_y: float = 0.5
    alt_text: str = ""
    tags: list[str] = []
    colors: list[str] = []
    prompt: str | None = None
    enhanced_prompt: str | None = None
    style: str | None = None
    provider: str | None = None
    model: str | None = None
    offline: bool = False
    generation_key: str | None = None
    parent_id: str | None = None
    """A derived master's root or upload (migration 012); None for every other asset."""
    derivation: Literal["extend"] | None = None
    """How a derived master was made from its parent: `extend`, outpainted to another aspect class."""


class Asset(NewAsset, frozen=True, kw_only=True):
    created_at: dt.datetime
    deleted_at: dt.datetime | None = None
    version: int = 1
    """Bumped (by a trigger, migration 011) whenever what the asset's URLs show changes: it enters variant keys and ETags."""


_COLUMNS = tuple(f.name for f in msgspec.structs.fields(NewAsset))
_INSERT = (
    f"INSERT INTO assets ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_COLUMNS) + 1))}) "
    "ON CONFLICT DO NOTHING RETURNING *"
)


async def insert_asset(conn: Conn, *, asset: NewAsset) -> Asset:
    """Insert, or return the row that won a race for the same id or generation key."""
    row = await conn.fetchrow(_INSERT, *(getattr(asset, c) for c in _COLUMNS))
    if row is None:
        row = await fetch_one(
            conn,
            """SELECT * FROM assets WHERE id = $1
               OR (project_id = $2 AND generation_key = $3)""",
            asset.id,
            asset.project_id,
            asset.generation_key,
        )
    return Asset(**row)


async def get_asset(conn: Conn, *, id: str) -> Asset | None:
    row = await conn.fetchrow("SELECT * FROM assets WHERE id = $1 AND deleted_at IS NULL", id)
    return None if row is None else Asset(**row)


async def asset_exists(conn: Conn, *, id: str) -> bool:
    """A row with this id, live or soft-deleted."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM assets WHERE id = $1)", id))


async def find_generated_asset(conn: Conn, *, project_id: int, generation_key: str) -> Asset | None:
    row = await conn.fetchrow(
        "SELECT * FROM assets WHERE project_id = $1 AND generation_key = $2 AND deleted_at IS NULL",
        project_id,
        generation_key,
    )
    return None if row is None else Asset(**row)


async def find_generated_assets(conn: Conn, *, project_id: int, generation_keys: list[str]) -> Asset | None:
    """The live asset under the first of `generation_keys` that has one, in one round trip."""
    row = await conn.fetchrow(
        """SELECT * FROM assets WHERE project_id = $1 AND generation_key = ANY($2::text[]) AND deleted_at IS NULL
           ORDER BY array_position($2::text[], generation_key) LIMIT 1""",
        project_id,
        generation_keys,
    )
    return None if row is None else Asset(**row)


async def get_project_asset(conn: Conn, *, project_id: int, id: str) -> Asset | None:
    """A live asset of this project; another project's asset is as unknown as a missing one."""
    row = await conn.fetchrow("SELECT * FROM assets WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL", id, project_id)
    return None if row is None else Asset(**row)


async def get_live_assets(conn: Conn, *, project_id: int, ids: list[str]) -> dict[str, Asset]:
    rows = await conn.fetch(
        "SELECT * FROM assets WHERE id = ANY($1::text[]) AND project_id = $2 AND deleted_at IS NULL", ids, project_id
    )
    return {r["id"]: Asset(**r) for r in rows}


class AssetFilter(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None = None
    tag: str | None = None
    source: AssetSource | None = None
    flow_id: int | None = None
    parent_id: str | None = None
    """Only the derived masters of this root or upload."""


def _filters(*, parent: int) -> str:
    """The `AssetFilter` conditions on `a`: the project is $1, name $4, tag $5, source $6, flow $7; the parent's
    position differs between listing and search."""
    return f"""AND ($4::text IS NULL OR EXISTS
                    (SELECT 1 FROM asset_names n WHERE n.project_id = $1 AND n.name = $4 AND n.asset_id = a.id))
               AND ($5::text IS NULL OR a.tags @> ARRAY[$5::text])
               AND ($6::text IS NULL OR a.source = $6)
               AND ($7::bigint IS NULL OR EXISTS (SELECT 1 FROM flow_steps s WHERE s.flow_id = $7 AND s.asset_id = a.id))
               AND (${parent}::text IS NULL OR a.parent_id = ${parent})"""


async def list_assets(
    conn: Conn,
    *,
    project_id: int,
    where: AssetFilter,
    limit: int,
    after: tuple[dt.datetime, str] | None = None,
) -> list[Asset]:
    """Live assets, newest first, from just after the keyset `after` = (created_at, id) of the last one seen."""
    rows = await conn.fetch(
        f"""SELECT a.* FROM assets a
           WHERE a.project_id = $1 AND a.deleted_at IS NULL
             AND ($2::timestamptz IS NULL OR (a.created_at, a.id) < ($2, $3::text))
             {_filters(parent=9)}
           ORDER BY a.created_at DESC, a.id DESC
           LIMIT $8""",
        project_id,
        after[0] if after else None,
        after[1] if after else None,
        where.name,
        where.tag,
        where.source,
        where.flow_id,
        limit,
        where.parent_id,
    )
    return [Asset(**r) for r in rows]


SEARCH_LANGUAGES = frozenset(get_args(SearchLanguage))


def search_document(language: str, alias: str = "a.") -> str:
    """The indexed expression, with the configuration as a literal so the planner matches it to the index."""
    if language not in SEARCH_LANGUAGES:  # it is spliced into SQL: only known names
        raise ValueError(f"unknown search language {language!r}")
    return f"promptpix_search_vector('{language}', {alias}prompt, {alias}enhanced_prompt, {alias}alt_text, {alias}tags)"


async def ensure_search_index(conn: Conn, *, language: str) -> None:
    """The GIN index for `language` (migration 011 made English's); processes starting together make it once."""
    if language == "english":
        return
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('promptpix-search-index'))")
        await conn.execute(
            f"CREATE INDEX IF NOT EXISTS assets_search_{language} ON assets USING gin ({search_document(language, '')}) WHERE deleted_at IS NULL"
        )


class Semantic(msgspec.Struct, frozen=True, kw_only=True):
    """The query's embedding, for the nearest-neighbour half of a hybrid search."""

    vector: str
    """pgvector's text form (`delivery.db.embeddings.vector_literal`)."""
    model: str
    candidates: int
    min_similarity: float


RRF_K = 60
"""Reciprocal rank fusion's constant: an asset scores the sum of 1 / (RRF_K + its place) over the two rankings
(the value of Cormack, Clarke and Büttcher's paper, which damps the weight of the very first places)."""


async def exact_vector_order(conn: Conn, wanted: int) -> None:
    """Inside a transaction: HNSW scans return at most `hnsw.ef_search` rows, fewer after filters, so explore as
    far as the LIMIT needs, and keep scanning (in exact distance order) past rows the filters drop (pgvector ≥ 0.8)."""
    await conn.execute(f"SET LOCAL hnsw.ef_search = {max(40, min(int(wanted), 1000))}")
    await conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")




def search_sql(language: str, *, semantic: bool) -> str:
    """The search query; with `semantic`, the full-text ranking fused with the nearest neighbours of $12 (a vector of
    model $13: the $14 nearest, those at least $15 similar) by reciprocal rank fusion. Its rank column is the text
    rank alone, or the fused score."""
    text = f"""WITH q AS (SELECT websearch_to_tsquery('{language}', $9) AS text, websearch_to_tsquery('simple', $9) AS name),
           text_found AS (
             SELECT a.*, (ts_rank_cd({search_document(language)}, q.text, 1)
                          + CASE WHEN named.hit THEN 1 ELSE 0 END)::float8 AS rank
             FROM assets a CROSS JOIN q
             CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM asset_names n WHERE n.project_id = $1 AND n.asset_id = a.id
                                                AND to_tsvector('simple', replace(n.name, '-', ' ')) @@ q.name) AS hit) named
             WHERE a.project_id = $1 AND a.deleted_at IS NULL
               AND ({search_document(language)} @@ q.text OR named.hit)
               {_filters(parent=11)}
           )"""
    if not semantic:
        found = "text_found"
    else:
        text += f""",
           near AS MATERIALIZED (
             SELECT e.asset_id AS id, e.embedding <=> $12::vector AS distance
             FROM asset_embeddings e JOIN assets a ON a.id = e.asset_id
             WHERE e.project_id = $1 AND e.model = $13 AND a.deleted_at IS NULL
               {_filters(parent=11)}
             ORDER BY e.embedding <=> $12::vector LIMIT $14
           ),
           places AS (
             SELECT id, row_number() OVER (ORDER BY rank DESC, created_at DESC, id DESC) AS place FROM text_found
             UNION ALL
             SELECT id, row_number() OVER (ORDER BY distance, id) FROM near WHERE 1 - distance >= $15
           ),
           fused AS (
             SELECT a.*, sum(1.0 / ({RRF_K} + p.place))::float8 AS rank
             FROM places p JOIN assets a ON a.id = p.id GROUP BY a.id
           )"""
        found = "fused"
    return f"""{text}
           SELECT * FROM {found}
           WHERE $2::float8 IS NULL OR (rank, created_at, id) < ($2, $3::timestamptz, $10::text)
           ORDER BY rank DESC, created_at DESC, id DESC
           LIMIT $8"""


async def search_assets(
    conn: Conn,
    *,
    project_id: int,
    where: AssetFilter,
    query: str,
    language: str,
    limit: int,
    after: tuple[float, dt.datetime, str] | None = None,
    semantic: Semantic | None = None,
) -> list[tuple[Asset, float]]:
    """Live assets matching `query` (web search syntax: words, "phrases", `or`, `-word`) in their alt text and tags,
    prompt or enhanced prompt (weighted in that order, stemmed in `language`), or `@names`; best first, with their rank.
    With `semantic`, also those whose embedding is near the query's, the two rankings fused (`search_sql`).

    `after` is the (rank, created_at, id) of the last one seen.
    """
    args: list[object] = [
        project_id,
        after[0] if after else None,
        after[1] if after else None,
        where.name,
        where.tag,
        where.source,
        where.flow_id,
        limit,
        query,
        after[2] if after else None,
        where.parent_id,
    ]
    if semantic is None:
        rows = await conn.fetch(search_sql(language, semantic=False), *args)
    else:
        async with conn.transaction():
            await exact_vector_order(conn, semantic.candidates)
            args += [semantic.vector, semantic.model, semantic.candidates, semantic.min_similarity]
            rows = await conn.fetch(search_sql(language, semantic=True), *args)
    return [(Asset(**{k: v for k, v in r.items() if k != "rank"}), r["rank"]) for r in rows]


async def names_of(conn: Conn, *, asset_ids: list[str]) -> dict[str, list[str]]:
    """The `@names` pointing at each asset (absent: none)."""
    rows = await conn.fetch("SELECT asset_id, name FROM asset_names WHERE asset_id = ANY($1::text[]) ORDER BY name", asset_ids)
    names: dict[str, list[str]] = {}
    for r in rows:
        names.setdefault(r["asset_id"], []).append(r["name"])
    return names


async def update_asset(
    conn: Conn,
    *,
    project_id: int,
    id: str,
    focal: tuple[float, float] | None = None,
    alt_text: str | None = None,
    tags: list[str] | None = None,
) -> Asset | None:
    """Set what is given (None leaves a field as it is); None when the project has no such live asset."""
    row = await conn.fetchrow(
        """UPDATE assets SET focal_x = coalesce($3, focal_x), focal_y = coalesce($4, focal_y), alt_text = coalesce($5, alt_text),
                             tags = coalesce($6::text[], tags)
           WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL RETURNING *""",
        id,
        project_id,
        focal[0] if focal else None,
        focal[1] if focal else None,
        alt_text,
        tags,
    )
    return None if row is None else Asset(**row)


async def delete_asset(conn: Conn, *, project_id: int, id: str) -> bool:
    """Soft delete: the row (and so the object) stays, so the asset can come back under its id. False: no such live asset."""
    done = await conn.fetchval(
        "UPDATE assets SET deleted_at = now() WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL RETURNING id", id, project_id
    )
    return done is not None


async def restore_project_asset(conn: Conn, *, project_id: int, id: str) -> Asset | None:
    """Bring back one of the project's assets if it was deleted (a live one stays as it is); None: the project has no such asset."""
    row = await conn.fetchrow("UPDATE assets SET deleted_at = NULL WHERE id = $1 AND project_id = $2 RETURNING *", id, project_id)
    return None if row is None else Asset(**row)


async def restore_asset(conn: Conn, *, id: str) -> Asset | None:
    """Bring a soft-deleted asset back (its object was kept); None if there is no deleted row with this id."""
    row = await conn.fetchrow("UPDATE assets SET deleted_at = NULL WHERE id = $1 AND deleted_at IS NOT NULL RETURNING *", id)
    return None if row is None else Asset(**row)
