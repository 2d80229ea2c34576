"""Process-wide libvips configuration, applied once by the app's lifespan.

libvips keeps these as global state, so they are set at start-up rather than
on import: importing a module must not change how the process decodes images.
"""

from __future__ import annotations

import pyvips

__all__ = ["ALLOWED_LOADERS", "configure_vips"]

ALLOWED_LOADERS = ("VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadWebp", "VipsForeignLoadNsgif", "VipsForeignLoadHeif")
"""Loader classes left open; every other loader (SVG, PDF, TIFF, matrix, magick, …) is blocked."""


def configure_vips(*, concurrency: int) -> None:
    """Block all loaders but the allow-list, turn off the operation cache, set libvips' threads.

    The operation cache would keep recent source buffers alive (RSS grows with
    traffic, not with work in flight) and never hits here, as every master is a
    new buffer. `concurrency` is threads per libvips pipeline; the service
    already runs one pipeline per pool thread, so 1 avoids oversubscription.
    """
    pyvips.block_untrusted_set(True)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for name in ALLOWED_LOADERS:
        pyvips.operation_block_set(name, False)
    pyvips.cache_set_max(0)
    if concurrency > 0:
        pyvips.concurrency_set(concurrency)
