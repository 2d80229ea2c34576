"""A generated hostile corpus: every awkward kind of master a client can upload, made here, no blobs.

`corpus()` lists (name, bytes, statuses an upload may answer): truncated files,
decompression bombs by header, extreme aspect ratios, many frames, wrong
extensions, SVG and PDF disguised as PNG, CMYK, 16-bit, ICC profiles, all
eight EXIF orientations, and a HEIC whose codec (HEVC) has no decoder here.
"""

from __future__ import annotations

import struct

import pyvips

from tests import corpus as base

__all__ = ["corpus", "heic_without_decoder"]

_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0}
"""ISO-BMFF boxes holding boxes, and the bytes of their own header fields (meta is a FullBox)."""
_HVCC = bytes([1, 1, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5D, 0xF0, 0, 0xFC, 0xFD, 0xF8, 0xF8, 0, 0, 0x0F, 0])
"""An HEVC decoder configuration record (Main profile, level 3.1) with no parameter-set arrays."""


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        out.append((kind, data[offset + 8 : offset + size]))
        offset += size
    return out


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _rewrite(kind: bytes, body: bytes) -> bytes:
    """av1C becomes hvcC, every container is rebuilt around its children."""
    if kind == b"av1C":
        return _box(b"hvcC", _HVCC)
    if kind in _CONTAINERS:
        head = _CONTAINERS[kind]
        return _box(kind, body[:head] + b"".join(_rewrite(k, b) for k, b in _boxes(body[head:])))
    return _box(kind, body)


def _shift_iloc(meta: bytes, delta: int) -> bytes:
    """Move every item extent of the `iloc` box in `meta` (a rebuilt meta box) by `delta` bytes."""
    at = meta.index(b"iloc") - 4
    data = bytearray(meta)
    version = data[at + 8]
    offset_size, _length_size = data[at + 12] >> 4, data[at + 12] & 15
    base_size = data[at + 13] >> 4
    pos = at + 14
    count = struct.unpack(">H", data[pos : pos + 2])[0]
    pos += 2
    sizes = {0: "", 4: ">I", 8: ">Q"}
    for _ in range(count):
        pos += 2 + (2 if version in (1, 2) else 0) + 2  # item id, construction method, data reference index
        if base_size:
            (value,) = struct.unpack(sizes[base_size], data[pos : pos + base_size])
            data[pos : pos + base_size] = struct.pack(sizes[base_size], value + delta)
        pos += base_size
        extents = struct.unpack(">H", data[pos : pos + 2])[0]
        pos += 2
        for _ in range(extents):
            if not base_size:
                (value,) = struct.unpack(sizes[offset_size], data[pos : pos + offset_size])
                data[pos : pos + offset_size] = struct.pack(sizes[offset_size], value + delta)
            pos += offset_size + (data[at + 12] & 15)
    return bytes(data)


def heic_without_decoder() -> bytes:
    """A well-formed HEIC container (brand `heic`, an `hvc1` item with its `hvcC`) over AV1 data.

    libheif parses it and then needs an HEVC decoder, which this build lacks (as
    many do): what a phone's photo is to a server without libde265.
    """
    avif = (pyvips.Image.black(64, 64, bands=3) + [200, 30, 30]).cast("uchar").heifsave_buffer(compression="av1")
    boxes = _boxes(avif)
    out, delta = [], 0
    for kind, body in boxes:
        if kind == b"ftyp":
            out.append(_box(kind, body.replace(b"avif", b"heic")))
        elif kind == b"meta":
            meta = _rewrite(kind, body.replace(b"av01", b"hvc1"))
            delta = len(meta) - (8 + len(body))
            out.append(meta)
        else:
            out.append(_box(kind, body))
    return b"".join(_shift_iloc(box, delta) if box[4:8] == b"meta" else box for box in out)


def _oriented(orientation: int) -> bytes:
    image = base.halves(96, 64, (255, 0, 0), (0, 0, 255)).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return image.jpegsave_buffer(Q=90)


OK, CORRUPT, UNSUPPORTED, TOO_BIG = (201,), (422,), (415,), (413, 422)


def corpus() -> list[tuple[str, bytes, tuple[int, ...]]]:
    """(name, bytes, the statuses an upload may answer): 201 means it must then be servable."""
    photo = base.photo(320, 240)
    png = photo.pngsave_buffer()
    jpeg = photo.jpegsave_buffer(Q=85)
    items: list[tuple[str, bytes, tuple[int, ...]]] = [
        ("plain-jpeg", jpeg, OK),
        ("large-jpeg-24mp", base.photo(6000, 4000).jpegsave_buffer(Q=85), OK),  # the largest variants: peak memory
        ("truncated-jpeg", base.truncated_jpeg(), CORRUPT),
        ("truncated-png", png[: len(png) * 2 // 3], CORRUPT),
        ("truncated-webp", photo.webpsave_buffer()[:400], CORRUPT),
        ("png-bomb-50000", base.png_bomb(), TOO_BIG),
        ("png-bomb-1x1000000", base.png_bomb(1, 1_000_000, 512), CORRUPT),
        ("jpeg-bomb-60000", base.jpeg_bomb(), TOO_BIG),
        ("tall-1x100000", pyvips.Image.black(1, 100_000).pngsave_buffer(), OK),
        ("wide-20000x2", (pyvips.Image.black(20_000, 2) + 90).cast("uchar").pngsave_buffer(), OK),
        ("gif-5000-frames", base.gif_frames(5000), TOO_BIG),
        ("gif-50-frames", base.gif_frames(50), OK),
        ("png-named-jpg", png, OK),  # the bytes decide, never the name
        ("svg-as-png", base.SVG, UNSUPPORTED),
        ("pdf-as-png", base.PDF, UNSUPPORTED),
        ("cmyk-jpeg", base.cmyk_jpeg(), OK),
        ("png-16-bit", base.png16(), OK),
        ("png-alpha", base.alpha_png(), OK),
        ("icc-wide-gamut-jpeg", base.wide_gamut("jpg"), OK),
        ("icc-wide-gamut-png", base.wide_gamut("png"), OK),
        ("broken-exif", base.jpeg_with_broken_exif(), OK),
        ("heic-no-decoder", heic_without_decoder(), UNSUPPORTED),
        ("empty", b"", UNSUPPORTED),
        ("text", b"hello, this is not an image\n" * 10, UNSUPPORTED),
    ]
    items += [(f"exif-orientation-{o}", _oriented(o), OK) for o in range(1, 9)]
    return items
