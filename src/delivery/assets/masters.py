"""Storing a master: the object first, then its row, fenced against the sweep.

docs/design.md §7: a row never points at a missing object. The write runs inside
the caller's transaction holding a shared advisory lock on the storage key;
the sweep takes the same lock exclusively before it deletes an object, so it
can never delete an object whose row is being inserted right now, however
short its grace period. A crash between PUT and INSERT leaves an object with
no row, which the sweep removes later.
"""

from __future__ import annotations

from delivery.db.assets import Asset, NewAsset, insert_asset, restore_asset
from delivery.db.connection import Conn
from delivery.storage import Storage

__all__ = ["OBJECT_LOCK_SQL", "store_master"]

OBJECT_LOCK_SQL = "hashtextextended('promptpix-object:' || $1, 0)"
"""The advisory lock id of one storage key, shared by writers and the sweep."""


async def store_master(conn: Conn, storage: Storage, asset: NewAsset, data: bytes) -> Asset:
    """PUT then INSERT; call inside a transaction, which the fence lasts for."""
    if not conn.is_in_transaction():
        raise RuntimeError("store_master must run inside a transaction")
    await conn.execute(f"SELECT pg_advisory_xact_lock_shared({OBJECT_LOCK_SQL})", asset.storage_key)
    row = await conn.fetchrow("SELECT * FROM assets WHERE id = $1", asset.id)
    if row is not None:  # the same bytes again (an upload), or a race another writer won
        existing = Asset(**row)
        if existing.deleted_at is None:
            return existing
        restored = await restore_asset(conn, id=existing.id)  # its object was kept: the same id, back again
        assert restored is not None
        return restored
    await storage.put(asset.storage_key, data, content_type=asset.mime)
    return await insert_asset(conn, asset=asset)
