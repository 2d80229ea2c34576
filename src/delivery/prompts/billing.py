"""Who pays for a generation: reserve its price before the provider call, refund it once if it fails.

Out of credits (or of the free allowance) is 402 Payment Required; rate limits
are 429 (delivery.access.ratelimit). See docs/security.md for the plans.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

import asyncpg

from delivery.db.billing import Attribution, debit_generation, get_account, refund_generation, settle_generation
from delivery.errors import InsufficientCredits, NoBillingAccount

__all__ = ["refund", "reserve", "settle"]

log = logging.getLogger("promptpix.billing")


async def reserve(
    conn: asyncpg.Connection, *, organization_id: int, cost: int, payer: Attribution, now: dt.datetime
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


async def refund(conn: asyncpg.Connection, *, generation_id: int, now: dt.datetime) -> None:
    """Give a failed generation's debit back; a second call for the same generation does nothing."""
    account = await refund_generation(conn, generation_id=generation_id, now=now)
    if account is not None:
        log.info("generation refunded", extra={"generation": generation_id, "organization": account.organization_id})


async def settle(conn: asyncpg.Connection, *, generation_id: int, cost: float, credits_per_cost_unit: float, now: dt.datetime) -> None:
    """`cost` billing mode: charge the provider's recorded cost converted to credits (rounded up), at most what was reserved."""
    charge = math.ceil(round(cost * credits_per_cost_unit, 6))  # 0.03 × 100 is 3.0000000000000004 in floats: 3, not 4
    account = await settle_generation(conn, generation_id=generation_id, charge=charge, now=now)
    if account is not None:
        log.info("generation settled", extra={"generation": generation_id, "charged": charge, "organization": account.organization_id})
