"""Operator subcommands of `promptpix`, one module each, registered in `delivery.cli.main`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg

from delivery.app import migrated_connection
from delivery.db.api_keys import ApiKey, get_api_key
from delivery.db.projects import Project, get_project, get_project_by_slug
from delivery.errors import ServiceError, UnknownApiKey, UnknownProject
from delivery.settings import Settings

__all__ = ["key_by_id", "project_by_id", "project_by_slug", "run_with_connection"]


async def project_by_slug(conn: asyncpg.Connection, slug: str) -> Project:
    project = await get_project_by_slug(conn, slug=slug)
    if project is None:
        raise UnknownProject()
    return project


async def project_by_id(conn: asyncpg.Connection, id: int) -> Project:
    project = await get_project(conn, id=id)
    if project is None:
        raise UnknownProject()
    return project


async def key_by_id(conn: asyncpg.Connection, id: str) -> ApiKey:
    key = await get_api_key(conn, id=id)
    if key is None:
        raise UnknownApiKey()
    return key


def run_with_connection(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[None]]) -> int:
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
    except asyncpg.PostgresError as exc:
        raise SystemExit(f"promptpix: refused by the database: {exc.message}") from None
