"""Uploading an image as a project asset, shared by `promptpix assets upload` and `POST /v1/assets`.

An upload passes the same checks as any master (delivery.images.transform.limits:
bytes, format, pixels, from the header alone) before anything is decoded,
gets its focal point from the same analysis generated images get, and is
stored in the same write order (delivery.assets.masters). Its id is a hash of its
bytes and project, so uploading the same file twice is one asset.
"""

from __future__ import annotations

import pyvips

from delivery.assets.ids import asset_id_for_upload, master_key
from delivery.assets.masters import store_master
from delivery.db.asset_names import check_name, set_name
from delivery.db.assets import Asset, NewAsset
from delivery.db.projects import Project
from delivery.errors import UploadUnreadable
from delivery.images.formats import by_loader
from delivery.images.transform import Source, inspect_source
from delivery.services import Services
from generation import Analysis, analyze_offline

__all__ = ["upload_asset"]


def _analyse(data: bytes) -> Analysis:
    """Focal point and colours; a header that parses over a body that does not is a 422."""
    try:
        return analyze_offline(data, "")
    except pyvips.Error as exc:
        raise UploadUnreadable(detail=str(exc)) from exc


async def upload_asset(services: Services, project: Project, data: bytes, *, name: str | None = None) -> Asset:
    """Validate, analyse and store an image; with `name`, point `@name` at it."""
    if name is not None:
        check_name(name)
    source: Source = await services.run_in_thread(inspect_source, data, services.limits)
    analysis: Analysis = await services.run_in_thread(_analyse, data)
    asset_id = asset_id_for_upload(project.id, data)
    mime = by_loader(source.loader, data).mime
    new = NewAsset(
        id=asset_id,
        project_id=project.id,
        source="uploaded",
        storage_key=master_key(project_id=project.id, asset_id=asset_id, mime=mime),
        mime=mime,
        width=source.width,
        height=source.height,
        bytes=len(data),
        focal_x=analysis.focal_point.x,
        focal_y=analysis.focal_point.y,
        colors=list(analysis.colors),
    )
    async with services.pool.acquire() as conn, conn.transaction():
        asset = await store_master(conn, services.storage, new, data)
        if name is not None:
            await set_name(conn, project_id=project.id, name=name, asset_id=asset.id)
    return asset
