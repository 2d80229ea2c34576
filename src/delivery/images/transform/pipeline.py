"""Run the steps, then encode; timed per phase for `Server-Timing`.

Runs in a worker thread (pyvips releases the GIL), under a deadline
(`deadline`). Decoding is lazy in libvips, so the transformed image is
materialised into one buffer before encoding (the encoder, Pillow or
libvips, reads it without a copy): that makes the `transform` and `encode`
timings mean what they say.
"""

from __future__ import annotations

import time

import msgspec
import pyvips

from delivery.errors import SourceUnreadable, UnencodableOutput
from delivery.images.formats import by_name
from delivery.images.params import TransformParams
from delivery.images.transform.deadline import Deadline
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


def _output_limit(fmt: str, limits: Limits) -> int:
    """The most pixels an output in `fmt` is made at: the service's cap, or the format's own when lower."""
    cap = by_name(fmt).max_pixels
    return min(limits.max_output_pixels, cap) if cap is not None else limits.max_output_pixels


def transform(
    data: bytes, source: Source, params: TransformParams, focal: FocalPoint, limits: Limits, fmt: str | None = None
) -> Encoded:
    """Transform `data` (already checked by `inspect_source`); `focal` is the asset's stored point.

    The output size is planned from the header before anything is decoded, so
    an output no encoder can write is refused in microseconds; the rest runs
    under `limits.deadline` (`Deadline`).
    """
    fmt = fmt or params.fm or source.default_format
    output = by_name(fmt)
    planned = plan(params, source, focal_point(params, focal), max_pixels=_output_limit(fmt, limits), max_upscale=limits.max_upscale)
    width, height = planned.output
    if output.max_side is not None and max(width, height) > output.max_side:  # an extreme aspect: the pixel caps cannot shrink it enough
        raise UnencodableOutput(f"a {width}x{height} image cannot be encoded as {fmt}", detail=f"{output.label} takes at most {output.max_side} px a side")
    deadline = Deadline(limits.deadline)
    ctx = Context(data=data, source=source, params=params, plan=planned, format=fmt, deadline=deadline)
    started = time.perf_counter()
    try:
        image: pyvips.Image | None = None
        for step in STEPS:
            image = step(ctx, image)
        assert image is not None
        pixels = materialise(image, deadline.watch)
    except pyvips.Error as exc:
        if deadline.passed:
            raise deadline.error() from exc
        raise SourceUnreadable(detail=str(exc)) from exc
    deadline.check()
    transformed = time.perf_counter()
    try:
        compress = "compress" in (params.auto or "")
        body = encode(pixels, fmt, params.q, compress=compress, lossless=params.lossless, watch=deadline.watch)
    except (pyvips.Error, OSError, ValueError) as exc:  # any other limit of the codec
        if deadline.passed:
            raise deadline.error() from exc
        raise UnencodableOutput(f"a {pixels.width}x{pixels.height} image cannot be encoded as {fmt}", detail=str(exc)) from exc
    done = time.perf_counter()
    return Encoded(
        data=body,
        mime=output.mime,
        format=fmt,
        width=pixels.width,
        height=pixels.height,
        timings={"transform": transformed - started, "encode": done - transformed},
    )
