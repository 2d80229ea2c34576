"""`promptpix credits grant|adjust ORG AMOUNT`: move an organisation's balance, with a ledger entry.

`promptpix credits usage ORG --by provider|model|project|key|day|month`: net
generations and credits from the ledger, as `/v1/billing/usage` reports them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from delivery.cli.common import bounded, database_id, run_with_connection
from delivery.cli.orgs import account_line
from delivery.db.billing import get_account, post_entry, usage
from delivery.db.connection import Conn
from delivery.errors import UnknownBillingAccount
from delivery.settings import Settings

__all__ = ["register"]


_credits = bounded(-(10**15), 10**15)
"""Credits at once: far inside the balance column (bigint), so sums cannot overflow it."""


def cmd_post(settings: Settings, args: argparse.Namespace) -> int:
    if args.kind == "grant" and args.amount <= 0:
        print("promptpix: a grant must be positive; use `credits adjust` to take credits away", file=sys.stderr)
        return 2

    async def work(conn: Conn) -> None:
        account = await post_entry(
            conn, organization_id=args.org, kind=args.kind, credits=args.amount, note=args.note, now=dt.datetime.now(dt.UTC)
        )
        if account is None:
            raise UnknownBillingAccount()
        verb = "granted" if args.kind == "grant" else "adjusted by"
        print(f"{verb} {args.amount} credits for organisation {args.org}: balance is now {account.balance} (plan {account.plan})")

    return run_with_connection(settings, work)


def cmd_balance(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        account = await get_account(conn, organization_id=args.org, now=dt.datetime.now(dt.UTC))
        if account is None:
            raise UnknownBillingAccount()
        print(f"organisation {args.org}: {account_line(account)}")

    return run_with_connection(settings, work)


def _month_start(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m").replace(tzinfo=dt.UTC)


def cmd_usage(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        now = dt.datetime.now(dt.UTC)
        since = _month_start(args.since) if args.since else now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        rows = await usage(conn, organization_id=args.org, by=args.by, since=since, until=now + dt.timedelta(seconds=1))
        width = max([len(r.group) for r in rows] + [len(args.by)])
        print(f"{args.by:<{width}}  generations  credits")
        for row in rows:
            print(f"{row.group or '-':<{width}}  {row.generations:>11}  {row.credits:>7}")
        print(f"{'total':<{width}}  {sum(r.generations for r in rows):>11}  {sum(r.credits for r in rows):>7}")

    return run_with_connection(settings, work)


def register(commands: argparse._SubParsersAction) -> None:
    credits = commands.add_parser("credits", help="organisation balances").add_subparsers(dest="credits_command", required=True)
    for kind, text in (("grant", "add credits"), ("adjustment", "correct a balance up or down")):
        sub = credits.add_parser("grant" if kind == "grant" else "adjust", help=text)
        sub.add_argument("org", type=database_id, help="organisation id")
        sub.add_argument("amount", type=_credits)
        sub.add_argument("--note", default="", help="why, kept in the ledger")
        sub.set_defaults(run=cmd_post, kind=kind)
    balance = credits.add_parser("balance", help="an organisation's plan, balance and what remains")
    balance.add_argument("org", type=database_id, help="organisation id")
    balance.set_defaults(run=cmd_balance)
    report = credits.add_parser("usage", help="net generations and credits of an organisation, grouped")
    report.add_argument("org", type=database_id, help="organisation id")
    report.add_argument("--by", default="provider", choices=["provider", "model", "project", "key", "day", "month"])
    report.add_argument("--since", default=None, help="YYYY-MM (UTC); default: this month")
    report.set_defaults(run=cmd_usage)
