"""`promptpix orgs|projects|keys|credits`: an operator bootstraps a tenant from the shell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from litestar.testing import AsyncTestClient

from delivery.settings import Settings
from tests.fakes import CountingProvider
from tests.images import decode

SRC = str(Path(__file__).resolve().parents[2] / "src")


def promptpix(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "PROMPTPIX_DATABASE_URL": settings.database_url or "",
        "PROMPTPIX_DATA_DIR": settings.data_dir,
        "PROMPTPIX_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "delivery.cli.main", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_an_operator_bootstraps_a_paying_tenant(client: AsyncTestClient, settings: Settings, provider: CountingProvider) -> None:
    made = ok(promptpix(settings, "orgs", "create", "Acme Ltd", "--plan", "prepaid", "--warning", "2"))
    org = re.search(r"created organisation (\d+) 'Acme Ltd': plan prepaid", made)
    assert org, made
    project = ok(promptpix(settings, "projects", "create", "acme", "--org", org[1], "--origin", "https://shop.example"))
    assert "created project 'acme'" in project and "signed links only" in project
    key_out = ok(promptpix(settings, "keys", "create", "--project", "acme", "--kind", "publishable", "--name", "site"))
    key_id = re.search(r"created publishable key (pk_\w+)", key_out)[1]  # type: ignore[index]
    assert f"pp_{key_id}_" in key_out.splitlines()[-1]
    granted = ok(promptpix(settings, "credits", "grant", org[1], "3", "--note", "welcome"))
    assert "granted 3 credits" in granted and "balance is now 3" in granted
    adjusted = ok(promptpix(settings, "credits", "adjust", org[1], "-1", "--note", "goodwill reversal"))
    assert "balance is now 2" in adjusted

    url = ok(promptpix(settings, "keys", "sign", key_id, "prompt=a red fox", "w=120", "fm=png")).strip()
    assert url.startswith("http://127.0.0.1:8080/g/acme?") and "&sig=" in url
    response = await client.get(url.removeprefix("http://127.0.0.1:8080"))
    assert response.status_code == 200, response.headers.get("x-error")
    image, fmt = decode(response.content)
    assert (image.width, fmt) == (120, "png")

    listing = ok(promptpix(settings, "keys", "list", "--project", "acme"))
    assert key_id in listing and "live" in listing and "pp_" not in listing
    assert "revoked publishable key" in ok(promptpix(settings, "keys", "revoke", key_id))
    assert "revoked" in ok(promptpix(settings, "keys", "list", "--project", "acme"))
    assert (await client.get(url.removeprefix("http://127.0.0.1:8080"))).status_code == 403


async def test_refused_operations_say_why_without_a_traceback(client: AsyncTestClient, settings: Settings) -> None:
    missing = promptpix(settings, "projects", "create", "acme", "--org", "999")
    assert missing.returncode == 1 and "organization not found" in missing.stderr and "Traceback" not in missing.stderr
    bad_slug = promptpix(settings, "orgs", "create", "X")
    org = re.search(r"organisation (\d+)", bad_slug.stdout)[1]  # type: ignore[index]
    refused = promptpix(settings, "projects", "create", "Not A Slug", "--org", org)
    assert refused.returncode == 1 and "refused by the database" in refused.stderr
    negative = promptpix(settings, "credits", "grant", org, "-5")
    assert negative.returncode == 2
