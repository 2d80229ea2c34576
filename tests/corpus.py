"""Hostile and awkward masters, generated here so the corpus needs no downloads.

Each builder returns the bytes a client or provider could hand us: a PNG
header promising 2.5 Gpx over a few KB of data, a truncated JPEG, a PDF or SVG
whatever its name, a GIF of thousands of frames, CMYK with an ICC profile,
EXIF-rotated photos, 16-bit and alpha PNGs.
"""

from __future__ import annotations

import struct
import zlib

import pyvips


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 50_000, height: int = 50_000, data_bytes: int = 4096) -> bytes:
    """A 1-bit greyscale PNG header of `width`x`height` with the start of a valid zlib stream of zero rows."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    idat = b""
    while len(idat) < data_bytes:
        idat += compressor.compress(row * 64)
    idat += compressor.flush(zlib.Z_SYNC_FLUSH)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat[:data_bytes]) + _chunk(b"IEND", b"")


def gif_frames(frames: int) -> bytes:
    """A 1x1 animated GIF with `frames` frames, written by hand (no encoder merges them)."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (
        b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # graphic control: 10 ms
        + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        + b"\x02\x02\x44\x01\x00"  # LZW: clear, index 0, end
    )
    return header + loop + frame * frames + b"\x3b"


def photo(width: int, height: int, *, seed: int = 1) -> pyvips.Image:
    """Gradients plus noise: something encoders and decoders do real work on."""
    xyz = pyvips.Image.xyz(width, height)
    r, g = xyz[0] * (255 / width), xyz[1] * (255 / height)
    noise = pyvips.Image.gaussnoise(width, height, sigma=12, seed=seed)
    return (r.bandjoin([g, (r + g) / 2]) + noise).cast("uchar")


def truncated_jpeg() -> bytes:
    data = photo(640, 480).jpegsave_buffer(Q=90)
    return data[: len(data) // 2]


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="4000" height="4000"><rect width="100%" height="100%" fill="red"/></svg>'


def jpeg_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A small JPEG whose frame header (SOF0) claims `width` x `height`."""
    data = bytearray(photo(64, 64).jpegsave_buffer())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def jpeg_with_broken_exif() -> bytes:
    """A JPEG whose APP1 block says Exif but holds garbage where the TIFF structure should be."""
    data = photo(80, 40).jpegsave_buffer()
    body = b"Exif\x00\x00" + b"MM\x00\x2a" + b"\xff" * 40
    app1 = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    return data[:2] + app1 + data[2:]


def halves(width: int, height: int, left: tuple[int, int, int], right: tuple[int, int, int]) -> pyvips.Image:
    """Left half one colour, right half another: shows rotation and crops at a glance."""
    a = pyvips.Image.black(width // 2, height, bands=3) + list(left)
    b = pyvips.Image.black(width - width // 2, height, bands=3) + list(right)
    return a.join(b, "horizontal").cast("uchar")


def exif_rotated_jpeg(orientation: int = 6) -> bytes:
    """200x100 stored (red left, blue right) with an EXIF orientation tag."""
    image = halves(200, 100, (255, 0, 0), (0, 0, 255)).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return image.jpegsave_buffer(Q=95, keep="exif")


def cmyk_jpeg() -> bytes:
    """A red sRGB image converted to CMYK with its ICC profile embedded."""
    red = (pyvips.Image.black(120, 80, bands=3) + [220, 30, 30]).cast("uchar").copy(interpretation="srgb")
    return red.icc_transform("cmyk", intent="relative").jpegsave_buffer(Q=95, keep="icc")


def dot(width: int, height: int, x: float, y: float, *, radius: int = 12, background: int = 128) -> pyvips.Image:
    """A flat grey image with one red dot at fractional position (x, y)."""
    canvas = (pyvips.Image.black(width, height, bands=3) + background).cast("uchar")
    return canvas.draw_circle([255, 0, 0], int(x * width), int(y * height), radius, fill=True)


def alpha_png(width: int = 200, height: int = 100) -> bytes:
    """Opaque green left half, fully transparent right half."""
    rgb = (pyvips.Image.black(width, height, bands=3) + [0, 200, 0]).cast("uchar")
    alpha = halves(width, height, (255, 255, 255), (0, 0, 0))[0]
    return rgb.bandjoin(alpha).copy(interpretation="srgb").pngsave_buffer()


def png16(width: int = 64, height: int = 64) -> bytes:
    image = (pyvips.Image.black(width, height, bands=3) + [40000, 1000, 1000]).cast("ushort").copy(interpretation="rgb16")
    return image.pngsave_buffer(bitdepth=16)


def wide_gamut(fmt: str) -> bytes:
    """sRGB (200, 30, 30) converted to Display P3 with the P3 profile embedded."""
    red = (pyvips.Image.black(64, 64, bands=3) + [200, 30, 30]).cast("uchar").copy(interpretation="srgb")
    return red.icc_transform("p3", intent="relative").write_to_buffer(f".{fmt}", keep="icc")
