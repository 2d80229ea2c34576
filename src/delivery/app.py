"""Wiring: routes, exception mapping and the lifespan that owns every pool and client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig

from delivery.db.migrate import migrate
from delivery.embedded import start_embedded_postgres
from delivery.errors import ServiceError
from delivery.logs import AccessLogMiddleware
from delivery.responses import NO_STORE, error_image, wants_image
from delivery.routes.generate import generate_image
from delivery.routes.images import serve_asset
from delivery.routes.ops import healthz, readyz
from delivery.services import Services
from delivery.settings import Settings
from delivery.storage import open_storage
from delivery.transform import configure_vips
from generation.providers.base import Provider

__all__ = ["app_from_env", "create_app", "make_provider"]

log = logging.getLogger("promptpix.app")
_IMAGE_PATHS = ("/i/", "/g/")


def make_provider(settings: Settings) -> Provider:
    if settings.generator_name == "offline":
        from generation.providers.offline import OfflineProvider

        return OfflineProvider()
    raise NotImplementedError("the gemini provider is not built yet")


async def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return await asyncio.to_thread(start_embedded_postgres, settings.data_path)


def _problem(request: Request, status: int, title: str, message: str, retry_after: int | None) -> Response[object]:
    headers = {"Cache-Control": NO_STORE}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if request.url.path.startswith(_IMAGE_PATHS) and wants_image(request):
        services: Services | None = getattr(request.app.state, "services", None)
        body = error_image(status, services.error_images if services else {})
        headers["X-Error"] = message[:200]
        return Response(body, status_code=status, media_type="image/png", headers=headers)
    problem = {"type": "about:blank", "title": title, "status": status, "detail": message}
    return Response(problem, status_code=status, media_type="application/problem+json", headers=headers)


def _service_error(request: Request, exc: ServiceError) -> Response[object]:
    if exc.report:
        log.error("service error", extra={"path": request.url.path, "status": exc.status, "error": exc.message, "detail": exc.detail})
    return _problem(request, exc.status, exc.title, exc.message, exc.retry_after)


def _http_error(request: Request, exc: HTTPException) -> Response[object]:
    title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
    return _problem(request, exc.status_code, title, exc.detail if exc.status_code < 500 else "internal error", None)


def _unexpected(request: Request, exc: Exception) -> Response[object]:
    log.exception("unhandled error", extra={"path": request.url.path})
    return _problem(request, 500, "Internal Server Error", "internal error", None)


def create_app(settings: Settings, *, provider: Provider | None = None) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        configure_vips(concurrency=settings.vips_concurrency)
        url = await database_url(settings)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=settings.db_pool_size)
        async with pool.acquire() as conn:
            applied = await migrate(conn)
        if applied:
            log.info("migrations applied", extra={"versions": applied})
        storage = open_storage(settings)
        executor = ThreadPoolExecutor(settings.thread_count, thread_name_prefix="transform")
        app.state.services = Services(
            settings=settings, pool=pool, storage=storage, provider=provider or make_provider(settings), executor=executor
        )
        try:
            yield
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            await storage.close()
            await pool.close()

    return Litestar(
        route_handlers=[serve_asset, generate_image, healthz, readyz],
        lifespan=[lifespan],
        exception_handlers={ServiceError: _service_error, HTTPException: _http_error, Exception: _unexpected},
        middleware=[DefineMiddleware(AccessLogMiddleware)] if settings.log_requests else [],
        openapi_config=OpenAPIConfig(title="promptpix", version="0.1.0", path="/schema"),
        logging_config=None,
        debug=False,
    )


def app_from_env() -> Litestar:
    """Factory for ASGI servers that import the app themselves (`--factory delivery.app:app_from_env`)."""
    from delivery.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)
