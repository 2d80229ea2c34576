"""Per-format encoders with web-tuned settings; all strip metadata.

JPEG and WebP go through Pillow (same libjpeg/libwebp settings, faster
builds: see `pillow_codecs`); PNG and AVIF through libvips.
"""

from __future__ import annotations

from collections.abc import Callable

from delivery.images.transform.pillow_codecs import Pixels, save_jpeg, save_webp

__all__ = ["MIME_TYPES", "encode"]

MIME_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}

DEFAULT_QUALITY = {"jpg": 80, "webp": 80, "avif": 55, "png": 100}


def _png(pixels: Pixels, q: int) -> bytes:
    return pixels.vips().pngsave_buffer(compression=6, keep="none")


def _avif(pixels: Pixels, q: int) -> bytes:
    return pixels.vips().heifsave_buffer(Q=q, compression="av1", effort=2, keep="none")


_ENCODERS: dict[str, Callable[[Pixels, int], bytes]] = {"jpg": save_jpeg, "png": _png, "webp": save_webp, "avif": _avif}


def encode(pixels: Pixels, fmt: str, quality: int | None) -> bytes:
    return _ENCODERS[fmt](pixels, quality or DEFAULT_QUALITY[fmt])
