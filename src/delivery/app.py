"""Wiring: routes, the exception handler table and the lifespan that owns every pool and client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.types import Message, Scope

from delivery.access.signing import Keyring, load_master_secret
from delivery.access.usage import flushing
from delivery.assets.edge import EdgePurger
from delivery.assets.invalidation import Invalidator
from delivery.console import TEMPLATES, console_router, schema_page, static_router
from delivery.db.assets import ensure_search_index
from delivery.db.connection import PooledConnection
from delivery.db.migrate import migrate
from delivery.errors import DatabaseUnavailable, ServiceError, problem_details, public_error
from delivery.http.api import api_router
from delivery.http.cloudflare import serve_cloudflare
from delivery.http.generate import generate_image
from delivery.http.hygiene import HygieneMiddleware
from delivery.http.images import serve_asset, serve_named_asset
from delivery.http.mcp import McpEndpoint
from delivery.http.openapi import COMPONENTS as API_COMPONENTS
from delivery.http.ops import healthz, metrics, readyz
from delivery.http.responses import NO_STORE, error_image, header_text, wants_image
from delivery.images.formats import PNG, configure_encoders
from delivery.images.transform import configure_vips
from delivery.images.transform.pillow_codecs import configure_pillow
from delivery.jobs import build_queue, run_worker
from delivery.ops.embedded import start_embedded_postgres
from delivery.ops.logs import AccessLogMiddleware
from delivery.ops.metrics import MetricsMiddleware
from delivery.services import Services
from delivery.settings import Settings
from delivery.storage import Storage, open_storage
from generation import (
    Embedder,
    GeminiPrices,
    GeminiSettings,
    GenerationError,
    Moderator,
    OfflineEmbedder,
    OfflineProvider,
    Provider,
    ReplicateSettings,
    gemini_embedder,
    gemini_moderator,
    gemini_provider,
    replicate_provider,
    with_offline_delay,
)

__all__ = ["app_from_env", "create_app", "make_embedder", "make_moderator", "make_other_providers", "make_provider", "migrated_connection", "open_services"]

log = logging.getLogger("promptpix.app")
_IMAGE_PATHS = ("/i/", "/g/", "/cdn-cgi/image/")
_FORM_OVERHEAD = 1 << 20
"""Room for multipart boundaries and fields around an upload of the largest allowed image."""


def make_provider(settings: Settings, name: str | None = None) -> Provider:
    """The provider called `name` (default: the deployment's generator), built from its settings."""
    name = name or settings.generator_name
    if name == "offline":
        return OfflineProvider()
    if name == "replicate":
        assert settings.replicate_api_token  # Settings.validate refuses replicate without a token
        return replicate_provider(
            ReplicateSettings(
                api_token=settings.replicate_api_token,
                base_url=settings.replicate_base_url,
                model=settings.replicate_model,
                price_per_image=settings.replicate_price_per_image,
                price_per_second=settings.replicate_price_per_second,
                max_output_bytes=settings.replicate_max_output_bytes,
                download_timeout=settings.replicate_download_timeout,
                poll_interval=settings.replicate_poll_interval,
            )
        )
    assert settings.gemini_api_key  # Settings.validate refuses gemini without a key
    prices = GeminiPrices(
        per_image=settings.gemini_price_per_image,
        per_million_input_tokens=settings.gemini_price_per_million_input_tokens,
        per_million_output_tokens=settings.gemini_price_per_million_output_tokens,
    )
    return gemini_provider(
        GeminiSettings(
            api_key=settings.gemini_api_key,
            base_url=settings.gemini_base_url,
            image_model=settings.gemini_image_model,
            text_model=settings.gemini_text_model,
            prices=prices,
        )
    )


def make_other_providers(settings: Settings, default: str) -> dict[str, Provider]:
    """Providers besides the default that catalogue models may name: each one whose credentials are set;
    offline too outside production (in production it serves only when it is the generator, by name)."""
    names = [
        name
        for name, configured in (
            ("gemini", bool(settings.gemini_api_key)),
            ("replicate", bool(settings.replicate_api_token)),
            ("offline", not settings.production),
        )
        if configured and name != default
    ]
    return {name: make_provider(settings, name) for name in names}


def make_embedder(settings: Settings) -> Embedder | None:
    """Semantic search's embedder (`PROMPTPIX_EMBEDDINGS`), or None when it is off."""
    name = settings.embeddings_name
    if name == "off":
        return None
    if name == "offline":
        return OfflineEmbedder()
    assert settings.gemini_api_key  # Settings.validate refuses gemini embeddings without a key
    return gemini_embedder(
        api_key=settings.gemini_api_key, base_url=settings.gemini_base_url, model=settings.embedding_model, timeout=settings.embedding_timeout
    )


def make_moderator(settings: Settings) -> Moderator | None:
    if settings.moderation == "off":
        return None
    assert settings.gemini_api_key  # Settings.validate refuses gemini moderation without a key
    return gemini_moderator(
        api_key=settings.gemini_api_key,
        base_url=settings.gemini_base_url,
        model=settings.moderation_model,
        timeout=settings.moderation_timeout,
    )


async def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return await asyncio.to_thread(start_embedded_postgres, settings.data_path)


@asynccontextmanager
async def migrated_connection(
    settings: Settings, progress: Callable[[str], None] | None = None
) -> AsyncIterator[tuple[asyncpg.Connection, list[str]]]:
    """One connection to an up-to-date database, for commands run outside the app; with the versions applied.
    `progress` is told of each step (starting or connecting, migrating) before it runs."""
    say = progress or (lambda _: None)
    if settings.database_url:
        say("connecting to PostgreSQL")
    else:
        say(f"starting the embedded PostgreSQL in {settings.data_path / 'postgres'}")
    conn = await asyncpg.connect(await database_url(settings))
    try:
        say("migrating the database")
        yield conn, await migrate(conn)
    finally:
        await conn.close()


def _problem(request: Request, status: int, title: str, message: str, retry_after: int | None) -> Response[object]:
    headers = {"Cache-Control": NO_STORE}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if request.url.path.startswith(_IMAGE_PATHS) and wants_image(request):
        services: Services | None = getattr(request.app.state, "services", None)
        body = error_image(status, services.error_images if services else {})
        headers["X-Error"] = header_text(message)[:200]
        return Response(body, status_code=status, media_type=PNG.mime, headers=headers)
    return Response(problem_details(status, title, message), status_code=status, media_type="application/problem+json", headers=headers)


def _service_error(request: Request, exc: ServiceError | GenerationError) -> Response[object]:
    """Ours by the status and message the error carries; the generation package's by class (delivery.errors.public_error)."""
    public = public_error(exc)
    if public.report:
        fields = {"status": public.status, "kind": type(exc).__name__, "error": public.message, "detail": public.detail}
        log.error("service error", extra={"path": request.url.path, **fields})
    return _problem(request, public.status, public.title, public.message, public.retry_after)


def _http_error(request: Request, exc: HTTPException) -> Response[object]:
    title = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
    detail = exc.detail if exc.status_code < 500 else "internal error"
    if exc.status_code == 400 and isinstance(exc.extra, list):  # Litestar's validation: say which field and why
        reasons = "; ".join(
            (f"`{e['key']}`: " if e.get("key") else "") + str(e.get("message", "")) for e in exc.extra if isinstance(e, dict)
        )
        detail = f"{detail}: {reasons}" if reasons else detail
    return _problem(request, exc.status_code, title, detail, None)


def _unexpected(request: Request, exc: Exception) -> Response[object]:
    log.exception("unhandled error", extra={"path": request.url.path})
    return _problem(request, 500, "Internal Server Error", "internal error", None)


def _database_down(request: Request, exc: Exception) -> Response[object]:
    return _service_error(request, DatabaseUnavailable(detail=f"{type(exc).__name__}: {exc}"))


_DATABASE_DOWN = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.exceptions.OperatorInterventionError)
"""A lost connection, or the server shutting down or refusing new ones: a 503 to retry, not a 500.

A refused TCP connection is an OSError, and so is every file or socket error
elsewhere: the pool's `connect` (below) turns only its own into
`DatabaseUnavailable`, so any other OSError stays a 500 with its traceback logged.
"""
_DATABASE_BUGS = (asyncpg.exceptions.DataError, asyncpg.exceptions.ClientConfigurationError)
"""InterfaceErrors that are our mistakes (a bad query argument, a bad setting), not an outage: 500s."""


async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """asyncpg's connect for the pool, where an OSError can only mean the database cannot be reached."""
    try:
        return await asyncpg.connect(*args, **kwargs)
    except OSError as exc:  # refused, unreachable, reset while connecting, timed out (TimeoutError is an OSError)
        raise DatabaseUnavailable(detail=f"connecting: {type(exc).__name__}: {exc}") from exc


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    provider: Provider | None = None,
    storage: Storage | None = None,
    moderator: Moderator | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> AsyncIterator[Services]:
    """Pools and clients for one process (the app's lifespan, or a CLI command).

    A provider, storage, moderator or set of other providers passed in stays the caller's to close.
    """
    configure_vips(concurrency=settings.vips_concurrency)  # process-global: loader allow-list, threads
    configure_pillow(max_source_pixels=settings.max_source_pixels)
    configure_encoders(avif_effort=settings.avif_effort)
    url = await database_url(settings)
    pool = await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=settings.db_pool_size,
        connection_class=PooledConnection,
        connect=_connect,
    )
    try:
        async with pool.acquire() as conn:
            applied = await migrate(conn)
            await ensure_search_index(conn, language=settings.search_language)
        if applied:
            log.info("migrations applied", extra={"versions": applied})
        store = storage or await open_storage(settings)
        active_provider = provider or make_provider(settings)
        active_moderator = moderator or make_moderator(settings)
        others = dict(providers) if providers is not None else make_other_providers(settings, active_provider.name)
        executor = ThreadPoolExecutor(settings.thread_count, thread_name_prefix="transform")
        embedder = make_embedder(settings)
        services = Services(
            settings=settings,
            pool=pool,
            storage=store,
            provider=with_offline_delay(active_provider, settings.offline_delay),
            executor=executor,
            moderator=active_moderator,
            providers=others,
            database_url=url,
            embedder=embedder,
        )
        try:
            yield services
        finally:
            await services.embeddings.close()
            if embedder is not None:
                await embedder.aclose()
            executor.shutdown(wait=True, cancel_futures=True)
            if provider is None:
                await active_provider.aclose()
            if moderator is None and active_moderator is not None:
                await active_moderator.aclose()
            if providers is None:
                for other in others.values():
                    await other.aclose()
            if storage is None:
                await store.close()
            services.metrics.close()
    finally:
        await pool.close()  # closing the connections releases any generation claim still held


@asynccontextmanager
async def queue_worker(services: Services, keyring: Keyring) -> AsyncIterator[None]:
    """A queue worker in this process (PROMPTPIX_SERVE_WORKER): jobs, webhook deliveries, the periodic sweep."""
    if not services.settings.runs_serve_worker:
        yield
        return
    queue = build_queue(services.settings, services.database_url)
    async with queue.open_async():
        task = asyncio.create_task(run_worker(queue, services, keyring, install_signal_handlers=False, name="serve"))
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


_FIRST_LISTEN = 5.0
"""Seconds startup waits for the change listener's first connection."""


@asynccontextmanager
async def change_listener(services: Services) -> AsyncIterator[Invalidator]:
    """Drop cached entries of assets changed by any process sharing the database (delivery.assets.invalidation),
    and purge them at the edge (delivery.assets.edge)."""
    invalidator = Invalidator(services, services.database_url)
    purger = EdgePurger(services.settings, services.served_urls, is_leader=lambda: invalidator.leader)
    invalidator.add_listener(lambda change: purger.changed(change.asset))
    services.edge = purger
    purger.start()
    if services.settings.change_listener:  # off: caches rely on their TTLs alone
        invalidator.start()
        # Its first connect empties every cache (what was sent before it is unheard): waiting for it here keeps
        # that from dropping what the first requests cached. A database that is slow to answer only delays it.
        with suppress(TimeoutError):
            await asyncio.wait_for(invalidator.connected.wait(), timeout=_FIRST_LISTEN)
    try:
        yield invalidator
    finally:
        await invalidator.stop()
        await purger.stop()


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


async def forget_own_writes(message: Message, scope: Scope) -> None:
    """A change made through this process (API, console, MCP) empties its lookup caches before it answers, so
    its caller's next request here sees it at once; other processes hear of it by notification."""
    if message["type"] == "http.response.start" and scope.get("method") not in _READS and message["status"] < 400:
        scope["litestar_app"].state.services.lookups.clear()


def create_app(
    settings: Settings,
    *,
    provider: Provider | None = None,
    storage: Storage | None = None,
    moderator: Moderator | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> Litestar:
    settings.validate()  # settings built in code get the same refusal of unsafe values as the env
    keyring = Keyring(load_master_secret(settings))
    mcp = McpEndpoint()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with (
            open_services(settings, provider=provider, storage=storage, moderator=moderator, providers=providers) as services,
            queue_worker(services, keyring),
            change_listener(services) as invalidator,
            flushing(services.key_use, services.pool, settings.key_use_flush),
            mcp.manager.run(),
        ):
            app.state.invalidator = invalidator
            app.state.keyring = keyring
            app.state.services = services
            yield

    return Litestar(
        route_handlers=[
            serve_asset, serve_named_asset, generate_image, serve_cloudflare, healthz, readyz, metrics, api_router, mcp.handler(), console_router, static_router
        ],
        lifespan=[lifespan],
        before_send=[forget_own_writes],
        exception_handlers={
            # Litestar picks the handler of the nearest class in the exception's MRO.
            ServiceError: _service_error,
            GenerationError: _service_error,
            HTTPException: _http_error,
            **{exc: _database_down for exc in _DATABASE_DOWN},
            **{exc: _unexpected for exc in _DATABASE_BUGS},
            Exception: _unexpected,
        },
        middleware=[
            DefineMiddleware(MetricsMiddleware),
            DefineMiddleware(HygieneMiddleware, max_json_depth=settings.max_json_depth, max_body_bytes=settings.max_source_bytes + _FORM_OVERHEAD),
        ]
        + ([DefineMiddleware(AccessLogMiddleware)] if settings.log_requests else []),
        openapi_config=OpenAPIConfig(
            title="promptpix", version="0.1.0", path="/schema", components=API_COMPONENTS, render_plugins=[schema_page]
        ),
        template_config=TEMPLATES,
        request_max_body_size=settings.max_source_bytes + _FORM_OVERHEAD,  # uploads: the delivery limit decides
        logging_config=None,
        debug=False,
    )


def app_from_env() -> Litestar:
    """Factory for ASGI servers that import the app themselves (`--factory delivery.app:app_from_env`)."""
    from delivery.jobs import PERIODIC_QUEUE
    from delivery.ops.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level, routine_queues=[PERIODIC_QUEUE])
    return create_app(settings)
