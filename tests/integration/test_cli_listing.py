"""The operator CLI: list and show what exists; every refusal is one line, exit 1, with no SQL and no traceback."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.cli import Cli, Ran
from tests.images import solid
from tests.tenancy import make_tenant

SQL_WORDS = re.compile(r"constraint|violates|unique|_key\b|_pkey|_fkey|relation|INSERT|UPDATE|SELECT|Traceback|asyncpg", re.I)


@pytest.fixture
def shell(cli: Cli, database_url: str, tmp_path: Path) -> Cli:
    cli.env(clean=True, PROMPTPIX_DATABASE_URL=database_url, PROMPTPIX_DATA_DIR=str(tmp_path / "data"))
    return cli


def ok(done: Ran) -> str:
    assert done.code == 0, done
    return done.out


def refused(done: Ran, *words: str) -> str:
    """A refusal: exit 1, one line on stderr naming the problem, no SQL, constraint names or traceback."""
    assert done.code == 1, done
    lines = done.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("promptpix: "), done.err
    assert not SQL_WORDS.search(done.err), done.err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_bootstrap_then_list_and_show_everything(shell: Cli) -> None:
    created = ok(shell("orgs", "create", "Acme", "--plan", "prepaid"))
    org = re.search(r"created organisation (\d+)", created)
    assert org
    ok(shell("projects", "create", "acme-site", "--org", org[1], "--name", "Acme site"))
    key = ok(shell("keys", "create", "--project", "acme-site", "--kind", "publishable", "--name", "web"))
    key_id = re.search(r"key (pk_\w+)", key)
    assert key_id
    ok(shell("credits", "grant", org[1], "500", "--note", "launch"))

    assert re.search(rf"^{org[1]}\tAcme\tplan prepaid, balance 500, 500 remaining$", ok(shell("orgs", "list")), re.M)
    shown = ok(shell("orgs", "show", org[1]))
    assert "organisation" in shown and "acme-site" in shown and "balance 500" in shown
    assert re.search(rf"^acme-site\t\d+\torg {org[1]}\tAcme site\tsigned links only$", ok(shell("projects", "list", "--org", org[1])), re.M)
    assert "acme-site" in ok(shell("projects", "list"))
    project = ok(shell("projects", "show", "acme-site"))
    assert "signed links only" in project and "1 live of 1" in project
    shown_key = ok(shell("keys", "show", key_id[1]))
    assert f"publishable key {key_id[1]} 'web' of project 'acme-site': live" in shown_key and "generate" in shown_key
    assert ok(shell("credits", "balance", org[1])).strip() == f"organisation {org[1]}: plan prepaid, balance 500, 500 remaining"
    assert ok(shell("assets", "list", "acme-site")) == ""


def test_assets_list_and_show(shell: Cli, database_url: str, tmp_path: Path) -> None:
    asyncio.run(make_tenant(database_url, slug="shop"))
    image = tmp_path / "logo.png"
    image.write_bytes(solid(64, 48, (255, 0, 255)))
    uploaded = ok(shell("assets", "upload", "shop", str(image), "--name", "logo"))
    asset_id = re.search(r"asset ([0-9a-f]{32})", uploaded)
    assert asset_id
    listing = ok(shell("assets", "list", "shop"))
    assert listing.startswith(f"{asset_id[1]}\tuploaded\t") and "@logo" in listing
    shown = ok(shell("assets", "show", asset_id[1]))
    assert "of project 'shop'" in shown and "names: @logo" in shown and f"/i/{asset_id[1]}" in shown
    refused(shell("assets", "show", "0" * 32), "no asset")


def test_refusals_are_one_line_with_no_sql(shell: Cli, tmp_path: Path) -> None:
    org = re.search(r"created organisation (\d+)", ok(shell("orgs", "create", "Acme")))
    assert org
    ok(shell("projects", "create", "acme", "--org", org[1]))
    refused(shell("projects", "create", "acme", "--org", org[1]), "acme", "taken")  # a unique violation
    refused(shell("orgs", "create", "   "), "empty")
    refused(shell("orgs", "create", "a\x00b"), "control character")
    refused(shell("projects", "create", "other", "--org", org[1], "--name", " "), "empty")
    refused(shell("projects", "show", "nope"), "nope")
    refused(shell("orgs", "show", "999999"), "999999")
    refused(shell("credits", "balance", "999999"))
    refused(shell("keys", "show", "pk_aaaaaaaaaaaaaaaa"))
    key = re.search(r"key (pk_\w+)", ok(shell("keys", "create", "--project", "acme", "--kind", "publishable")))
    assert key
    refused(shell("keys", "sign", key[1], "prompt="), "`prompt`")
    refused(shell("keys", "sign", key[1], "prompt=a fox", "w=99999"), "`w`")
    refused(shell("keys", "sign", key[1], "prompt=a\x00fox"), "control character")
    refused(shell("generate", "", "--out", str(tmp_path / "x.webp")), "prompt", "empty")
    refused(shell("generate", "a fox", "--out", str(tmp_path / "missing" / "x.webp")), "--out")
    refused(shell("generate", "a fox", "--out", str(tmp_path)), "--out")


@pytest.mark.parametrize(
    "args",
    [
        ("orgs", "show", "99999999999999999999"),
        ("credits", "grant", "1", "99999999999999999999999"),
        ("keys", "create", "--project", "acme", "--kind", "secret", "--rate-limit", "2147483648"),
        ("keys", "create", "--project", "acme", "--kind", "secret", "--expires-in-days", "99999999999"),
        ("keys", "sign", "pk_x", "prompt=a", "--expires-in", "-5"),
        ("projects", "create", "x", "--org", "0"),
        ("generate", "a fox", "--out", "x.webp", "--seed", "-1"),
    ],
)
def test_out_of_range_numbers_are_usage_errors(shell: Cli, args: tuple[str, ...]) -> None:
    done = shell(*args)
    assert done.code == 2 and "expected" in done.err and not SQL_WORDS.search(done.err), done
