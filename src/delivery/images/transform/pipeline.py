"""Run the steps, then encode; timed per phase for `Server-Timing`.

Runs in a worker thread (pyvips releases the GIL). Decoding is lazy in
libvips, so the transformed image is materialised into one buffer before
encoding (the encoder, Pillow or libvips, reads it without a copy): that
makes the `transform` and `encode` timings mean what they say.
"""

from __future__ import annotations

import time

import msgspec
import pyvips

from delivery.errors import SourceUnreadable, UnencodableOutput
from delivery.images.formats import by_name
from delivery.images.params import TransformParams
from delivery.images.transform.encode import encode
from delivery.images.transform.geometry import focal_point, plan
from delivery.images.transform.limits import Limits, Source
from delivery.images.transform.pillow_codecs import materialise
from delivery.images.transform.steps import STEPS, Context
from generation import FocalPoint

__all__ = ["Encoded", "transform"]


class Encoded(msgspec.Struct, frozen=True):
    data: bytes
    mime: str
    format: str
    width: int
    height: int
    timings: dict[str, float]


def transform(
    data: bytes, source: Source, params: TransformParams, focal: FocalPoint, limits: Limits, fmt: str | None = None
) -> Encoded:
    """Transform `data` (already checked by `inspect_source`); `focal` is the asset's stored point."""
    fmt = fmt or params.fm or source.default_format
    planned = plan(params, source, focal_point(params, focal), max_pixels=limits.max_output_pixels)
    ctx = Context(data=data, source=source, params=params, plan=planned, format=fmt)
    started = time.perf_counter()
    try:
        image: pyvips.Image | None = None
        for step in STEPS:
            image = step(ctx, image)
        assert image is not None
        pixels = materialise(image)
    except pyvips.Error as exc:
        raise SourceUnreadable(detail=str(exc)) from exc
    transformed = time.perf_counter()
    output = by_name(fmt)
    refused = f"a {pixels.width}x{pixels.height} image cannot be encoded as {fmt}"
    if output.max_side is not None and max(pixels.width, pixels.height) > output.max_side:  # reachable with `dpr`
        raise UnencodableOutput(refused, detail=f"{output.label} takes at most {output.max_side} px a side")
    try:
        compress = "compress" in (params.auto or "")
        body = encode(pixels, fmt, params.q, compress=compress, lossless=params.lossless)
    except (pyvips.Error, OSError, ValueError) as exc:  # any other limit of the codec
        raise UnencodableOutput(refused, detail=str(exc)) from exc
    done = time.perf_counter()
    return Encoded(
        data=body,
        mime=output.mime,
        format=fmt,
        width=pixels.width,
        height=pixels.height,
        timings={"transform": transformed - started, "encode": done - transformed},
    )
