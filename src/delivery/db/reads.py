"""The reads a `/g/` request makes to resolve a link, behind one Protocol.

`Fresh` runs each query on a connection the caller holds (the `/v1` API, MCP,
anything inside a transaction); the image routes use the per-process caches of
delivery.assets.lookups, which read through to these same queries on a miss.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from delivery.db.api_keys import ApiKey, get_api_key
from delivery.db.asset_names import named_assets
from delivery.db.assets import Asset, find_generated_assets
from delivery.db.connection import Conn
from delivery.db.models import CatalogueModel, get_model
from delivery.db.presets import Preset, get_preset
from delivery.db.projects import Project, get_project_by_slug
from delivery.db.signing_secrets import SigningSecret, live_signing_secrets
from delivery.db.styles import Style, get_style

__all__ = ["Fresh", "Reads"]


class Reads(Protocol):
    async def project_by_slug(self, slug: str) -> Project | None: ...

    async def api_key(self, id: str) -> ApiKey | None: ...

    async def live_signing_secrets(self, key_id: str, now: dt.datetime, *, refresh: bool = False) -> list[SigningSecret]:
        """Newest first, live at `now`; `refresh`: read past any cache (a secret may have been added since)."""
        ...

    async def style(self, project_id: int, name: str) -> Style | None: ...

    async def preset(self, project_id: int, name: str) -> Preset | None: ...

    async def model(self, name: str) -> CatalogueModel | None: ...

    async def named_assets(self, project_id: int, names: list[str]) -> dict[str, Asset]:
        """The live asset behind each name that exists; missing names are absent."""
        ...

    async def generated_asset(self, project_id: int, generation_keys: tuple[str, ...]) -> Asset | None:
        """The live asset under the first of `generation_keys` that has one (a version-1 key, then the root's)."""
        ...


class Fresh:
    """Every read goes to the database, on the caller's connection."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def project_by_slug(self, slug: str) -> Project | None:
        return await get_project_by_slug(self.conn, slug=slug)

    async def api_key(self, id: str) -> ApiKey | None:
        return await get_api_key(self.conn, id=id)

    async def live_signing_secrets(self, key_id: str, now: dt.datetime, *, refresh: bool = False) -> list[SigningSecret]:
        return await live_signing_secrets(self.conn, key_id=key_id, now=now)

    async def style(self, project_id: int, name: str) -> Style | None:
        return await get_style(self.conn, project_id=project_id, name=name)

    async def preset(self, project_id: int, name: str) -> Preset | None:
        return await get_preset(self.conn, project_id=project_id, name=name)

    async def model(self, name: str) -> CatalogueModel | None:
        return await get_model(self.conn, name=name)

    async def named_assets(self, project_id: int, names: list[str]) -> dict[str, Asset]:
        return await named_assets(self.conn, project_id=project_id, names=names)

    async def generated_asset(self, project_id: int, generation_keys: tuple[str, ...]) -> Asset | None:
        return await find_generated_assets(self.conn, project_id=project_id, generation_keys=list(generation_keys))
