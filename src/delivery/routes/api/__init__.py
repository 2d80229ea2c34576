"""`/v1`: the REST API, authenticated with secret keys and never cached."""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import ResponseHeader
from litestar.di import Provide

from delivery.routes.api.billing import balance, ledger, usage_statistics
from delivery.routes.api.keys import create_project_key, list_project_keys, revoke_project_key, rotate_project_key, rotate_signing_secret
from delivery.routes.api.links import sign_project_link
from delivery.routes.api.principal import provide_principal

__all__ = ["API_CACHE_CONTROL", "api_router"]

API_CACHE_CONTROL = "private, no-store"

api_router = Router(
    path="/v1",
    route_handlers=[
        create_project_key,
        list_project_keys,
        revoke_project_key,
        rotate_project_key,
        rotate_signing_secret,
        sign_project_link,
        balance,
        ledger,
        usage_statistics,
    ],
    dependencies={"principal": Provide(provide_principal)},
    response_headers=[ResponseHeader(name="Cache-Control", value=API_CACHE_CONTROL)],
    tags=["api"],
)
