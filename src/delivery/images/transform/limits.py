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

from delivery.errors import SourceTooLarge, SourceTooManyFrames, SourceTooManyPixels, SourceUnreadable, UnsupportedSourceFormat
from delivery.images.formats import JPG, LOADERS, by_loader, source_labels
from delivery.images.transform.pillow_codecs import JpegHeader, jpeg_header

__all__ = ["Limits", "Source", "inspect_source"]

_SUPPORTED = f"source is not a supported image ({source_labels()})"


class Limits(msgspec.Struct, frozen=True):
    max_output_pixels: int = 40_000_000
    max_source_pixels: int = 100_000_000
    max_source_bytes: int = 50 * 1024 * 1024
    max_source_frames: int = 1000


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
