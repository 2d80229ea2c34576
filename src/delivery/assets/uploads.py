"""Uploading an image as a project asset, shared by `promptpix assets upload` and `POST /v1/assets`.

An upload passes the same checks as any master (delivery.images.transform.limits:
bytes, format, pixels, from the header alone) before anything is decoded, then
is decoded to its last scanline (`decode_fully`: corrupt is 422, a codec we
cannot decode 415), so a stored upload can always be served; it
gets its alt text, tags and focal point from the same analysis generated images
get (the generator's vision model, or libvips attention offline), and is
stored in the same write order (delivery.assets.masters). Its id is a hash of its
bytes and project, so uploading the same file twice is one asset.
"""

from __future__ import annotations

import pyvips

from delivery.assets.ids import asset_id_for_upload, master_key
from delivery.assets.masters import store_master
from delivery.db.asset_names import check_name, set_name
from delivery.db.assets import Asset, NewAsset, asset_exists, update_asset
from delivery.db.projects import Project
from delivery.errors import MasterMissing, UploadUnreadable
from delivery.images.formats import by_loader
from delivery.images.transform import Source, decode_fully, inspect_source
from delivery.services import Services
from delivery.storage import ObjectNotFound
from generation import Analysis, analyze_offline, describe

__all__ = ["analyse_image", "reanalyse_asset", "upload_asset"]


def _analyse_offline(data: bytes) -> Analysis:
    """Focal point and colours; a header that parses over a body that does not is a 422."""
    try:
        return analyze_offline(data, "")
    except pyvips.Error as exc:
        raise UploadUnreadable(detail=str(exc)) from exc


async def analyse_image(services: Services, data: bytes, mime: str) -> Analysis:
    """The provider's vision model when configured (`PROMPTPIX_UPLOAD_ANALYSIS`), else (or when it fails) libvips."""
    if services.settings.upload_analysis == "offline" or services.provider.offline:
        analysis: Analysis = await services.run_in_thread(_analyse_offline, data)
        return analysis
    try:
        analysis, _ = await describe(services.provider, data, mime, services.pipeline)
    except pyvips.Error as exc:  # the offline fallback decodes the whole image
        raise UploadUnreadable(detail=str(exc)) from exc
    return analysis


async def reanalyse_asset(services: Services, asset: Asset) -> Asset | None:
    """Run the analysis again on a stored asset and store its alt text, tags and focal point; None if it went meanwhile."""
    try:
        data = await services.storage.get(asset.storage_key)
    except ObjectNotFound:
        raise MasterMissing(detail=asset.storage_key) from None
    analysis = await analyse_image(services, data, asset.mime)
    async with services.pool.acquire() as conn:
        analysed = await update_asset(
            conn,
            project_id=asset.project_id,
            id=asset.id,
            focal=(analysis.focal_point.x, analysis.focal_point.y),
            alt_text=analysis.alt_text,
            tags=list(analysis.tags),
        )
    services.embeddings.submit(asset.id, asset.project_id)  # the new description, in the background
    return analysed


async def upload_asset(services: Services, project: Project, data: bytes, *, name: str | None = None) -> Asset:
    """Validate, analyse and store an image; with `name`, point `@name` at it."""
    if name is not None:
        check_name(name)
    source: Source = await services.run_in_thread(inspect_source, data, services.limits)
    await services.run_in_thread(decode_fully, data, services.limits)  # servable to the last scanline before the 201
    mime = by_loader(source.loader, data).mime
    asset_id = asset_id_for_upload(project.id, data)
    async with services.pool.acquire() as conn:
        known = await asset_exists(conn, id=asset_id)
    # The same bytes again are the same asset (restored if deleted, by store_master): no second (paid) analysis.
    analysis = Analysis() if known else await analyse_image(services, data, mime)
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
        alt_text=analysis.alt_text,
        tags=list(analysis.tags),
        colors=list(analysis.colors),
    )
    async with services.pool.acquire() as conn, conn.transaction():
        asset = await store_master(conn, services.storage, new, data)
        if name is not None:
            await set_name(conn, project_id=project.id, name=name, asset_id=asset.id)
    services.embeddings.submit(asset.id, asset.project_id)  # in the background; skipped if its text is embedded already
    return asset
