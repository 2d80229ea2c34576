"""8-bit JPEG decode with DCT scaling, through libjpeg-turbo's TurboJPEG API (simplejpeg).

JPEG decode is most of a cold transform's CPU (a 4000x3000 master to 400x300:
~30 of ~37 ms). Measured on the bench masters, interleaved, same scale and
identical pixels (tested): simplejpeg 26.9 ms / 9.1 ms against Pillow's draft
decode 30.6 ms / 10.9 ms and libvips' shrink-on-load 25–26 / 8.4 ms… for
4000x3000 / 2048x1536 (docs/delivery.md, "Why these codecs"). All three run
the same libjpeg-turbo; the difference is around it: TurboJPEG decodes from
the buffer in one pass, where Pillow feeds libjpeg 64 KB at a time through a
suspending source. TurboJPEG also offers every M/8 scale (3/8, 5/8, …), not
just 1/2, 1/4 and 1/8, so a master is decoded nearer the planned size.

Anything TurboJPEG refuses (truncated or corrupt data, a layout it does not
take) goes back to the libvips path, which serves it or answers 422.
"""

from __future__ import annotations

import io

import pyvips
import simplejpeg
from PIL import Image

from delivery.errors import Unprocessable
from delivery.transform.pillow_codecs import PILLOW_ERRORS

__all__ = ["decode_jpeg"]

_DECODED = {"RGB": ("RGB", "srgb"), "L": ("GRAY", "b-w")}
"""Pillow mode -> (TurboJPEG colour space, libvips interpretation); CMYK and its profiles stay with libvips."""


def decode_jpeg(data: bytes, size: tuple[int, int], orientation: int) -> pyvips.Image | None:
    """Decode at the smallest DCT scale that still leaves ≥ `size` (as displayed), oriented, profile attached.

    None when the libvips path should decode instead: CMYK, or data TurboJPEG refuses.
    """
    width, height = (size[1], size[0]) if orientation in (5, 6, 7, 8) else size
    try:
        header = Image.open(io.BytesIO(data), formats=["JPEG"])  # mode and ICC profile; reads no pixels
    except PILLOW_ERRORS as exc:
        raise Unprocessable.unreadable_source(exc) from exc
    if header.mode not in _DECODED:
        return None
    colourspace, interpretation = _DECODED[header.mode]
    try:
        pixels = simplejpeg.decode_jpeg(data, colourspace, min_width=width, min_height=height)
    except ValueError:
        return None
    rows, columns, bands = pixels.shape
    image = pyvips.Image.new_from_memory(pixels, columns, rows, bands, "uchar").copy(interpretation=interpretation)
    if profile := header.info.get("icc_profile"):
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", profile)
    if orientation != 1:
        image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
        image = image.autorot()
    return image
