"""`promptpix settings`: the settings reference, rendered from the fields of `Settings`.

`--format markdown` is docs/settings.md and `--format env` is .env.example;
`make settings-docs` rewrites both, and a unit test fails when either has
drifted from the code. The command reads no settings itself, so it runs
whatever the environment holds.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from itertools import groupby
from pathlib import Path

from delivery.settings import RULES, FieldDoc, reference

__all__ = ["COMPOSE_ENV", "COMPOSE_REQUIRED", "register", "render_env", "render_markdown"]

COMPOSE_ENV = {
    "AWS_ACCESS_KEY_ID": "promptpix",
    "AWS_SECRET_ACCESS_KEY": "change-me-minio-secret",
}
"""Values .env.example gives settings that docker compose needs set (the app's default is unset)."""

COMPOSE_REQUIRED = ("PROMPTPIX_SECRET_KEY", "PROMPTPIX_PUBLIC_URL")
"""Settings docker-compose.yml interpolates as `${X:?…}`: compose refuses to start while they are empty."""

COMPOSE_ONLY = {
    "POSTGRES_PASSWORD": "change-me-postgres-password",
    "S3_BUCKET": "promptpix",
}
"""Variables docker-compose.yml interpolates that the app itself does not read."""

_SOURCE = "src/delivery/settings.py"


def _sections() -> list[tuple[str, list[FieldDoc]]]:
    """Groups in field order; the fields of one group sit together in the Struct."""
    sections = [(group, list(docs)) for group, docs in groupby(reference(), key=lambda doc: doc.group)]
    groups = [group for group, _ in sections]
    if len(set(groups)) != len(groups):
        raise ValueError(f"a settings group is split across the Struct: {groups}")
    return sections


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    lines = [
        "# Settings",
        "",
        "Every setting is an environment variable, read once at start-up. An empty",
        "variable is the same as an unset one. A value of the wrong type, out of its",
        "range or not one of its choices stops `promptpix` (exit status 2) with a",
        "message that names the variable.",
        "",
        f"This file is generated from the fields of `{_SOURCE}` by",
        "`make settings-docs` (`promptpix settings --format markdown`); edit the",
        "fields, not this file. [`.env.example`](../.env.example) is generated from",
        "the same fields.",
        "",
        "Beyond the ranges, start-up refuses settings that break these rules:",
        "",
        *(f"- {_cell(rule.says)}" for rule in RULES),
    ]
    for group, docs in _sections():
        lines += ["", f"## {group}", "", "| variable | type and range | default | meaning |", "|---|---|---|---|"]
        for doc in docs:
            default = f"`{doc.default}`" if doc.default else "unset"
            lines.append(f"| `{doc.variable}` | {_cell(doc.accepts)} | {_cell(default)} | {_cell(doc.description)} |")
    return "\n".join(lines) + "\n"


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=88, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False)


def render_env() -> str:
    lines = [
        "# Every setting promptpix reads, with its default. Generated from the fields of",
        f"# {_SOURCE} by `make settings-docs`; docs/settings.md is the same as a table.",
        "# Copy to .env for docker compose (which sets the addresses, database and storage",
        "# itself; see docker-compose.yml) or export for `promptpix serve`.",
        '# An empty value means "not set": the default applies.',
    ]
    for group, docs in _sections():
        lines += ["", f"# --- {group}"]
        for doc in docs:
            lines += _comment(doc.description if doc.accepts == "string" else f"{doc.description.rstrip('.')}; {doc.accepts}.")
            if doc.variable in COMPOSE_ENV:
                lines += _comment("Unset by default; docker compose needs it: change me.")
            if doc.variable in COMPOSE_REQUIRED:
                lines += _comment("docker compose refuses to start until it is set.")
            lines.append(f"{doc.variable}={COMPOSE_ENV.get(doc.variable, doc.default)}")
    lines += ["", "# --- docker compose only (not read by the app): change me"]
    lines += [f"{name}={value}" for name, value in COMPOSE_ONLY.items()]
    return "\n".join(lines) + "\n"


def cmd_settings(args: argparse.Namespace) -> int:
    text = render_markdown() if args.format == "markdown" else render_env()
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("settings", help="print the reference of every setting (docs/settings.md, .env.example)")
    parser.add_argument("--format", choices=("markdown", "env"), default="markdown", help="markdown table or .env file (default: markdown)")
    parser.add_argument("-o", "--output", help="write to this file instead of stdout")
    parser.set_defaults(run_without_settings=cmd_settings)
