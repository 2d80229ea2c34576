"""Offline image analysis: libvips saliency for the focal point, a histogram for colours.

Used by the offline provider, and as the fallback when a model's analysis is
missing or invalid, so it must work on any image the pipeline can decode.
"""

from __future__ import annotations

from array import array

import msgspec
import pyvips

from generation.enhance import prompt_words
from generation.models import Analysis, FocalPoint

__all__ = ["analyze_offline", "dominant_colors", "focal_point", "in_a_corner", "thumbnail", "with_flat_centred"]

_PROBE = 256  # analysis runs on a thumbnail: saliency does not need more pixels


_FLAT = 1.0
"""Standard deviation (0-255 levels) under which an image has nothing to attend to."""


def focal_point(image: pyvips.Image) -> FocalPoint:
    """Centre of the most interesting region by libvips' attention measure; the centre of a featureless image.

    On a flat image every window scores the same and libvips reports the first,
    the top-left corner: crops would all cut towards it.
    """
    if _flat(image):
        return FocalPoint.center()
    window = max(1, min(image.width, image.height) // 3)
    _, found = image.smartcrop(
        window, window, interesting="attention", attention_x=True, attention_y=True
    )
    return FocalPoint.from_pixels(found["attention_x"], found["attention_y"], image.width, image.height)


def _flat(image: pyvips.Image) -> bool:
    stats = image.stats()  # row 0 is all bands together, then one row per band; column 5 is the standard deviation
    return bool(max(stats(5, band + 1)[0] for band in range(image.bands)) < _FLAT)


def in_a_corner(point: FocalPoint) -> bool:
    return point.x in (0.0, 1.0) and point.y in (0.0, 1.0)


def with_flat_centred(analysis: Analysis, data: bytes) -> Analysis:
    """A model's analysis, its focal point moved to the centre when it names a corner of a featureless image.

    Vision models answer (0, 0) when there is no subject to point at, which
    would pull every crop to the top-left; the offline rule (`focal_point`)
    gives such an image its centre, and so does this. Only a corner answer
    costs a decode.
    """
    if not in_a_corner(analysis.focal_point):
        return analysis
    try:
        flat = _flat(thumbnail(data))
    except pyvips.Error:  # not ours to refuse here: the caller decides what an undecodable image means
        return analysis
    if not flat:
        return analysis
    return msgspec.structs.replace(analysis, focal_point=FocalPoint.center())


def dominant_colors(image: pyvips.Image, count: int = 3) -> tuple[str, ...]:
    """Most populated cells of a 4x4x4 RGB histogram, as cell-centre `rrggbb`."""
    bins = 4
    counts = array("I")
    counts.frombytes(image.hist_find_ndim(bins=bins).cast("uint").write_to_memory())
    # Layout: x = red bin, y = green bin, band = blue bin.
    cells = sorted(
        ((n, i % bins, (i // bins) // bins, (i // bins) % bins) for i, n in enumerate(counts)),
        reverse=True,
    )
    step = 256 // bins
    return tuple(
        "".join(f"{c * step + step // 2:02x}" for c in (r, g, b))
        for n, b, g, r in cells[:count]
        if n > 0
    )


def thumbnail(data: bytes, size: int = _PROBE) -> pyvips.Image:
    """Flat sRGB, three bands, at most `size` a side, in memory: what every analysis reads."""
    image = pyvips.Image.thumbnail_buffer(data, size, height=size)
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.bands < 3:
        image = image.colourspace("srgb")
    return image[0:3].copy_memory()  # analysed twice: decode once


def analyze_offline(data: bytes, prompt: str) -> Analysis:
    image = thumbnail(data)
    words = prompt_words(prompt)
    return Analysis(
        focal_point=focal_point(image),
        alt_text=prompt.strip()[:200],
        tags=tuple(words[:8]),
        colors=dominant_colors(image),
    )
