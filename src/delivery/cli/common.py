"""Operator subcommands of `promptpix`, one module each, registered in `delivery.cli.main`."""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Awaitable, Callable

import asyncpg

from delivery.app import migrated_connection
from delivery.db.api_keys import ApiKey, get_api_key
from delivery.db.connection import Conn
from delivery.db.projects import Project, get_project, get_project_by_slug
from delivery.errors import ServiceError, UnknownApiKey, UnknownProject
from delivery.hygiene import check_text
from delivery.settings import Settings

__all__ = ["INT4", "INT8", "bounded", "database_id", "database_refusal", "key_by_id", "nonempty", "project_by_id", "project_by_slug", "run_with_connection"]


async def project_by_slug(conn: Conn, slug: str) -> Project:
    project = await get_project_by_slug(conn, slug=slug)
    if project is None:
        raise UnknownProject(f"unknown project {slug!r}")
    return project


async def project_by_id(conn: Conn, id: int) -> Project:
    project = await get_project(conn, id=id)
    if project is None:
        raise UnknownProject()
    return project


async def key_by_id(conn: Conn, id: str) -> ApiKey:
    key = await get_api_key(conn, id=id)
    if key is None:
        raise UnknownApiKey()
    return key


def nonempty(text: str, what: str) -> str:
    """`text` without surrounding spaces, refused (one line, exit 1) when nothing is left or it holds control characters."""
    try:
        stripped = check_text(text, what, line_breaks=False).strip()
    except ServiceError as exc:
        raise SystemExit(f"promptpix: {exc.message}") from None
    if not stripped:
        raise SystemExit(f"promptpix: {what} must not be empty")
    return stripped


INT4 = 2**31 - 1
INT8 = 2**63 - 1


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], so an out-of-range one is a usage error (exit 2), never a database one."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a number from {low} to {high}, got {value}")
        return value

    return parse


database_id = bounded(1, INT8)
"""A row id (bigint)."""


def run_with_connection(settings: Settings, work: Callable[[Conn], Awaitable[None]]) -> int:
    """Connect (starting the embedded server if that is the configuration), migrate, run `work`; exit code 0.

    A refused operation (unknown id, taken slug, bad value) exits with its message, not a traceback.
    """

    async def run() -> None:
        async with migrated_connection(settings) as (conn, _):
            await work(conn)

    try:
        asyncio.run(run())
        return 0
    except ServiceError as exc:
        raise SystemExit(f"promptpix: {exc.message}") from None
    except (asyncpg.PostgresError, asyncpg.exceptions.DataError) as exc:
        raise SystemExit(f"promptpix: {database_refusal(exc)}") from None


_DUPLICATE = re.compile(r"Key \((?P<columns>[^)]*)\)=\((?P<values>.*)\) already exists\.")


def database_refusal(exc: Exception) -> str:
    """What the database refused, in words: never a constraint, table or SQL text (the operator cannot act on those)."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        found = _DUPLICATE.fullmatch(getattr(exc, "detail", None) or "")
        if found:
            columns = found["columns"].replace("organization_id, ", "")
            values = found["values"].split(", ")[-1]
            return f"{columns} {values!r} is already taken"
        return "that already exists"
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return "it refers to something that does not exist"
    if isinstance(exc, asyncpg.CheckViolationError | asyncpg.NotNullViolationError):
        return "a value is empty or outside what is allowed"
    if isinstance(exc, asyncpg.exceptions.DataError | asyncpg.DataError):
        return "a number is out of range"
    return f"refused by the database ({type(exc).__name__.removesuffix('Error')})"
