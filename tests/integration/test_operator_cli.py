"""`promptpix orgs|projects|keys|credits`: an operator bootstraps a tenant from the shell.

The commands run in process (`cli`); the last test runs the installed executable once.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess

from litestar.testing import AsyncTestClient

from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from harness.processes import PROMPTPIX
from tests.cli import Cli, Ran
from tests.fakes import CountingProvider
from tests.images import decode


async def promptpix(cli: Cli, settings: Settings, *args: str) -> Ran:
    """In a thread: the commands run their own event loop, and this test's is running."""
    cli.env(PROMPTPIX_DATABASE_URL=settings.database_url or "", PROMPTPIX_DATA_DIR=settings.data_dir)
    return await asyncio.to_thread(cli, *args)


async def ok(cli: Cli, settings: Settings, *args: str) -> str:
    ran = await promptpix(cli, settings, *args)
    assert ran.code == 0, ran.err
    return ran.out


async def test_an_operator_bootstraps_a_paying_tenant(
    client: AsyncTestClient, settings: Settings, provider: CountingProvider, cli: Cli
) -> None:
    made = await ok(cli, settings, "orgs", "create", "Acme Ltd", "--plan", "prepaid", "--warning", "2")
    org = re.search(r"created organisation (\d+) 'Acme Ltd': plan prepaid", made)
    assert org, made
    project = await ok(cli, settings, "projects", "create", "acme", "--org", org[1], "--origin", "https://shop.example")
    assert "created project 'acme'" in project and "signed links only" in project
    key_out = await ok(cli, settings, "keys", "create", "--project", "acme", "--kind", "publishable", "--name", "site")
    key_id = re.search(r"created publishable key (pk_\w+)", key_out)[1]  # type: ignore[index]  # None fails the test, as it should
    assert f"pp_{key_id}_" in key_out.splitlines()[-1]
    granted = await ok(cli, settings, "credits", "grant", org[1], "3", "--note", "welcome")
    assert "granted 3 credits" in granted and "balance is now 3" in granted
    adjusted = await ok(cli, settings, "credits", "adjust", org[1], "-1", "--note", "goodwill reversal")
    assert "balance is now 2" in adjusted

    url = (await ok(cli, settings, "keys", "sign", key_id, "prompt=a red fox", "w=120", "fm=png")).strip()
    assert url.startswith("http://127.0.0.1:8080/g/acme?") and "&sig=" in url
    response = await client.get(url.removeprefix("http://127.0.0.1:8080"))
    assert response.status_code == 200, response.headers.get("x-error")
    image, fmt = decode(response.content)
    assert (image.width, fmt) == (120, "png")

    listing = await ok(cli, settings, "keys", "list", "--project", "acme")
    assert key_id in listing and "live" in listing and "pp_" not in listing
    assert "revoked publishable key" in await ok(cli, settings, "keys", "revoke", key_id)
    assert "revoked" in await ok(cli, settings, "keys", "list", "--project", "acme")
    assert (await client.get(url.removeprefix("http://127.0.0.1:8080"))).status_code == 403


async def test_refused_operations_say_why_without_a_traceback(client: AsyncTestClient, settings: Settings, cli: Cli) -> None:
    missing = await promptpix(cli, settings, "projects", "create", "acme", "--org", "999")
    assert missing.code == 1 and "organization not found" in missing.err and "Traceback" not in missing.err
    bad_slug = await promptpix(cli, settings, "orgs", "create", "X")
    org = re.search(r"organisation (\d+)", bad_slug.out)[1]  # type: ignore[index]  # None fails the test, as it should
    refused = await promptpix(cli, settings, "projects", "create", "Not A Slug", "--org", org)
    assert refused.code == 1 and "`slug` must be 1–63 lowercase letters" in refused.err and "Traceback" not in refused.err
    negative = await promptpix(cli, settings, "credits", "grant", org, "-5")
    assert negative.code == 2


def test_the_installed_executable_runs_a_command(settings: Settings, demo: Demo) -> None:
    """The one subprocess: the `promptpix` script pip installed reaches `main` and its exit code comes back."""
    env = {
        **os.environ,
        "PROMPTPIX_DATABASE_URL": settings.database_url or "",
        "PROMPTPIX_DATA_DIR": settings.data_dir,
        "PROMPTPIX_LOG_LEVEL": "WARNING",
    }
    listed = subprocess.run([PROMPTPIX, "keys", "list", "--project", demo.project_slug], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert demo.key_id in listed.stdout
    refused = subprocess.run([PROMPTPIX, "keys", "list", "--project", "nope"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
