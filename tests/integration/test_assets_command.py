"""`promptpix assets upload|name`, in process, against the test database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from tests.cli import Cli
from tests.images import solid


@pytest.fixture
def env(settings: Settings, demo: Demo, cli: Cli) -> Settings:
    cli.env(PROMPTPIX_DATABASE_URL=settings.database_url or "", PROMPTPIX_DATA_DIR=settings.data_dir)
    return settings


def test_upload_with_a_name_then_rename(env: Settings, tmp_path: Path, cli: Cli) -> None:
    logo = tmp_path / "logo.jpg"
    logo.write_bytes(solid(120, 80, (200, 30, 30), "jpg"))
    uploaded = cli("assets", "upload", "demo", str(logo), "--name", "logo")
    assert uploaded.code == 0, uploaded.err
    out = uploaded.out
    asset_id = out.split()[1].rstrip(":")
    assert "120x80 image/jpeg" in out and f"/i/{asset_id}" in out and "/i/demo/@logo" in out

    other = tmp_path / "other.png"
    other.write_bytes(solid(40, 40, (0, 0, 255)))
    second = cli("assets", "upload", "demo", str(other))
    assert second.code == 0, second.err
    other_id = second.out.split()[1].rstrip(":")
    named = cli("assets", "name", "demo", "logo", other_id)
    assert named.code == 0 and f"@logo -> {other_id}" in named.out

    async def names() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(env.database_url)
        try:
            return [tuple(r) for r in await conn.fetch("SELECT name, asset_id FROM asset_names")]
        finally:
            await conn.close()

    assert asyncio.run(names()) == [("logo", other_id)]


def test_bad_input_is_a_clear_message_and_stores_nothing(env: Settings, tmp_path: Path, cli: Cli) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    not_image = cli("assets", "upload", "demo", str(text))
    assert not_image.code == 1 and "not a supported image" in not_image.err
    assert cli("assets", "upload", "nope", str(text)).code == 1
    assert cli("assets", "upload", "demo", str(tmp_path / "missing.png")).code == 1
    unknown = cli("assets", "name", "demo", "logo", "0" * 32)
    assert unknown.code == 1 and "asset not found" in unknown.err
    objects = Path(env.resolved_storage_url.removeprefix("file://"))
    assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))
