"""`promptpix assets upload|name`, in process, against the test database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from delivery.cli.main import main as cli
from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from tests.images import solid


@pytest.fixture
def env(settings: Settings, demo: Demo, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PROMPTPIX_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PROMPTPIX_DATA_DIR", settings.data_dir)
    return settings


def test_upload_with_a_name_then_rename(env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logo = tmp_path / "logo.jpg"
    logo.write_bytes(solid(120, 80, (200, 30, 30), "jpg"))
    assert cli(["assets", "upload", "demo", str(logo), "--name", "logo"]) == 0
    out = capsys.readouterr().out
    asset_id = out.split()[1].rstrip(":")
    assert "120x80 image/jpeg" in out and f"/i/{asset_id}" in out and "/i/demo/@logo" in out

    other = tmp_path / "other.png"
    other.write_bytes(solid(40, 40, (0, 0, 255)))
    assert cli(["assets", "upload", "demo", str(other)]) == 0
    other_id = capsys.readouterr().out.split()[1].rstrip(":")
    assert cli(["assets", "name", "demo", "logo", other_id]) == 0
    assert f"@logo -> {other_id}" in capsys.readouterr().out

    async def names() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(env.database_url)
        try:
            return [tuple(r) for r in await conn.fetch("SELECT name, asset_id FROM asset_names")]
        finally:
            await conn.close()

    assert asyncio.run(names()) == [("logo", other_id)]


def test_bad_input_is_a_clear_message_and_stores_nothing(env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    assert cli(["assets", "upload", "demo", str(text)]) == 1
    assert "not a supported image" in capsys.readouterr().err
    assert cli(["assets", "upload", "nope", str(text)]) == 1
    assert cli(["assets", "upload", "demo", str(tmp_path / "missing.png")]) == 1
    assert cli(["assets", "name", "demo", "logo", "0" * 32]) == 1
    assert "asset not found" in capsys.readouterr().err
    objects = Path(env.resolved_storage_url.removeprefix("file://"))
    assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))
