"""`promptpix`: run the service and operate a deployment from the shell."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Callable
from urllib.parse import quote, urlencode

from delivery.app import create_app, migrated_connection
from delivery.cli import STARTED, assets, console, credits, generate, keys, mcp, models, orgs, projects, reference, step, sweep, worker
from delivery.cli.workers import KEEPALIVE_SECONDS, serve_workers
from delivery.jobs import PERIODIC_QUEUE
from delivery.ops.bootstrap import Demo, ensure_demo
from delivery.ops.logs import configure_logging
from delivery.settings import Settings, SettingsError

__all__ = ["main"]


def example_urls(settings: Settings, demo: Demo) -> tuple[str, str, str]:
    """The first `/g/` URL, a `<picture>` of the same prompt at 16:9, 1:1 and 9:16, and the API docs."""
    base = settings.resolved_public_url
    prompt = "a red fox at dawn in a misty forest"

    def url(**params: object) -> str:
        # Spelled as the routes spell queries (%20 for spaces, reserved characters escaped): no redirect on first use.
        return f"{base}/g/{demo.project_slug}?" + urlencode({"prompt": prompt, **params, "key": demo.key_id}, quote_via=quote)

    first = url(w=800, ar="16:9", fit="crop", fm="webp")
    picture = "\n".join(
        [
            "  <picture>",
            f'    <source media="(orientation: portrait)" srcset="{url(w=450, h=800, fit="crop", fm="webp")}">',
            f'    <source media="(max-width: 600px)" srcset="{url(w=400, h=400, fit="crop", fm="webp")}">',
            f'    <img src="{first}" alt="">',
            "  </picture>",
        ]
    )
    return first, picture, f"{base}/schema"


def _picture_cost(settings: Settings) -> str:
    """What the banner's `<picture>` costs: the 16:9 root once, the 1:1 and 9:16 extensions of it once each."""
    if settings.generator_name == "offline":
        return "offline: free, extensions labelled OFFLINE EXTENSION"
    if settings.generator_name == "replicate":  # its models cannot extend: the other boxes are crops of the root
        return f"{settings.generation_price} credits with replicate, which crops instead of extending"
    return f"{settings.generation_price} + 2 × {settings.extension_price} credits with {settings.generator_name}"


async def _prepare(settings: Settings) -> tuple[Demo, str] | None:
    """Migrate; outside production, also make sure the demo tenancy exists and mint a console sign-in link for it."""
    async with migrated_connection(settings, step) as (conn, applied):
        if applied:
            print(f"applied migrations: {', '.join(applied)}")
        if settings.production:
            return None
        step("setting up the demo project")
        demo = await ensure_demo(conn)
        return demo, await console.console_link(conn, settings, demo.organization_id)


def _announce(settings: Settings, prepared: tuple[Demo, str] | None) -> None:
    step(f"ready in {time.monotonic() - STARTED:.1f} s")
    if prepared is None:
        print(f"promptpix is serving {settings.resolved_public_url} (production)", flush=True)
        return
    demo, console_link = prepared
    database = "external PostgreSQL" if settings.database_url else f"embedded PostgreSQL in {settings.data_path}"
    generated, picture, docs = example_urls(settings, demo)
    print(f"promptpix is serving {settings.resolved_public_url} ({settings.generator_name} generator, {database})")
    # Only what a person pastes: links carry the key id (`key=pk_…`), never the full key.
    print(f"key for links (key=): {demo.key_id}")
    print("\nOpen a generated image (the first request draws it, later ones are cached):\n")
    print(generated)
    print(
        "\nOne artwork at every size: a <picture> of the same prompt at 16:9, 1:1 and 9:16 (one generation,"
        f" two extensions of it, each made once; {_picture_cost(settings)}):\n"
    )
    print(picture)
    print(f"\nSign in to the web console (one-time link, {round(settings.console_link_seconds / 60)} minutes):\n")
    print(console_link)
    print()
    print(f"API docs:\n  {docs}\n", flush=True)


async def _serve(settings: Settings) -> None:
    import uvicorn

    demo = await _prepare(settings)
    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False, lifespan="on",
        timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout)), timeout_keep_alive=KEEPALIVE_SECONDS,
    )
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    # handlers it found; no-op handlers let the process exit normally, so the embedded
    # PostgreSQL is stopped by its exit hook instead of being orphaned.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    step(f"listening on {settings.host}:{settings.port}")
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.05)
    if server.started:
        _announce(settings, demo)
    await serving


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    workers = args.workers or settings.workers
    if workers > 1:

        def prepare(ready: Settings) -> Callable[[], None]:
            prepared = asyncio.run(_prepare(ready))
            return lambda: _announce(settings, prepared)

        return serve_workers(settings, workers, prepare=prepare)
    asyncio.run(_serve(settings))
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> list[str]:
        async with migrated_connection(settings) as (_, applied):
            return applied

    applied = asyncio.run(run())
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promptpix", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--workers", type=int, default=0, help="app processes on one port (default: PROMPTPIX_WORKERS, 1)")
    serve.set_defaults(run=cmd_serve)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)
    for module in (orgs, projects, keys, credits, models, generate, assets, sweep, console, mcp, reference, worker):
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (standalone := getattr(args, "run_without_settings", None)) is not None:
        return int(standalone(args))  # `settings` documents the variables: a bad one must not stop it
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"promptpix: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, routine_queues=[PERIODIC_QUEUE])
    return args.run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
