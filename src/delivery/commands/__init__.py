"""Operator subcommands of `promptpix`, one module each, registered in `delivery.cli`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from delivery.app import database_url
from delivery.db.migrate import migrate
from delivery.errors import ServiceError
from delivery.settings import Settings

__all__ = ["run_with_connection"]

T = TypeVar("T")


def run_with_connection(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Connect (starting the embedded server if that is the configuration), migrate, run `work`.

    A refused operation (unknown id, taken slug, bad value) exits with its message, not a traceback.
    """

    async def run() -> T:
        conn = await asyncpg.connect(await database_url(settings))
        try:
            await migrate(conn)
            return await work(conn)
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except ServiceError as exc:
        raise SystemExit(f"promptpix: {exc.message}") from None
    except asyncpg.PostgresError as exc:
        raise SystemExit(f"promptpix: refused by the database: {exc.message}") from None
