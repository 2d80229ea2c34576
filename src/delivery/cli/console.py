"""`promptpix console-link --org ID`: a one-time sign-in link to the web console for one organisation."""

from __future__ import annotations

import argparse
import datetime as dt

from delivery.access.console import issue_link_token
from delivery.cli.common import database_id, run_with_connection
from delivery.db.connection import Conn
from delivery.settings import Settings

__all__ = ["console_link", "register"]


async def console_link(conn: Conn, settings: Settings, organization_id: int) -> str:
    now = dt.datetime.now(dt.UTC)
    token = await issue_link_token(conn, organization_id=organization_id, lifetime=dt.timedelta(seconds=settings.console_link_seconds), now=now)
    return f"{settings.resolved_public_url}/console/signin?token={token}"


def cmd_console_link(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        print(await console_link(conn, settings, args.org))

    return run_with_connection(settings, work)


def register(commands: argparse._SubParsersAction) -> None:
    link = commands.add_parser("console-link", help="print a one-time sign-in link to the web console")
    link.add_argument("--org", type=database_id, required=True, help="organisation id (`promptpix orgs create` prints it)")
    link.set_defaults(run=cmd_console_link)
