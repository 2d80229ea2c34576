"""Who pays for a generation: reserve its price before the provider call, refund it once if it fails.

Out of credits (or of the free allowance) is 402 Payment Required; rate limits
are 429 (delivery.access.ratelimit). See docs/security.md for the plans.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

import msgspec

from delivery.db.billing import Attribution, debit_generation, get_account, margins, refund_generation, settle_generation
from delivery.db.connection import Conn
from delivery.errors import InsufficientCredits, InvalidParam, NoBillingAccount

__all__ = ["MarginLine", "MarginReport", "margin_report", "month_start", "refund", "reserve", "settle", "this_year"]

log = logging.getLogger("promptpix.billing")


async def reserve(
    conn: Conn, *, organization_id: int, cost: int, payer: Attribution, now: dt.datetime
) -> None:
    """Debit the organisation or raise 402; run in the transaction that created the generation row."""
    account = await debit_generation(conn, organization_id=organization_id, cost=cost, now=now, payer=payer)
    if account is None:
        if await get_account(conn, organization_id=organization_id, now=now) is None:
            raise NoBillingAccount()
        raise InsufficientCredits()
    if account.low:
        log.warning(
            "billing account low",
            extra={"organization": organization_id, "plan": account.plan, "remaining": account.remaining},
        )


async def refund(conn: Conn, *, generation_id: int, now: dt.datetime) -> None:
    """Give a failed generation's debit back; a second call for the same generation does nothing."""
    account = await refund_generation(conn, generation_id=generation_id, now=now)
    if account is not None:
        log.info("generation refunded", extra={"generation": generation_id, "organization": account.organization_id})


async def settle(conn: Conn, *, generation_id: int, cost: float, credits_per_cost_unit: float, now: dt.datetime) -> None:
    """`cost` billing mode: charge the provider's recorded cost converted to credits (rounded up), at most what was reserved."""
    charge = math.ceil(round(cost * credits_per_cost_unit, 6))  # 0.03 × 100 is 3.0000000000000004 in floats: 3, not 4
    account = await settle_generation(conn, generation_id=generation_id, charge=charge, now=now)
    if account is not None:
        log.info("generation settled", extra={"generation": generation_id, "charged": charge, "organization": account.organization_id})


class MarginLine(msgspec.Struct, frozen=True):
    month: str
    """YYYY-MM (UTC) of the generations' start."""
    provider: str
    """Who actually drew them (a fallback's provider when one stood in)."""
    model: str
    """The version that drew them, as the provider reports it."""
    generations: int
    """Succeeded generations."""
    credits: int
    """Net credits charged for them (debits − refunds − settlements)."""
    cost: float
    """The providers' recorded cost of every attempt, failed ones included."""
    margin: float
    """credits × credit_value − cost."""


class MarginReport(msgspec.Struct, frozen=True):
    since: str
    """First month, YYYY-MM."""
    until: str
    """First month after the report, YYYY-MM (exclusive)."""
    credit_value: float
    """What one credit is worth in the providers' currency."""
    lines: list[MarginLine]
    credits: int
    cost: float
    margin: float


def month_start(text: str, *, field: str) -> dt.datetime:
    """`YYYY-MM` as the first instant of that month in UTC; InvalidParam otherwise."""
    try:
        month = dt.datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise InvalidParam(f"`{field}` must be a month as YYYY-MM") from None
    return month.replace(tzinfo=dt.UTC)


def _next_month(start: dt.datetime) -> dt.datetime:
    return (start + dt.timedelta(days=32)).replace(day=1)


async def margin_report(
    conn: Conn, *, since: dt.datetime, until: dt.datetime, credit_value: float
) -> MarginReport:
    """Operators: credits charged against provider cost per month, provider and model, across every organisation.

    `since` and `until` are month starts (UTC), `until` exclusive (the CLI's
    `promptpix models margin` and `GET /v1/admin/margin`).
    """
    if since >= until:
        raise InvalidParam("`since` must be a month before `until`")
    if not (math.isfinite(credit_value) and credit_value > 0):
        raise InvalidParam("`credit_value` must be a positive number")
    rows = await margins(conn, since=since, until=until)
    lines = [
        MarginLine(
            month=r.month, provider=r.provider, model=r.model, generations=r.generations, credits=r.credits,
            cost=r.cost or 0.0, margin=r.credits * credit_value - (r.cost or 0.0),
        )
        for r in rows
    ]
    credits = sum(line.credits for line in lines)
    cost = sum(line.cost for line in lines)
    return MarginReport(
        since=since.strftime("%Y-%m"), until=until.strftime("%Y-%m"), credit_value=credit_value, lines=lines,
        credits=credits, cost=cost, margin=credits * credit_value - cost,
    )


def this_year(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """January of `now`'s year up to the start of the month after `now`: the reports' default period."""
    start = now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, _next_month(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
