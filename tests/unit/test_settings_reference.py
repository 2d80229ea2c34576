"""docs/settings.md and .env.example are rendered from the Settings fields, and stay in step with them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from delivery.cli.main import main
from delivery.cli.reference import render_env, render_markdown
from delivery.settings import RULES, Settings, reference
from harness.processes import REPO


@pytest.mark.parametrize(("path", "render"), [("docs/settings.md", render_markdown), (".env.example", render_env)])
def test_committed_reference_matches_the_fields(path: str, render: Callable[[], str]) -> None:
    committed = (REPO / path).read_text()
    assert committed == render(), f"{path} has drifted from the fields of src/delivery/settings.py: run `make settings-docs`"


def test_markdown_lists_every_variable_once_and_every_rule() -> None:
    markdown = render_markdown()
    for name in Settings.env_names():
        assert markdown.count(f"| `{name}` |") == 1, name
    for rule in RULES:
        assert rule.says in markdown
    assert "| `PROMPTPIX_PORT` | integer 1–65535 | `8080` |" in markdown
    assert "| `PROMPTPIX_DATABASE_URL` | string | unset |" in markdown


def test_every_field_is_documented() -> None:
    docs = reference()
    assert [doc.variable for doc in docs] == Settings.env_names()
    assert all(doc.description.strip() and doc.group.strip() and doc.accepts for doc in docs)


def test_settings_command_prints_the_reference_even_with_a_bad_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROMPTPIX_PORT", "0")
    assert main(["settings", "--format", "env"]) == 0
    assert capsys.readouterr().out == render_env()
    assert main(["settings"]) == 0
    assert capsys.readouterr().out == render_markdown()


def test_other_commands_refuse_a_bad_variable_with_status_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PROMPTPIX_PORT", "0")
    assert main(["migrate"]) == 2
    assert "PROMPTPIX_PORT" in capsys.readouterr().err


def test_output_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "settings.md"
    assert main(["settings", "--output", str(target)]) == 0
    assert target.read_text() == render_markdown()
