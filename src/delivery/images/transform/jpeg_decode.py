"""8-bit JPEG decode with DCT scaling, through libjpeg-turbo's TurboJPEG API (simplejpeg).

JPEG decode is most of a cold transform's CPU (a 4000x3000 master to
400x300: ~22 of ~33 ms). On the bench masters, at the same scale and with
identical pixels (tested), TurboJPEG took 22.2–25.5 / 6.7–8.5 ms for
4000x3000 / 2048x1536, Pillow's draft decode 24.7–28.4 / 8.1–9.4 ms and
libvips' shrink-on-load 33.4 / 11.9 ms (docs/delivery.md, "Why these
codecs"). All three run libjpeg-turbo; the difference is around it:
TurboJPEG decodes from the buffer in one pass, where Pillow feeds libjpeg
64 KB at a time through a suspending source. TurboJPEG also offers every
M/8 scale (3/8, 5/8, …), not just 1/2, 1/4 and 1/8, so a master is decoded
nearer the planned size.

Anything TurboJPEG refuses (truncated or corrupt data, a layout it does not
take) goes back to the libvips path, which serves it or answers 422.
"""

from __future__ import annotations

import pyvips
import simplejpeg

from delivery.images.transform.pillow_codecs import JpegHeader

__all__ = ["decode_jpeg"]

_DECODED = {"RGB": ("RGB", "srgb"), "L": ("GRAY", "b-w")}
"""Pillow mode -> (TurboJPEG colour space, libvips interpretation); CMYK and its profiles stay with libvips."""


def decode_jpeg(data: bytes, size: tuple[int, int], header: JpegHeader) -> pyvips.Image | None:
    """Decode at the smallest DCT scale that still leaves ≥ `size` (as displayed), oriented, profile attached.

    `header` is the source check's (`Source.jpeg`). None when the libvips
    path should decode instead: CMYK, or data TurboJPEG refuses.
    """
    if header.mode not in _DECODED:
        return None
    width, height = (size[1], size[0]) if header.orientation in (5, 6, 7, 8) else size
    colourspace, interpretation = _DECODED[header.mode]
    try:
        pixels = simplejpeg.decode_jpeg(data, colourspace, min_width=width, min_height=height)
    except ValueError:
        return None
    rows, columns, bands = pixels.shape
    image = pyvips.Image.new_from_memory(pixels, columns, rows, bands, "uchar").copy(interpretation=interpretation)
    if header.icc_profile:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", header.icc_profile)
    if header.orientation != 1:
        image.set_type(pyvips.GValue.gint_type, "orientation", header.orientation)
        image = image.autorot()
    return image
