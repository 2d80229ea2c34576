"""`promptpix credits grant|adjust ORG AMOUNT`: move an organisation's balance, with a ledger entry."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import asyncpg

from delivery.cli.common import run_with_connection
from delivery.db.billing import post_entry
from delivery.errors import UnknownBillingAccount
from delivery.settings import Settings

__all__ = ["register"]


def cmd_post(settings: Settings, args: argparse.Namespace) -> int:
    if args.kind == "grant" and args.amount <= 0:
        print("promptpix: a grant must be positive; use `credits adjust` to take credits away", file=sys.stderr)
        return 2

    async def work(conn: asyncpg.Connection) -> None:
        account = await post_entry(
            conn, organization_id=args.org, kind=args.kind, credits=args.amount, note=args.note, now=dt.datetime.now(dt.UTC)
        )
        if account is None:
            raise UnknownBillingAccount()
        verb = "granted" if args.kind == "grant" else "adjusted by"
        print(f"{verb} {args.amount} credits for organisation {args.org}: balance is now {account.balance} (plan {account.plan})")

    return run_with_connection(settings, work)


def register(commands: argparse._SubParsersAction) -> None:
    credits = commands.add_parser("credits", help="organisation balances").add_subparsers(dest="credits_command", required=True)
    for kind, text in (("grant", "add credits"), ("adjustment", "correct a balance up or down")):
        sub = credits.add_parser("grant" if kind == "grant" else "adjust", help=text)
        sub.add_argument("org", type=int, help="organisation id")
        sub.add_argument("amount", type=int)
        sub.add_argument("--note", default="", help="why, kept in the ledger")
        sub.set_defaults(run=cmd_post, kind=kind)
