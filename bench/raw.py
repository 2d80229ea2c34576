"""The physical limit: the same 400x300 work done by a library in-process, one loop per process.

`pyvips` is the idiomatic `thumbnail_buffer` (shrink-on-load, centre crop);
`pillow` is draft-mode JPEG decode (DCT scaling to >= the box), LANCZOS
resize, centre crop. Both encode with the service's settings: JPEG q80
progressive with optimised Huffman tables, WebP q80 effort/method 2, AVIF
Q 55 4:2:0 with aom at effort 2 (Pillow's own AVIF, libavif + aom, at the same
aom speed 7 = 9 - effort, and one encoder thread, as the service runs one
transform per thread).
"""

from __future__ import annotations

import io
import multiprocessing
import time
from typing import Any

__all__ = ["measure"]

BOX = (400, 300)
AVIF_QUALITY = 55
AVIF_EFFORT = 2
"""The service's defaults (`delivery.images.formats.AVIF`, `PROMPTPIX_AVIF_EFFORT`)."""


def _pyvips(data: bytes, fmt: str) -> bytes:
    import pyvips

    image = pyvips.Image.thumbnail_buffer(data, BOX[0], height=BOX[1], crop="centre")
    if fmt == "jpg":
        return image.jpegsave_buffer(Q=80, interlace=True, optimize_coding=True, keep="none")
    if fmt == "avif":
        return image.heifsave_buffer(Q=AVIF_QUALITY, compression="av1", effort=AVIF_EFFORT, keep="none")
    return image.webpsave_buffer(Q=80, effort=2, keep="none")


def _pillow(data: bytes, fmt: str) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.draft("RGB", BOX)
    scale = max(BOX[0] / image.width, BOX[1] / image.height)
    size = (max(BOX[0], round(image.width * scale)), max(BOX[1], round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    left, top = (size[0] - BOX[0]) // 2, (size[1] - BOX[1]) // 2
    image = image.crop((left, top, left + BOX[0], top + BOX[1]))
    out = io.BytesIO()
    if fmt == "jpg":
        image.save(out, "JPEG", quality=80, progressive=True, optimize=True)
    elif fmt == "avif":
        image.save(out, "AVIF", quality=AVIF_QUALITY, speed=9 - AVIF_EFFORT, subsampling="4:2:0", max_threads=1)
    else:
        image.save(out, "WEBP", quality=80, method=2)
    return out.getvalue()


_WORK = {"pyvips": _pyvips, "pillow": _pillow}


def _loop(library: str, data: bytes, fmt: str, seconds: float, queue: Any, barrier: Any) -> None:
    work = _WORK[library]
    if library == "pyvips":
        import pyvips

        pyvips.cache_set_max(0)
    work(data, fmt)  # warm: first-call set-up is not part of the steady state
    barrier.wait()  # all processes measure the same window
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while (started := time.perf_counter()) < deadline:
        work(data, fmt)
        latencies.append(time.perf_counter() - started)
    queue.put(latencies)


def measure(library: str, data: bytes, fmt: str, *, processes: int, seconds: float) -> tuple[float, list[float]]:
    """(requests per second over all processes, every latency in seconds)."""
    context = multiprocessing.get_context("spawn")
    queue, barrier = context.Queue(), context.Barrier(processes)
    workers = [context.Process(target=_loop, args=(library, data, fmt, seconds, queue, barrier)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    for _ in workers:
        latencies.extend(queue.get())
    for worker in workers:
        worker.join()
    return len(latencies) / seconds, latencies
