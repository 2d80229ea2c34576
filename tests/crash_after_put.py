"""Run one `/g/` request in this process and die (SIGKILL) right after the master's PUT.

Used by tests/integration/test_repair.py as `python -m tests.crash_after_put`:
a real crash between PUT and INSERT, no exception handler or finally block runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from litestar.testing import AsyncTestClient

from delivery.app import create_app
from delivery.settings import Settings
from delivery.storage.fs import FileStorage
from tests.fakes import FaultyStorage, PricedProvider


async def main(url: str) -> int:
    settings = Settings.from_env()
    storage = FaultyStorage(FileStorage(settings.resolved_storage_url.removeprefix("file://")))

    async def die(key: str) -> None:
        print(f"stored {key}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    storage.after_put = die
    async with AsyncTestClient(app=create_app(settings, provider=PricedProvider(), storage=storage)) as client:
        response = await client.get(url)
    print(f"survived with {response.status_code}", flush=True)
    return 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
