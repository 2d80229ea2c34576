"""`promptpix`: the command line, one module per subcommand group."""

import time

STARTED = time.monotonic()
"""When the command started, before the heavy imports of its subcommands: `serve` reports its time to ready from here."""


def step(message: str) -> None:
    """One line of start-up progress, on stdout beside the URLs, so a slow first start never looks hung."""
    print(f"==> {message}", flush=True)
