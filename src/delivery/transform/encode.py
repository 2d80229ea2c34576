"""Per-format encoders with web-tuned settings; all strip metadata."""

from __future__ import annotations

from collections.abc import Callable

import pyvips

__all__ = ["MIME_TYPES", "encode"]

MIME_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}

DEFAULT_QUALITY = {"jpg": 80, "webp": 80, "avif": 55, "png": 100}


def _jpg(image: pyvips.Image, q: int) -> bytes:
    return image.jpegsave_buffer(Q=q, interlace=True, optimize_coding=True, keep="none")


def _png(image: pyvips.Image, q: int) -> bytes:
    return image.pngsave_buffer(compression=6, keep="none")


def _webp(image: pyvips.Image, q: int) -> bytes:
    return image.webpsave_buffer(Q=q, effort=2, keep="none")


def _avif(image: pyvips.Image, q: int) -> bytes:
    return image.heifsave_buffer(Q=q, compression="av1", effort=2, keep="none")


_ENCODERS: dict[str, Callable[[pyvips.Image, int], bytes]] = {"jpg": _jpg, "png": _png, "webp": _webp, "avif": _avif}


def encode(image: pyvips.Image, fmt: str, quality: int | None) -> bytes:
    return _ENCODERS[fmt](image, quality or DEFAULT_QUALITY[fmt])
