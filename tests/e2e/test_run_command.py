"""The run command from outside: a real process, real embedded PostgreSQL, a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvips

from harness.processes import Serve, find_program, free_port, start_serve
from tests.conftest import require
from tests.images import decode


def serve(data_dir: Path, port: int) -> Serve:
    return start_serve(data_dir=data_dir, database_url=None, port=port)


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def screenshot(url: str, path: Path, profile: Path) -> pyvips.Image:
    chromium = find_program("chromium", "/usr/bin/chromium")
    require(chromium is not None, "chromium (Debian package)")
    subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", "--window-size=1200,800",
            f"--screenshot={path}", url,
        ],
        check=True, timeout=120, capture_output=True,
    )
    return pyvips.Image.new_from_file(str(path))


def shown_box(shot: pyvips.Image) -> tuple[int, int]:
    """Width and height of what differs from the viewer's background colour (top-left pixel)."""
    background = shot.getpoint(0, 0)[:3]
    differs = (shot[0:3] - background).abs().bandor() > 24
    columns, rows = differs.project()
    xs = [x for x in range(columns.width) if columns.getpoint(x, 0)[0] > 0]
    ys = [y for y in range(rows.height) if rows.getpoint(0, y)[0] > 0]
    return xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Outside pytest's basetemp, like the suite's own PostgreSQL (see `postgres_url` in conftest.py):
    the embedded server `serve` starts keeps its data here, and run as root it runs as another user."""
    parent = Path(tempfile.mkdtemp(prefix="promptpix-run-"))
    yield parent / "data"
    shutil.rmtree(parent, ignore_errors=True)


def test_run_prints_urls_a_browser_shows_and_restarts_keep(data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    served = serve(data_dir, port)
    try:
        url = served.generate_url
        assert url.startswith(f"http://127.0.0.1:{port}/g/demo?") and "w=800" in url and "ar=16%3A9" in url
        assert any(line.endswith("/schema") for line in served.lines)
        steps = [line for line in served.lines if line.startswith("==> ")]
        assert [s.split(" ")[1] for s in steps] == ["starting", "migrating", "setting", "listening", "ready"], steps
        assert re.fullmatch(r"==> ready in \d+\.\d s", steps[-1])

        shot = screenshot(url, tmp_path / "generated.png", tmp_path / "profile")
        assert shown_box(shot) == (800, 450)

        status, headers, body = fetch(url)
        assert status == 200 and headers["x-cache-status"] == "HIT"  # the browser's request generated it
        image, fmt = decode(body)
        assert (image.width, image.height, fmt) == (800, 450, "webp")
        status, _, docs = fetch(served.lines[-1])
        assert status == 200 and b"<html" in docs.lower()
    finally:
        served.stop()
    assert served.process.returncode == 0

    restarted = serve(data_dir, port)
    try:
        assert restarted.generate_url == url  # same demo key: nothing was re-created
        assert not any("pp_pk_" in line for line in served.lines + restarted.lines)  # the key id only, never a full key
        status, headers, body = fetch(url)
        assert status == 200 and headers["x-cache-status"] == "MISS"  # stored master, no generation
        again, _ = decode(body)
        assert (again - image).abs().avg() < 1
    finally:
        restarted.stop()
