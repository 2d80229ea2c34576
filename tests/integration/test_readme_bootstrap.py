"""README's bootstrap block, run by bash with the installed `promptpix`, against a database that already has an organisation."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import asyncpg

from harness.processes import PROMPTPIX, REPO
from tests.conftest import require


def bootstrap_block() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("bootstrapping a deployment") :]
    found = re.search(r"^```sh\n(.*?)^```$", section, re.S | re.M)
    assert found
    return found[1]


async def test_the_readme_bootstrap_creates_and_uses_its_own_organisation(database_url: str, tmp_path: Path) -> None:
    bash = shutil.which("bash")
    require(bash is not None, "bash")
    assert bash is not None
    block = bootstrap_block()
    assert "--org 1" not in block and "grant 1 " not in block  # never the demo organisation's id
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO organizations (name) VALUES ('someone else')")  # so the new one is not id 1
        env = {
            **os.environ,
            "PATH": f"{Path(PROMPTPIX).parent}:{os.environ['PATH']}",
            "PROMPTPIX_DATABASE_URL": database_url,
            "PROMPTPIX_DATA_DIR": str(tmp_path / "data"),
            "PROMPTPIX_LOG_LEVEL": "WARNING",
        }
        done = subprocess.run([bash, "-e", "-c", block], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        org = await conn.fetchrow("SELECT id FROM organizations WHERE name = 'Acme'")
        assert org is not None and org["id"] != 1
        project = await conn.fetchrow("SELECT organization_id FROM projects WHERE slug = 'acme-site'")
        assert project is not None and project["organization_id"] == org["id"]
        assert await conn.fetchval("SELECT balance FROM billing_accounts WHERE organization_id = $1", org["id"]) == 500
        assert "acme-site" in done.stdout and "balance 500" in done.stdout  # `orgs show`
        assert (tmp_path / "lighthouse.webp").stat().st_size > 0
    finally:
        await conn.close()
