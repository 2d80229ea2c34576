"""Masters for the benchmark: generated photo-like JPEGs, stored and registered as assets."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pyvips

from delivery.assets.ids import asset_id_for_upload, master_key
from delivery.db.assets import NewAsset, insert_asset
from delivery.db.migrate import migrate
from delivery.db.projects import get_project_by_slug
from delivery.ops.bootstrap import ensure_demo
from delivery.storage.fs import FileStorage

__all__ = ["MASTERS", "make_masters", "register"]

MASTERS = {"1024x1024": (1024, 1024), "2048x1536": (2048, 1536), "4000x3000": (4000, 3000)}


def _photo(width: int, height: int) -> pyvips.Image:
    """Smooth gradients, a few hard shapes and mild sensor-like noise: camera-JPEG sized files (~2-3 bits/px)."""
    xyz = pyvips.Image.xyz(width, height)
    r, g = xyz[0] * (255 / width), xyz[1] * (255 / height)
    image = r.bandjoin([g, (r + g) / 2]) + pyvips.Image.gaussnoise(width, height, sigma=6, seed=7)
    for i in range(12):
        image = image.draw_circle([(37 * i) % 255, (91 * i) % 255, (53 * i) % 255], (i * 331) % width, (i * 197) % height, width // 12, fill=True)
    return image.cast("uchar")


def make_masters(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (width, height) in MASTERS.items():
        path = directory / f"m{name}.jpg"
        if not path.exists():
            _photo(width, height).jpegsave(str(path), Q=90)
        paths[name] = path
    return paths


async def register(database_url: str, objects: Path, masters: dict[str, Path]) -> dict[str, str]:
    """Migrate, make the demo project, store each master and insert its row (object first, then row)."""
    storage = FileStorage(objects)
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        project = await get_project_by_slug(conn, slug=(await ensure_demo(conn)).project_slug)
        ids = {}
        for name, path in masters.items():
            data = path.read_bytes()
            asset_id = asset_id_for_upload(project.id, data)
            key = master_key(project_id=project.id, asset_id=asset_id, mime="image/jpeg")
            await storage.put(key, data, content_type="image/jpeg")
            width, height = MASTERS[name]
            await insert_asset(
                conn,
                asset=NewAsset(
                    id=asset_id, project_id=project.id, source="uploaded", storage_key=key,
                    mime="image/jpeg", width=width, height=height, bytes=len(data),
                ),
            )
            ids[name] = asset_id
        return ids
    finally:
        await conn.close()
