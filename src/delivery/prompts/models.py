"""Which model draws a generation, and at what price: the catalogue, the project's default and allow-list.

`model=` (or the project's default model) names a catalogue entry
(delivery.db.models); its pinned version goes into the generation key. With
neither, the deployment's provider draws with its configured model at
`PROMPTPIX_GENERATION_PRICE`, exactly as before there was a catalogue; the
configured model's own pinned name (`model=gemini-2.5-flash-image`) still means
that default.
"""

from __future__ import annotations

import re

import msgspec

from delivery.db.connection import Conn
from delivery.db.models import PROVIDERS, CatalogueModel, get_model, list_models, put_model
from delivery.db.projects import Project
from delivery.db.reads import Reads
from delivery.errors import InvalidField, ModelUnavailable, TooManyReferences, UnknownCatalogueModel, UnknownModel
from delivery.services import Services

__all__ = ["ModelChanges", "ModelChoice", "change_catalogue_model", "choose_model", "fallbacks", "put_catalogue_model"]

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
"""A model's name and a family's: what `model=` says, so URL-safe and lowercase (the table checks it too)."""
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:+-]{0,254}")
_REPLICATE_VERSION = re.compile(r"[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*(:[0-9a-f]{64})?")
"""`owner/name` (the official model's current version) or `owner/name:<64 hex>` (pinned)."""
_INT4 = 2**31 - 1
"""The columns are `integer`: a larger number would be the database's error, not the caller's."""


class ModelChoice(msgspec.Struct, frozen=True, kw_only=True):
    provider: str
    """A key of `services.providers`."""
    version: str
    """Pinned: the provider is asked for it and the generation key holds it."""
    price: int
    """Credits reserved for one generation."""
    name: str | None = None
    """The catalogue entry; None for the deployment's default model."""
    family: str = ""


def default_choice(services: Services) -> ModelChoice:
    provider = services.provider
    return ModelChoice(provider=provider.name, version=provider.resolve_model(None), price=services.settings.generation_price)


def _choice(entry: CatalogueModel) -> ModelChoice:
    return ModelChoice(provider=entry.provider, version=entry.version, price=entry.price, name=entry.name, family=entry.family)


def _allowed(project: Project, entry: CatalogueModel) -> bool:
    return entry.enabled and (not project.allowed_models or entry.name in project.allowed_models)


async def choose_model(
    services: Services, reads: Reads, project: Project, requested: str | None, *, references: int
) -> ModelChoice:
    name = requested or project.default_model
    if name is None:
        return default_choice(services)
    entry = await reads.model(name.lower())
    if entry is None:
        try:
            services.provider.resolve_model(name)  # the deployment's own model by its pinned name
        except ValueError:
            raise UnknownModel(f"unknown model `{name}`") from None
        return default_choice(services)
    if not _allowed(project, entry):
        raise UnknownModel(f"model `{entry.name}` is not enabled for this project")
    if entry.provider not in services.providers:
        raise ModelUnavailable(f"model `{entry.name}` needs the {entry.provider} provider, which this deployment has not configured")
    if references > entry.max_references:
        raise TooManyReferences(f"model `{entry.name}` takes at most {entry.max_references} reference images, this prompt has {references}")
    return _choice(entry)


async def fallbacks(services: Services, conn: Conn, project: Project, chosen: ModelChoice, *, references: int) -> list[ModelChoice]:
    """The other models of the chosen one's family this project may use, in fallback order, on configured providers."""
    if not chosen.family:
        return []
    return [
        _choice(entry)
        for entry in await list_models(conn, family=chosen.family)
        if entry.name != chosen.name
        and _allowed(project, entry)
        and entry.provider in services.providers
        and references <= entry.max_references
    ]


class ModelChanges(msgspec.Struct, frozen=True, kw_only=True):
    """Fields to change on a catalogue model; None keeps the current value."""

    provider: str | None = None
    version: str | None = None
    family: str | None = None
    text_to_image: bool | None = None
    edit: bool | None = None
    max_references: int | None = None
    price: int | None = None
    fallback_rank: int | None = None
    enabled: bool | None = None


def _check(model: CatalogueModel) -> None:
    """Refuse what the catalogue cannot use, with the field named, before the database sees it."""
    if not _NAME.fullmatch(model.name):
        raise InvalidField(f"`name` `{model.name}` is not a model name: lowercase letters, digits, `.`, `_`, `-`, at most 63")
    if model.provider not in PROVIDERS:
        raise InvalidField(f"`provider` must be one of {', '.join(PROVIDERS)}")
    # A version no provider can draw would only show at the first generation, as a misconfigured
    # provider (503) counted against its circuit breaker: refuse it here instead.
    pattern = _REPLICATE_VERSION if model.provider == "replicate" else _VERSION
    if not pattern.fullmatch(model.version):
        shape = "`owner/name` or `owner/name:<64 hex digits>`" if model.provider == "replicate" else "a model name (letters, digits, `.`, `_`, `/`, `:`, `+`, `-`)"
        raise InvalidField(f"`version` must be {shape} for the {model.provider} provider")
    if model.family and not _NAME.fullmatch(model.family):
        raise InvalidField("`family` must be empty or lowercase letters, digits, `.`, `_`, `-`, at most 63")
    for field, value, lowest in (("price", model.price, 0), ("max_references", model.max_references, 0), ("fallback_rank", model.fallback_rank, -_INT4)):
        if not lowest <= value <= _INT4:
            raise InvalidField(f"`{field}` must be a whole number from {lowest} to {_INT4}")


async def put_catalogue_model(conn: Conn, model: CatalogueModel) -> CatalogueModel:
    """Add a model to the catalogue or redefine it whole (the CLI's `models put`, `PUT /v1/admin/models/{name}`).

    Takes effect in every process within a second: their lookup caches are told (delivery.assets.lookups).
    """
    model = msgspec.structs.replace(model, name=model.name.lower(), family=model.family.lower())
    _check(model)
    return await put_model(conn, model)


async def change_catalogue_model(conn: Conn, name: str, changes: ModelChanges) -> CatalogueModel:
    """Change some fields of a catalogue model (its price, or `enabled` to disable it everywhere)."""
    async with conn.transaction():
        current = await get_model(conn, name=name.lower(), for_update=True)
        if current is None:
            raise UnknownCatalogueModel(f"no model is named `{name}`")
        fields = {f: v for f in ModelChanges.__struct_fields__ if (v := getattr(changes, f)) is not None}
        return await put_catalogue_model(conn, msgspec.structs.replace(current, **fields))
