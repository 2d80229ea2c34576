"""`promptpix worker`: run queue jobs (generations, webhook deliveries, periodic repair) until stopped.

Run any number, on any machines, against the one PostgreSQL the web processes
use (docs/deploy.md): they share the queue, and a job whose worker dies is
queued again for another once its heartbeat stops. SIGTERM or SIGINT stops
taking jobs and lets running ones finish for up to PROMPTPIX_SHUTDOWN_TIMEOUT.
"""

from __future__ import annotations

import argparse
import asyncio
import socket

import msgspec

from delivery.access.signing import Keyring, load_master_secret
from delivery.app import open_services
from delivery.cli import step
from delivery.jobs import build_queue, run_worker
from delivery.settings import Settings

__all__ = ["register"]


async def _work(settings: Settings, name: str) -> None:
    keyring = Keyring(load_master_secret(settings))
    async with open_services(settings) as services:  # migrates, like `serve`
        queue = build_queue(settings, services.database_url)
        async with queue.open_async():
            step(f"worker {name} running {settings.worker_concurrency} jobs at a time")
            await run_worker(queue, services, keyring, install_signal_handlers=True, name=name)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    if args.concurrency:
        settings = msgspec.structs.replace(settings, worker_concurrency=args.concurrency)
        settings.validate()
    asyncio.run(_work(settings, args.name or f"{socket.gethostname()}"))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("worker", help="run queue jobs: generations, webhook deliveries, periodic repair")
    parser.add_argument("--concurrency", type=int, default=0, help="jobs at once (default: PROMPTPIX_WORKER_CONCURRENCY)")
    parser.add_argument("--name", help="worker name in the queue's records (default: the host name)")
    parser.set_defaults(run=cmd_worker)
