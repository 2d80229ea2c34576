"""`promptpix orgs create NAME | list | show ID`: organisations and their billing accounts."""

from __future__ import annotations

import argparse
import datetime as dt

from delivery.cli.common import INT4, bounded, database_id, nonempty, run_with_connection
from delivery.db.billing import Account, create_account, get_account
from delivery.db.connection import Conn
from delivery.db.organizations import create_organization, get_organization, list_organizations
from delivery.db.projects import list_projects
from delivery.errors import UnknownOrganization
from delivery.settings import Settings

__all__ = ["account_line", "register"]


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    allowance = settings.free_monthly_allowance if args.allowance is None else args.allowance
    name = nonempty(args.name, "the organisation's name")

    async def work(conn: Conn) -> None:
        async with conn.transaction():
            org = await create_organization(conn, name=name)
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
        print(org.id if args.print_id else f"created organisation {org.id} {org.name!r}: plan {account.plan}, {limit}")

    return run_with_connection(settings, work)


def account_line(account: Account | None) -> str:
    if account is None:
        return "no billing account"
    remaining = "no limit" if account.remaining is None else f"{account.remaining} remaining"
    used = f", {account.used_this_period}/{account.monthly_allowance} generations this month" if account.plan == "free" else ""
    return f"plan {account.plan}, balance {account.balance}{used}, {remaining}{' (low)' if account.low else ''}"


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        now = dt.datetime.now(dt.UTC)
        for org in await list_organizations(conn):
            account = await get_account(conn, organization_id=org.id, now=now)
            print(f"{org.id}\t{org.name}\t{account_line(account)}")

    return run_with_connection(settings, work)


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        org = await get_organization(conn, id=args.id)
        if org is None:
            raise UnknownOrganization(f"no organisation {args.id}")
        account = await get_account(conn, organization_id=org.id, now=dt.datetime.now(dt.UTC))
        print(f"organisation {org.id} {org.name!r}, created {org.created_at:%Y-%m-%d}")
        print(f"billing: {account_line(account)}")
        projects = await list_projects(conn, organization_id=org.id)
        print(f"projects: {', '.join(p.slug for p in projects) or 'none'}")

    return run_with_connection(settings, work)


def register(commands: argparse._SubParsersAction) -> None:
    orgs = commands.add_parser("orgs", help="organisations and their billing accounts").add_subparsers(
        dest="orgs_command", required=True
    )
    create = orgs.add_parser("create", help="create an organisation with a billing account")
    create.add_argument("name")
    create.add_argument("--plan", choices=("free", "prepaid", "postpaid", "unlimited"), default="free")
    create.add_argument("--allowance", type=bounded(0, INT4), help="free plan: generations a month (default: setting)")
    create.add_argument("--credit-limit", type=bounded(0, 10**15), default=0, help="postpaid: how far the balance may go below zero")
    create.add_argument("--warning", type=bounded(0, 10**15), default=0, help="log a warning when what remains drops to this")
    create.add_argument("--print-id", action="store_true", help="print only the new id, for scripts: ORG=$(promptpix orgs create … --print-id)")
    create.set_defaults(run=cmd_create)
    orgs.add_parser("list", help="every organisation with its plan and balance").set_defaults(run=cmd_list)
    show = orgs.add_parser("show", help="an organisation: billing account and projects")
    show.add_argument("id", type=database_id, help="organisation id")
    show.set_defaults(run=cmd_show)
