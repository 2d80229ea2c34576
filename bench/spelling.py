"""What the one-spelling rule costs: a 301 for another spelling vs the cache hit it leads to.

The ASGI app is called directly (no HTTP server, no network), as in
bench/hotpath.py: a client that writes another spelling pays one extra
request of the redirect's cost (plus a round trip) the first time, and every
later request of the canonical URL is an ordinary hit. Run:

    .venv/bin/python -m bench.spelling
"""

from __future__ import annotations

import asyncio
import logging

from litestar.testing import AsyncTestClient

from bench.hotpath import time_requests
from bench.seed import make_masters, register
from bench.transform import WORK
from delivery.app import create_app
from delivery.ops.embedded import start_embedded_postgres
from delivery.settings import Settings

CASES = {
    "canonical spelling, variant-cache hit (200)": "w=400&h=300&fit=crop&fm=webp",
    "ignored ixlib param (301)": "w=400&h=300&fit=crop&fm=webp&ixlib=python-4.0.0",
    "stray && and a trailing & (301)": "w=400&&h=300&fit=crop&fm=webp&",
    "a percent-encoded name, %77 for w (301)": "%77=400&h=300&fit=crop&fm=webp",
}


async def measure(settings: Settings, path: str, requests: int) -> dict[str, tuple[float, int]]:
    """Label -> (microseconds per request, status)."""
    app = create_app(Settings(**{**{f: getattr(settings, f) for f in settings.__struct_fields__}, "log_requests": False}))
    results: dict[str, tuple[float, int]] = {}
    async with AsyncTestClient(app=app) as client:
        for label, query in CASES.items():
            for _ in range(2):  # warm the variant cache and the parse memo
                await client.get(f"{path}?{query}")
            best, answered = float("inf"), set()
            for _ in range(3):  # best of three: the machine is shared
                micros, statuses = await time_requests(app, path, query, requests)
                best, answered = min(best, micros), answered | statuses
            assert len(answered) == 1, answered
            results[label] = (best, answered.pop())
    return results


def main() -> None:
    logging.disable(logging.CRITICAL)
    WORK.mkdir(parents=True, exist_ok=True)
    masters = make_masters(WORK / "masters")
    data = WORK / "data"
    database_url = start_embedded_postgres(data)
    ids = asyncio.run(register(database_url, data / "objects", masters))
    settings = Settings(database_url=database_url, data_dir=str(data), storage_url=f"file://{data / 'objects'}")
    results = asyncio.run(measure(settings, f"/i/{ids['1024x1024']}", 5000))
    print("| request | status | µs/request (in process) |\n|---|---|---|")
    for label, (micros, status) in results.items():
        print(f"| {label} | {status} | {micros:.0f} |")


if __name__ == "__main__":
    main()
