"""Queries for billing accounts and the append-only ledger.

Every change to a balance or an allowance happens in the same transaction as
the ledger row that explains it, so `balance` is always the ledger's sum.
Reservation is one conditional UPDATE: PostgreSQL re-checks its WHERE clause
against the newest row version after waiting for the row lock, so concurrent
reservations can never take a balance below its floor.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from delivery.db.connection import Conn, fetch_one

__all__ = [
    "Account",
    "Attribution",
    "LedgerEntry",
    "MarginRow",
    "UsageRow",
    "create_account",
    "debit_generation",
    "ensure_account",
    "get_account",
    "list_ledger",
    "margins",
    "post_entry",
    "refund_generation",
    "settle_generation",
    "usage",
]

Plan = Literal["free", "prepaid", "postpaid", "unlimited"]
Kind = Literal["grant", "debit", "refund", "adjustment", "settle"]


class Account(msgspec.Struct, frozen=True, kw_only=True):
    organization_id: int
    plan: Plan
    balance: int
    credit_limit: int
    monthly_allowance: int
    used_this_period: int
    period_start: dt.datetime
    warning_threshold: int
    block_at_zero: bool
    created_at: dt.datetime

    @property
    def remaining(self) -> int | None:
        """Generations left this period (free) or credits left above the floor; None: no limit."""
        if self.plan == "unlimited" or not self.block_at_zero:
            return None
        if self.plan == "free":
            return self.monthly_allowance - self.used_this_period
        return self.balance + (self.credit_limit if self.plan == "postpaid" else 0)

    @property
    def low(self) -> bool:
        return self.remaining is not None and self.remaining <= self.warning_threshold


class LedgerEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    organization_id: int
    kind: Kind
    credits: int
    quota: int
    balance_after: int
    generation_id: int | None
    project_id: int | None
    key_id: str | None
    model: str | None
    note: str
    created_at: dt.datetime


class UsageRow(msgspec.Struct, frozen=True):
    group: str
    """The day or month (ISO date), project slug, model or key id the row totals."""
    generations: int
    credits: int


# The period columns as they are once a new calendar month (UTC) has begun.
_PERIOD = "date_trunc('month', $2::timestamptz, 'UTC')"
_ROLLED = f"(period_start < {_PERIOD})"
_USED = f"(CASE WHEN {_ROLLED} THEN 0 ELSE used_this_period END)"
_VIEW = f"""organization_id, plan, balance, credit_limit, monthly_allowance, {_USED} AS used_this_period,
    greatest(period_start, {_PERIOD}) AS period_start, warning_threshold, block_at_zero, created_at"""


async def create_account(
    conn: Conn,
    *,
    organization_id: int,
    plan: Plan,
    monthly_allowance: int = 0,
    credit_limit: int = 0,
    warning_threshold: int = 0,
    block_at_zero: bool = True,
) -> Account:
    row = await fetch_one(
        conn,
        """INSERT INTO billing_accounts
               (organization_id, plan, monthly_allowance, credit_limit, warning_threshold, block_at_zero)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        organization_id,
        plan,
        monthly_allowance,
        credit_limit,
        warning_threshold,
        block_at_zero,
    )
    return Account(**row)


async def ensure_account(conn: Conn, *, organization_id: int, plan: Plan) -> None:
    """Give an organisation an account unless it has one; an existing account is left as it is."""
    await conn.execute(
        "INSERT INTO billing_accounts (organization_id, plan) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        organization_id,
        plan,
    )


async def get_account(conn: Conn, *, organization_id: int, now: dt.datetime) -> Account | None:
    """The account as of `now` (None: the organisation has none); a free allowance whose month has passed reads as unused."""
    row = await conn.fetchrow(f"SELECT {_VIEW} FROM billing_accounts WHERE organization_id = $1", organization_id, now)
    return None if row is None else Account(**row)


_RESERVE = f"""
UPDATE billing_accounts SET
    balance = balance - CASE WHEN plan = 'free' THEN 0 ELSE $3 END,
    used_this_period = {_USED} + CASE WHEN plan = 'free' THEN 1 ELSE 0 END,
    period_start = greatest(period_start, {_PERIOD})
WHERE organization_id = $1 AND (
    plan = 'unlimited' OR NOT block_at_zero
    OR (plan = 'prepaid' AND balance - $3 >= 0)
    OR (plan = 'postpaid' AND balance - $3 >= -credit_limit)
    OR (plan = 'free' AND {_USED} + 1 <= monthly_allowance))
RETURNING *"""


class Attribution(msgspec.Struct, frozen=True, kw_only=True):
    """What a debit or refund is for: usage reports group by these."""

    generation_id: int
    project_id: int
    key_id: str | None
    model: str


async def debit_generation(
    conn: Conn, *, organization_id: int, cost: int, now: dt.datetime, payer: Attribution
) -> Account | None:
    """Reserve a generation's cost and write its debit; None when the account cannot pay.

    Call inside the transaction that created the generation row, so a refused
    reservation leaves nothing behind.
    """
    row = await conn.fetchrow(_RESERVE, organization_id, now, cost)
    if row is None:
        return None
    account = Account(**row)
    credits, quota = (0, 1) if account.plan == "free" else (-cost, 0)
    await _insert_entry(conn, account, kind="debit", credits=credits, quota=quota, now=now, payer=payer)
    return account


async def refund_generation(conn: Conn, *, generation_id: int, now: dt.datetime) -> Account | None:
    """Undo a generation's debit exactly once; None when there is nothing (left) to refund.

    The account row is locked first, so two refunds of one generation run one
    after the other and the second finds the first; the ledger's unique
    (generation_id, kind) is the backstop.
    """
    async with conn.transaction():
        debit = await conn.fetchrow("SELECT * FROM ledger WHERE generation_id = $1 AND kind = 'debit'", generation_id)
        if debit is None:
            return None
        current = await fetch_one(
            conn,
            f"SELECT {_VIEW} FROM billing_accounts WHERE organization_id = $1 FOR UPDATE", debit["organization_id"], now
        )
        if await conn.fetchval("SELECT 1 FROM ledger WHERE generation_id = $1 AND kind = 'refund'", generation_id):
            return None
        # An allowance debit from a month that has ended is not given back to the new month.
        quota = -debit["quota"] if debit["created_at"] >= current["period_start"] else 0
        row = await fetch_one(
            conn,
            f"""UPDATE billing_accounts
                SET balance = balance - $3, used_this_period = {_USED} + $4, period_start = greatest(period_start, {_PERIOD})
                WHERE organization_id = $1 RETURNING *""",
            debit["organization_id"],
            now,
            debit["credits"],
            quota,
        )
        account = Account(**row)
        payer = Attribution(
            generation_id=generation_id, project_id=debit["project_id"], key_id=debit["key_id"], model=debit["model"]
        )
        await _insert_entry(conn, account, kind="refund", credits=-debit["credits"], quota=quota, now=now, payer=payer)
    return account


async def settle_generation(conn: Conn, *, generation_id: int, charge: int, now: dt.datetime) -> Account | None:
    """Give back what a succeeded generation reserved beyond `charge` credits; None when nothing is given back.

    The reservation is the most a generation costs: a charge above it is capped
    there. An allowance (free plan) debit counts generations, not credits, and
    is never settled. Call in the transaction that marks the generation succeeded.
    """
    debit = await conn.fetchrow("SELECT * FROM ledger WHERE generation_id = $1 AND kind = 'debit'", generation_id)
    if debit is None or debit["quota"] != 0:
        return None
    reserved = -debit["credits"]
    back = reserved - min(max(charge, 0), reserved)
    if back == 0:
        return None
    row = await fetch_one(
        conn,
        "UPDATE billing_accounts SET balance = balance + $2 WHERE organization_id = $1 RETURNING *", debit["organization_id"], back
    )
    account = Account(**row)
    payer = Attribution(generation_id=generation_id, project_id=debit["project_id"], key_id=debit["key_id"], model=debit["model"])
    await _insert_entry(conn, account, kind="settle", credits=back, quota=0, now=now, payer=payer)
    return account


async def post_entry(
    conn: Conn, *, organization_id: int, kind: Kind, credits: int, note: str, now: dt.datetime
) -> Account | None:
    """A grant or an adjustment: move the balance and record why, together; None when the organisation has no account."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "UPDATE billing_accounts SET balance = balance + $2 WHERE organization_id = $1 RETURNING *",
            organization_id,
            credits,
        )
        if row is None:
            return None
        account = Account(**row)
        await _insert_entry(conn, account, kind=kind, credits=credits, quota=0, now=now, note=note)
    return account


async def _insert_entry(
    conn: Conn,
    account: Account,
    *,
    kind: Kind,
    credits: int,
    quota: int,
    now: dt.datetime,
    payer: Attribution | None = None,
    note: str = "",
) -> None:
    await conn.execute(
        """INSERT INTO ledger (organization_id, kind, credits, quota, balance_after, generation_id, project_id,
                               key_id, model, note, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        account.organization_id,
        kind,
        credits,
        quota,
        account.balance,
        payer.generation_id if payer else None,
        payer.project_id if payer else None,
        payer.key_id if payer else None,
        payer.model if payer else None,
        note,
        now,
    )


async def list_ledger(
    conn: Conn, *, organization_id: int, limit: int, before_id: int | None = None
) -> list[LedgerEntry]:
    """Newest first; page with `before_id` (the last id of the previous page)."""
    rows = await conn.fetch(
        """SELECT * FROM ledger WHERE organization_id = $1 AND ($2::bigint IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3""",
        organization_id,
        before_id,
        limit,
    )
    return [LedgerEntry(**row) for row in rows]


Grouping = Literal["day", "month", "project", "provider", "model", "key"]
_GROUPS: dict[str, str] = {
    "day": "to_char(date_trunc('day', l.created_at, 'UTC'), 'YYYY-MM-DD')",
    "month": "to_char(date_trunc('month', l.created_at, 'UTC'), 'YYYY-MM')",
    "project": "coalesce(p.slug, '')",
    "provider": "coalesce(g.provider, '')",
    "model": "coalesce(l.model, '')",
    "key": "coalesce(l.key_id, '')",
}


async def usage(
    conn: Conn, *, organization_id: int, by: Grouping, since: dt.datetime, until: dt.datetime
) -> list[UsageRow]:
    """Net generations and credits per group, read from the ledger itself (debits minus refunds and settlements)."""
    group = _GROUPS[by]
    rows = await conn.fetch(
        f"""SELECT {group} AS "group",
                   sum(CASE l.kind WHEN 'debit' THEN 1 WHEN 'refund' THEN -1 ELSE 0 END)::bigint AS generations,
                   (-sum(l.credits))::bigint AS credits
            FROM ledger l LEFT JOIN projects p ON p.id = l.project_id LEFT JOIN generations g ON g.id = l.generation_id
            WHERE l.organization_id = $1 AND l.kind IN ('debit', 'refund', 'settle')
              AND l.created_at >= $2 AND l.created_at < $3
            GROUP BY 1 ORDER BY 1""",
        organization_id,
        since,
        until,
    )
    return [UsageRow(**row) for row in rows]


class MarginRow(msgspec.Struct, frozen=True):
    month: str
    """YYYY-MM (UTC) of the generation's start."""
    provider: str
    """Who actually drew it (a fallback's provider when one stood in)."""
    model: str
    generations: int
    """Succeeded generations."""
    credits: int
    """Net credits charged for them (debits minus refunds)."""
    cost: float
    """The providers' recorded cost of every attempt, failed ones included."""


async def margins(conn: Conn, *, since: dt.datetime, until: dt.datetime) -> list[MarginRow]:
    """Credits charged against provider cost per month, provider and model, across every organisation (operators only)."""
    rows = await conn.fetch(
        """SELECT to_char(date_trunc('month', g.created_at, 'UTC'), 'YYYY-MM') AS month, g.provider, g.model,
                  count(*) FILTER (WHERE g.status = 'succeeded') AS generations,
                  coalesce(-sum(l.net), 0)::bigint AS credits,
                  sum(g.cost)::float8 AS cost
           FROM generations g
           LEFT JOIN (SELECT generation_id, sum(credits) AS net FROM ledger
                      WHERE kind IN ('debit', 'refund', 'settle') GROUP BY generation_id) l ON l.generation_id = g.id
           WHERE g.created_at >= $1 AND g.created_at < $2 AND g.status <> 'pending'
           GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        since,
        until,
    )
    return [MarginRow(**row) for row in rows]
