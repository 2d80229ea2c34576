"""The codec steps Pillow does faster than pyvips-binary: JPEG headers and JPEG/WebP encode.

Measured on this machine (docs/delivery.md, "Why these codecs"): libvips is
faster at everything between decode and encode (resize, crop, colour, pad),
but its JPEG and WebP encoders are 1.25–1.45× slower than Pillow's at the
same settings (the WebP bytes are identical), and its header load parses all
metadata. So the pipeline does the geometry with pyvips and hands the pixels
to Pillow to encode, in one buffer shared without a copy. JPEG decode is
`jpeg_decode`'s.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import msgspec
import pyvips
from PIL import Image

from delivery.errors import SourceTooManyPixels, SourceUnreadable

__all__ = ["PILLOW_ERRORS", "JpegHeader", "Pixels", "configure_pillow", "jpeg_header", "materialise", "save"]

PILLOW_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
"""What Pillow raises for a corrupt or truncated file (UnidentifiedImageError is an OSError)."""

_ORIENTATION = 0x0112
"""The EXIF tag."""


def configure_pillow(*, max_source_pixels: int) -> None:
    """Pillow's decompression-bomb cap follows ours (process-global, so set by the app's lifespan).

    Pillow refuses a file over twice `MAX_IMAGE_PIXELS` when it opens it, and
    its default (~179 MP refused) would otherwise cap JPEG sources below a
    raised `PROMPTPIX_MAX_SOURCE_PIXELS`.
    """
    Image.MAX_IMAGE_PIXELS = max_source_pixels


class Pixels(msgspec.Struct, frozen=True):
    """A materialised 8-bit sRGB image, 3 or 4 bands: the one buffer both libraries read."""

    data: bytes
    width: int
    height: int
    bands: int

    @property
    def mode(self) -> str:
        return "RGBA" if self.bands == 4 else "RGB"

    def pillow(self) -> Image.Image:
        return Image.frombuffer(self.mode, (self.width, self.height), self.data, "raw", self.mode, 0, 1)

    def vips(self) -> pyvips.Image:
        image = pyvips.Image.new_from_memory(self.data, self.width, self.height, self.bands, "uchar")
        return image.copy(interpretation="srgb")


def materialise(image: pyvips.Image, watch: Callable[[pyvips.Image], pyvips.Image] | None = None) -> Pixels:
    """Run the (lazy) libvips pipeline once, into memory, as 8-bit sRGB (the pipeline's `to_srgb` already made it so).

    `watch` wraps the image that is written (libvips signals progress on it alone): the transform's deadline.
    """
    if image.bands < 3:
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    if watch is not None:
        image = watch(image)
    return Pixels(data=image.write_to_memory(), width=image.width, height=image.height, bands=image.bands)


class JpegHeader(msgspec.Struct, frozen=True):
    """What a JPEG's header says, read once by the source check and kept for the decode."""

    width: int
    """As stored, before EXIF orientation."""
    height: int
    orientation: int
    mode: str
    """Pillow's mode: "RGB", "L" or "CMYK"."""
    icc_profile: bytes | None = None


def jpeg_header(data: bytes) -> JpegHeader:
    """Size, EXIF orientation, colour mode and ICC profile, from the JPEG header alone.

    Measured in the service at ~0.05 ms against 0.5–0.8 ms for libvips'
    header load, which also parses all metadata. An EXIF block Pillow cannot
    read leaves the orientation at 1, as libvips does.
    """
    try:
        header = Image.open(io.BytesIO(data), formats=["JPEG"])
    except Image.DecompressionBombError as exc:
        raise SourceTooManyPixels(detail=str(exc)) from exc
    except PILLOW_ERRORS as exc:
        raise SourceUnreadable(detail=str(exc)) from exc
    try:
        orientation = int(header.getexif().get(_ORIENTATION, 1))
    except PILLOW_ERRORS:
        orientation = 1
    return JpegHeader(
        width=header.width,
        height=header.height,
        orientation=orientation if 1 <= orientation <= 8 else 1,
        mode=header.mode,
        icc_profile=header.info.get("icc_profile") or None,
    )


def save(pixels: Pixels, fmt: str, options: Mapping[str, str | int | bool]) -> bytes:
    """Encode with Pillow's `fmt` writer ("JPEG", "WEBP") and the registry's settings (formats.Encoder).

    Pillow writes no metadata it is not given, so nothing but pixels leaves.
    """
    out = io.BytesIO()
    pixels.pillow().save(out, fmt, **options)
    return out.getvalue()
