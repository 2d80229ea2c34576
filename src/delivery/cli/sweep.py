"""`promptpix sweep`: remove orphaned objects and settle generations a crash left pending.

Dry run by default: it prints what it would do and changes nothing until
`--apply`. Queue workers run the same sweep periodically (PROMPTPIX_SWEEP_INTERVAL, delivery.jobs.queue).
"""

from __future__ import annotations

import argparse
import asyncio

from delivery.app import open_services
from delivery.assets.sweep import SweepReport, sweep
from delivery.settings import Settings

__all__ = ["register"]


async def _sweep(settings: Settings, *, apply: bool, grace: float, pending_after: float) -> SweepReport:
    async with open_services(settings) as services:
        return await sweep(services.pool, services.storage, apply=apply, grace=grace, pending_after=pending_after)


def cmd_sweep(settings: Settings, args: argparse.Namespace) -> int:
    grace = settings.sweep_grace if args.grace is None else args.grace
    pending_after = settings.sweep_pending_after if args.pending_after is None else args.pending_after
    report = asyncio.run(_sweep(settings, apply=args.apply, grace=grace, pending_after=pending_after))
    if not report.ran:
        print("another sweep is running; nothing done")
        return 0
    for line in report.lines():
        print(line)
    if not report.orphans and not report.abandoned:
        print("nothing to repair")
    elif not args.apply:
        print("dry run: nothing changed; run `promptpix sweep --apply` to do this")
    return 0


def _seconds(value: str) -> float:
    seconds = float(value)
    if seconds < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return seconds


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("sweep", help="remove orphaned objects, settle crashed generations (dry run unless --apply)")
    parser.add_argument("--apply", action="store_true", help="act instead of printing what would be done")
    parser.add_argument("--grace", type=_seconds, help="only objects older than this many seconds (default: PROMPTPIX_SWEEP_GRACE)")
    parser.add_argument(
        "--pending-after", type=_seconds, help="pending generations older than this many seconds (default: PROMPTPIX_SWEEP_PENDING_AFTER)"
    )
    parser.set_defaults(run=cmd_sweep)
