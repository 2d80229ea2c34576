"""Cheap checks before expensive work: format, dimensions and frames from the header alone.

Only the header is read (libvips' `new_from_buffer`; for JPEG, Pillow's
parse, an order of magnitude cheaper), so a 50000x50000 PNG of a few KB or a
GIF with thousands of frames is refused here without decoding a pixel. The
format is sniffed from the bytes (never a file name or a stored mime): a
format outside the allow-list is 415, an allowed format whose header does not
parse is 422.
"""

from __future__ import annotations

import msgspec
import pyvips

from delivery.errors import (
    SourceTooLarge,
    SourceTooManyFrames,
    SourceTooManyPixels,
    SourceUnreadable,
    UnsupportedSourceFormat,
    UploadUnreadable,
)
from delivery.images.formats import JPG, LOADERS, by_loader, source_labels
from delivery.images.transform.deadline import Deadline
from delivery.images.transform.pillow_codecs import JpegHeader, jpeg_header

__all__ = ["Limits", "Source", "decode_fully", "inspect_source"]

_SUPPORTED = f"source is not a supported image ({source_labels()})"
_NO_DECODER = ("has not been built in", "No decoding plugin", "Unsupported codec")
"""What libheif says for a HEIF whose codec (HEVC for HEIC) has no decoder here: the format is not one we read."""


class Limits(msgspec.Struct, frozen=True):
    max_output_pixels: int = 40_000_000
    max_source_pixels: int = 100_000_000
    max_source_bytes: int = 50 * 1024 * 1024
    max_source_frames: int = 1000
    max_upscale: float = 4.0
    """How far `upscale=1` may enlarge (per side); without it nothing is enlarged."""
    deadline: float = 10.0
    """Seconds one transform may run before its libvips work is killed (`pipeline.transform`)."""


class Source(msgspec.Struct, frozen=True):
    width: int
    """As displayed, after EXIF orientation."""
    height: int
    loader: str
    default_format: str
    """What a request without `fm` gets (formats.Format.default_output)."""
    has_alpha: bool
    frames: int = 1
    orientation: int = 1
    """EXIF orientation (1–8), applied when decoding."""
    jpeg: JpegHeader | None = None
    """For JPEG, the header as Pillow read it: the decode needs its colour mode and ICC profile."""


def _loader(data: bytes) -> str:
    """The loader libvips would pick from the magic bytes; blocked loaders are never picked."""
    found = pyvips.vips_lib.vips_foreign_find_load_buffer(data, len(data)) if data else pyvips.ffi.NULL
    if found == pyvips.ffi.NULL:
        pyvips.vips_lib.vips_error_clear()
        raise UnsupportedSourceFormat(_SUPPORTED)
    loader = pyvips.nickname_find(pyvips.type_from_name(pyvips.ffi.string(found).decode()))
    if loader not in LOADERS:
        raise UnsupportedSourceFormat(f"source format {loader.removesuffix('load_buffer')} is not supported")
    return loader


def _stored(data: bytes, loader: str) -> Source:
    """The header as stored, before EXIF orientation; JPEG's from Pillow, the cheaper parse."""
    default_format = by_loader(loader, data).default_output
    if loader == JPG.loader.name:
        jpeg = jpeg_header(data)
        return Source(
            width=jpeg.width,
            height=jpeg.height,
            loader=loader,
            default_format=default_format,
            has_alpha=JPG.alpha,
            orientation=jpeg.orientation,
            jpeg=jpeg,
        )
    try:
        header = pyvips.Image.new_from_buffer(data, "", access="sequential")
    except pyvips.Error as exc:
        raise SourceUnreadable(detail=str(exc)) from exc
    return Source(
        width=header.width,
        height=header.height,
        loader=loader,
        default_format=default_format,
        has_alpha=bool(header.hasalpha()),
        frames=header.get("n-pages") if header.get_typeof("n-pages") else 1,
        orientation=header.get("orientation") if header.get_typeof("orientation") else 1,
    )


def inspect_source(data: bytes, limits: Limits) -> Source:
    if len(data) > limits.max_source_bytes:
        raise SourceTooLarge(f"source image is larger than {limits.max_source_bytes} bytes")
    source = _stored(data, _loader(data))
    if source.width * source.height > limits.max_source_pixels:
        raise SourceTooManyPixels(f"source image is larger than {limits.max_source_pixels} pixels")
    if source.frames > limits.max_source_frames:
        raise SourceTooManyFrames(f"source image has more than {limits.max_source_frames} frames")
    if source.orientation in (5, 6, 7, 8):
        return msgspec.structs.replace(source, width=source.height, height=source.width)
    return source


def decode_fully(data: bytes, limits: Limits) -> None:
    """Decode every pixel of `data` (already checked by `inspect_source`), to the last scanline, keeping none.

    An upload must be servable before it is stored: a header that parses over
    a truncated or corrupt body is a 422 (`UploadUnreadable`), a HEIF whose
    codec has no decoder here (HEIC's HEVC) a 415. `avg` streams the image
    through libvips a strip at a time (`access="sequential"`), so memory stays
    at a few scanlines whatever the size; the deadline bounds the time.
    """
    deadline = Deadline(limits.deadline)
    try:
        image = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="truncated")
        deadline.watch(image).avg()
    except pyvips.Error as exc:
        if deadline.passed:
            raise deadline.error() from exc
        if any(marker in str(exc) for marker in _NO_DECODER):
            raise UnsupportedSourceFormat(
                f"this image's codec cannot be decoded here; send {source_labels()} with a codec this service reads", detail=str(exc)
            ) from exc
        raise UploadUnreadable(detail=str(exc)) from exc
