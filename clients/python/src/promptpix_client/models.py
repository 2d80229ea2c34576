"""What the `/v1` API answers, as msgspec Structs (docs/api.md, docs/security.md).

Unknown fields are ignored, so a newer service that adds fields keeps working
with this package.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

__all__ = [
    "Account",
    "Asset",
    "AssetPage",
    "AssetUrls",
    "Balance",
    "CreatedKey",
    "Flow",
    "FlowStep",
    "FocalPoint",
    "Generation",
    "Job",
    "JobStatus",
    "Key",
    "LedgerEntry",
    "Name",
    "Preset",
    "SignedLink",
    "SigningSecret",
    "StepRef",
    "Style",
    "Usage",
    "UsageRow",
]


class FocalPoint(msgspec.Struct, frozen=True):
    x: float
    y: float


class AssetUrls(msgspec.Struct, frozen=True):
    original: str
    presets: dict[str, str]
    srcset: str


class Asset(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    source: Literal["generated", "uploaded"]
    mime: str
    width: int
    height: int
    bytes: int
    focal_point: FocalPoint
    alt_text: str
    tags: list[str]
    colors: list[str]
    names: list[str]
    prompt: str | None
    enhanced_prompt: str | None
    style: str | None
    model: str | None
    offline: bool
    created_at: dt.datetime
    urls: AssetUrls
    parent_id: str | None = None
    """The root (or upload) a derived master was made from; None for every other asset."""
    derivation: Literal["extend"] | None = None
    """How a derived master was made from its parent: `extend`, outpainted to another aspect class."""


class StepRef(msgspec.Struct, frozen=True):
    flow: int
    position: int


class Generation(msgspec.Struct, frozen=True):
    asset: Asset
    generated: bool
    """False when the same generation existed: nothing drawn or charged."""
    link: str | None
    step: StepRef | None


JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A generation job (`POST /v1/generations` with `"wait": false`, `GET /v1/jobs/{id}`)."""

    id: str
    status: JobStatus
    stage: str
    """What the worker does now (`generating candidate 2 of 3`), else the status."""
    count: int
    asset_ids: list[str]
    """One per finished candidate, in candidate order."""
    asset_urls: list[str]
    error: str | None
    """The public message of a failed job."""
    attempts: int
    prompt: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    url: str

    @property
    def done(self) -> bool:
        """True once the job can change no more: succeeded, failed or cancelled."""
        return self.status in ("succeeded", "failed", "cancelled")


class AssetPage(msgspec.Struct, frozen=True):
    items: list[Asset]
    next_cursor: str | None


class Name(msgspec.Struct, frozen=True):
    name: str
    asset_id: str
    updated_at: dt.datetime
    url: str


class Style(msgspec.Struct, frozen=True):
    name: str
    prompt: str
    aspect_ratio: str | None
    default: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class Preset(msgspec.Struct, frozen=True):
    name: str
    query: str
    builtin: bool
    updated_at: dt.datetime | None


class FlowStep(msgspec.Struct, frozen=True):
    position: int
    reference: str
    prompt: str
    asset: Asset | None


class Flow(msgspec.Struct, frozen=True):
    id: int
    title: str
    created_at: dt.datetime
    steps: list[FlowStep]


class Key(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: str
    name: str
    scopes: list[str]
    allowed_origins: list[str]
    rate_limit: int | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    replaced_by: str | None


class CreatedKey(msgspec.Struct, frozen=True):
    key: Key
    secret: str
    """The full key, shown once."""


class SigningSecret(msgspec.Struct, frozen=True):
    key_id: str
    signing_secret: str
    others_retire_at: dt.datetime


class SignedLink(msgspec.Struct, frozen=True):
    url: str
    path: str
    expires: int | None


class Account(msgspec.Struct, frozen=True, kw_only=True):
    organization_id: int
    plan: str
    balance: int
    credit_limit: int
    monthly_allowance: int
    used_this_period: int
    period_start: dt.datetime
    warning_threshold: int
    block_at_zero: bool
    created_at: dt.datetime


class Balance(msgspec.Struct, frozen=True):
    account: Account
    remaining: int | None
    low: bool


class LedgerEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    organization_id: int
    kind: str
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
    generations: int
    credits: int


class Totals(msgspec.Struct, frozen=True):
    generations: int
    credits: int


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    since: dt.date
    until: dt.date
    per: str
    periods: list[UsageRow]
    by_project: list[UsageRow]
    by_model: list[UsageRow]
    by_key: list[UsageRow]
    total: Totals
