"""The codec steps Pillow does faster than pyvips-binary: JPEG decode and JPEG/WebP encode.

Measured on this machine (docs/delivery.md, "Why Pillow codecs"): libvips is
faster at everything between decode and encode (resize, crop, colour, pad),
but its JPEG decode with shrink-on-load is 1–3 ms slower than Pillow's
draft-mode decode of the same file at the same DCT scale, and its JPEG and
WebP encoders are 1.25–1.45× slower than Pillow's at the same settings (the
WebP bytes are identical).
So the pipeline decodes JPEG with Pillow, does the geometry with pyvips, and
hands the pixels back to Pillow to encode; each hand-over is one buffer,
shared without a copy.
"""

from __future__ import annotations

import io

import msgspec
import pyvips
from PIL import Image

from delivery.errors import Unprocessable

__all__ = ["Pixels", "configure_pillow", "decode_jpeg", "jpeg_header", "materialise", "save_jpeg", "save_webp"]

_DECODED_MODES = {"RGB": "srgb", "L": "b-w"}
"""8-bit JPEGs Pillow hands over as is; CMYK (and its profiles) stays with libvips."""

_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
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


def materialise(image: pyvips.Image) -> Pixels:
    """Run the (lazy) libvips pipeline once, into memory, as 8-bit sRGB (the pipeline's `to_srgb` already made it so)."""
    if image.bands < 3:
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return Pixels(data=image.write_to_memory(), width=image.width, height=image.height, bands=image.bands)


def jpeg_header(data: bytes) -> tuple[int, int, int]:
    """(width, height, EXIF orientation) as stored, from the JPEG header alone.

    Measured in the service at ~0.05 ms against 0.5–0.8 ms for libvips'
    header load, which also parses all metadata. An EXIF block Pillow cannot
    read leaves the orientation at 1, as libvips does.
    """
    try:
        header = Image.open(io.BytesIO(data), formats=["JPEG"])
    except Image.DecompressionBombError as exc:
        raise Unprocessable("source image has too many pixels", detail=str(exc)) from exc
    except _PILLOW_ERRORS as exc:
        raise Unprocessable.unreadable_source(exc) from exc
    try:
        orientation = int(header.getexif().get(_ORIENTATION, 1))
    except _PILLOW_ERRORS:
        orientation = 1
    return header.width, header.height, orientation if 1 <= orientation <= 8 else 1


def decode_jpeg(data: bytes, size: tuple[int, int], orientation: int) -> pyvips.Image | None:
    """Decode with the largest DCT reduction that still leaves ≥ `size` (as displayed), oriented.

    None for CMYK and other modes, which the libvips path handles.

    A truncated file raises (Pillow refuses to fill the rest with grey unless
    told to), so this keeps the `fail_on=truncated` behaviour of the libvips path.
    """
    width, height = (size[1], size[0]) if orientation in (5, 6, 7, 8) else size
    try:
        decoded = Image.open(io.BytesIO(data), formats=["JPEG"])
        if decoded.mode not in _DECODED_MODES:
            return None
        decoded.draft(decoded.mode, (width, height))
        decoded.load()
        pixels = decoded.tobytes()
    except _PILLOW_ERRORS as exc:
        raise Unprocessable.unreadable_source(exc) from exc
    image = pyvips.Image.new_from_memory(pixels, decoded.width, decoded.height, len(decoded.getbands()), "uchar")
    image = image.copy(interpretation=_DECODED_MODES[decoded.mode])
    if profile := decoded.info.get("icc_profile"):
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", profile)
    if orientation != 1:
        image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
        image = image.autorot()
    return image


def save_jpeg(pixels: Pixels, quality: int) -> bytes:
    """Progressive, optimised Huffman tables; no chroma subsampling from q90, as libvips does."""
    out = io.BytesIO()
    subsampling = "4:4:4" if quality >= 90 else "4:2:0"
    pixels.pillow().save(out, "JPEG", quality=quality, progressive=True, optimize=True, subsampling=subsampling)
    return out.getvalue()


def save_webp(pixels: Pixels, quality: int) -> bytes:
    """Lossy, method 2 (libvips' effort 2): the same libwebp settings, so the same bytes."""
    out = io.BytesIO()
    pixels.pillow().save(out, "WEBP", quality=quality, method=2)
    return out.getvalue()
