"""Which model draws a generation, and at what price: the catalogue, the project's default and allow-list.

`model=` (or the project's default model) names a catalogue entry
(delivery.db.models); its pinned version goes into the generation key. With
neither, the deployment's provider draws with its configured model at
`PROMPTPIX_GENERATION_PRICE`, exactly as before there was a catalogue; the
configured model's own pinned name (`model=gemini-2.5-flash-image`) still means
that default.
"""

from __future__ import annotations

import asyncpg
import msgspec

from delivery.db.models import CatalogueModel, get_model, list_models
from delivery.db.projects import Project
from delivery.errors import ModelUnavailable, TooManyReferences, UnknownModel
from delivery.services import Services

__all__ = ["ModelChoice", "choose_model", "fallbacks"]


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
    services: Services, conn: asyncpg.Connection, project: Project, requested: str | None, *, references: int
) -> ModelChoice:
    name = requested or project.default_model
    if name is None:
        return default_choice(services)
    entry = await get_model(conn, name=name.lower())
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


async def fallbacks(services: Services, conn: asyncpg.Connection, project: Project, chosen: ModelChoice, *, references: int) -> list[ModelChoice]:
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
