"""Process-wide libvips configuration, applied once by the app's lifespan.

libvips keeps these as global state, so they are set at start-up rather than
on import: importing a module must not change how the process decodes images.
"""

from __future__ import annotations

import pyvips

from delivery.images.formats import LOADERS

__all__ = ["configure_vips"]


def configure_vips(*, concurrency: int) -> None:
    """Block all loaders but the registry's (formats.LOADERS; SVG, PDF, TIFF, matrix, magick, … stay blocked), turn off the operation cache, set libvips' threads.

    The operation cache would keep recent source buffers alive (RSS grows with
    traffic, not with work in flight) and never hits here, as every master is a
    new buffer. `concurrency` is threads per libvips pipeline; the service
    already runs one pipeline per pool thread, so 1 avoids oversubscription.
    """
    pyvips.block_untrusted_set(True)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for loader in LOADERS.values():
        pyvips.operation_block_set(loader.vips_class, False)
    pyvips.cache_set_max(0)
    if concurrency > 0:
        pyvips.concurrency_set(concurrency)
