"""`/v1/billing`: the organisation's balance, its ledger, and usage totals read from that ledger.

Billing belongs to the organisation, so a key with `billing:read` sees its
whole organisation's figures (grouped by project among others).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from delivery.db.billing import Account, LedgerEntry, UsageRow, get_account, list_ledger, usage
from delivery.errors import InvalidParam, UnknownBillingAccount
from delivery.http.api.principal import Principal
from delivery.http.openapi import problems
from delivery.services import Services

__all__ = ["balance", "ledger", "usage_statistics"]

_READ = {"scope": "billing:read"}


class Balance(msgspec.Struct, frozen=True):
    account: Account
    remaining: int | None
    """Generations left this month (free) or credits above the floor; None: no limit."""
    low: bool
    """At or below the warning threshold."""


class Totals(msgspec.Struct, frozen=True):
    generations: int
    credits: int


class Usage(msgspec.Struct, frozen=True):
    since: dt.date
    until: dt.date
    """Exclusive."""
    per: Literal["day", "month"]
    periods: list[UsageRow]
    by_project: list[UsageRow]
    by_provider: list[UsageRow]
    """By the provider that actually drew each generation."""
    by_model: list[UsageRow]
    """By the model asked for (a fallback is billed as the model asked for)."""
    by_key: list[UsageRow]
    total: Totals


@get("/billing/balance", opt=_READ, responses=problems(404), summary="The organisation's plan, balance and allowance")
async def balance(request: Request, principal: NamedDependency[Principal]) -> Balance:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        account = await get_account(conn, organization_id=principal.project.organization_id, now=dt.datetime.now(dt.UTC))
    if account is None:
        raise UnknownBillingAccount()
    return Balance(account=account, remaining=account.remaining, low=account.low)


@get("/billing/ledger", opt=_READ, responses=problems(404), summary="Ledger entries, newest first")
async def ledger(
    request: Request,
    principal: NamedDependency[Principal],
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    before: Annotated[int | None, QueryParameter(ge=1, description="page: the last id of the previous page")] = None,
) -> list[LedgerEntry]:
    services: Services = request.app.state.services
    async with services.pool.acquire() as conn:
        return await list_ledger(conn, organization_id=principal.project.organization_id, limit=limit, before_id=before)


def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


@get("/billing/usage", opt=_READ, responses=problems(404), summary="Net generations and credits per day or month, with totals")
async def usage_statistics(
    request: Request,
    principal: NamedDependency[Principal],
    per: FromQuery[Literal["day", "month"]] = "day",
    since: FromQuery[dt.date | None] = None,
    until: Annotated[dt.date | None, QueryParameter(description="exclusive; default tomorrow (UTC)")] = None,
) -> Usage:
    services: Services = request.app.state.services
    today = dt.datetime.now(dt.UTC).date()
    until = until or today + dt.timedelta(days=1)
    since = since or (today.replace(day=1) if per == "day" else today.replace(month=1, day=1))
    if since >= until:
        raise InvalidParam("`since` must be before `until`")
    organization_id, start, end = principal.project.organization_id, _utc(since), _utc(until)
    async with services.pool.acquire() as conn:
        periods = await usage(conn, by=per, organization_id=organization_id, since=start, until=end)
        by_project = await usage(conn, by="project", organization_id=organization_id, since=start, until=end)
        by_provider = await usage(conn, by="provider", organization_id=organization_id, since=start, until=end)
        by_model = await usage(conn, by="model", organization_id=organization_id, since=start, until=end)
        by_key = await usage(conn, by="key", organization_id=organization_id, since=start, until=end)
    total = Totals(generations=sum(r.generations for r in periods), credits=sum(r.credits for r in periods))
    return Usage(
        since=since,
        until=until,
        per=per,
        periods=periods,
        by_project=by_project,
        by_provider=by_provider,
        by_model=by_model,
        by_key=by_key,
        total=total,
    )
