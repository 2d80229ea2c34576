"""`promptpix orgs create NAME`: an organisation and its billing account."""

from __future__ import annotations

import argparse

import asyncpg

from delivery.cli.common import run_with_connection
from delivery.db.billing import create_account
from delivery.db.organizations import create_organization
from delivery.settings import Settings

__all__ = ["register"]


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    allowance = settings.free_monthly_allowance if args.allowance is None else args.allowance

    async def work(conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            org = await create_organization(conn, name=args.name)
            account = await create_account(
                conn,
                organization_id=org.id,
                plan=args.plan,
                monthly_allowance=allowance if args.plan == "free" else 0,
                credit_limit=args.credit_limit,
                warning_threshold=args.warning,
            )
        limit = {
            "free": f"{account.monthly_allowance} generations a month",
            "prepaid": "pays from its balance (grant credits with `promptpix credits grant`)",
            "postpaid": f"credit limit {account.credit_limit}",
            "unlimited": "no limit",
        }[account.plan]
        print(f"created organisation {org.id} {org.name!r}: plan {account.plan}, {limit}")

    return run_with_connection(settings, work)


def register(commands: argparse._SubParsersAction) -> None:
    orgs = commands.add_parser("orgs", help="organisations and their billing accounts").add_subparsers(
        dest="orgs_command", required=True
    )
    create = orgs.add_parser("create", help="create an organisation with a billing account")
    create.add_argument("name")
    create.add_argument("--plan", choices=("free", "prepaid", "postpaid", "unlimited"), default="free")
    create.add_argument("--allowance", type=int, help="free plan: generations a month (default: setting)")
    create.add_argument("--credit-limit", type=int, default=0, help="postpaid: how far the balance may go below zero")
    create.add_argument("--warning", type=int, default=0, help="log a warning when what remains drops to this")
    create.set_defaults(run=cmd_create)
