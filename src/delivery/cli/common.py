"""Operator subcommands of `promptpix`, one module each, registered in `delivery.cli.main`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg

from delivery.app import migrated_connection
from delivery.errors import ServiceError
from delivery.settings import Settings

__all__ = ["run_with_connection"]


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
