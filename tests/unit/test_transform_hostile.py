"""The hostile corpus against the header checks and the pipeline, with the app's libvips configuration."""

from __future__ import annotations

import pytest

from delivery.errors import (
    ServiceError,
    SourceTooLarge,
    SourceTooManyFrames,
    SourceTooManyPixels,
    SourceUnreadable,
    UnsupportedSourceFormat,
)
from delivery.images.params import parse_query, parse_transform
from delivery.images.transform import Limits, configure_vips, inspect_source, transform
from generation.models import FocalPoint
from tests import corpus

LIMITS = Limits()


@pytest.fixture(autouse=True, scope="module")
def _vips() -> None:
    configure_vips(concurrency=1)  # what the app's lifespan does


UNREADABLE = "^source image is corrupt or truncated$"
UNSUPPORTED = r"^source (is not a supported image \(JPEG, PNG, WebP, GIF, HEIF/AVIF\)|format \w+ is not supported)$"
TOO_MANY_PIXELS = r"^source image (is larger than \d+ pixels|has too many pixels)$"


def refuse(data: bytes, error: type[ServiceError], match: str, limits: Limits = LIMITS) -> None:
    with pytest.raises(error, match=match):
        transform(data, inspect_source(data, limits), parse_transform(parse_query("w=100")), FocalPoint(), limits)


def test_png_claiming_50000x50000_is_refused_from_its_header() -> None:
    bomb = corpus.png_bomb()
    assert len(bomb) < 8192
    refuse(bomb, SourceTooManyPixels, TOO_MANY_PIXELS)


@pytest.mark.parametrize(
    ("side", "limit"),
    [(60_000, LIMITS.max_source_pixels), (3_000, 1_000_000)],
    ids=["over-pillows-cap", "over-our-limit"],
)
def test_jpeg_claiming_more_pixels_than_allowed_is_refused_from_its_header(side: int, limit: int) -> None:
    """60000² is over Pillow's own cap, refused as it opens; 3000² under it, refused by our limit."""
    refuse(corpus.jpeg_bomb(side, side), SourceTooManyPixels, TOO_MANY_PIXELS, limits=Limits(max_source_pixels=limit))


def test_a_broken_exif_block_is_ignored_as_libvips_would() -> None:
    data = corpus.jpeg_with_broken_exif()
    source = inspect_source(data, LIMITS)
    assert (source.width, source.height, source.orientation) == (80, 40, 1)
    encoded = transform(data, source, parse_transform(parse_query("w=40&fm=png")), FocalPoint(), LIMITS)
    assert (encoded.width, encoded.height) == (40, 20)


def test_truncated_jpeg_is_an_error_not_a_grey_image() -> None:
    refuse(corpus.truncated_jpeg(), SourceUnreadable, UNREADABLE)


@pytest.mark.parametrize("data", [corpus.PDF, corpus.SVG, b"", b"hello, world", b"\x00" * 100], ids=["pdf", "svg", "empty", "text", "zeros"])
def test_formats_outside_the_allow_list_are_415(data: bytes) -> None:
    refuse(data, UnsupportedSourceFormat, UNSUPPORTED)


def test_other_libvips_formats_are_blocked_too() -> None:
    import pyvips

    tiff = pyvips.Image.black(8, 8).tiffsave_buffer()
    ppm = b"P6\n8 8\n255\n" + b"\x00" * 192
    refuse(tiff, UnsupportedSourceFormat, UNSUPPORTED)
    refuse(ppm, UnsupportedSourceFormat, UNSUPPORTED)


def test_allowed_magic_with_a_broken_header_is_422() -> None:
    refuse(b"\xff\xd8\xff\xe0" + b"\x00" * 64, SourceUnreadable, UNREADABLE)
    refuse(corpus.png_bomb()[:20], SourceUnreadable, UNREADABLE)
    refuse(b"GIF87a", SourceUnreadable, UNREADABLE)


def test_gif_with_thousands_of_frames_is_refused() -> None:
    refuse(corpus.gif_frames(3000), SourceTooManyFrames, r"^source image has more than \d+ frames$")
    assert inspect_source(corpus.gif_frames(20), LIMITS).frames == 20  # a normal animation is fine


def test_byte_limit() -> None:
    data = corpus.photo(64, 64).jpegsave_buffer()
    refuse(data, SourceTooLarge, f"^source image is larger than {len(data) - 1} bytes$", limits=Limits(max_source_bytes=len(data) - 1))
