"""The hostile corpus against the header checks and the pipeline, with the app's libvips configuration."""

from __future__ import annotations

import pytest

from delivery.errors import PayloadTooLarge, ServiceError, Unprocessable, UnsupportedMedia
from delivery.images.params import parse_query, parse_transform
from delivery.images.transform import Limits, configure_vips, inspect_source, transform
from generation.models import FocalPoint
from tests import corpus

LIMITS = Limits()


@pytest.fixture(autouse=True, scope="module")
def _vips() -> None:
    configure_vips(concurrency=1)  # what the app's lifespan does


def rejected(data: bytes, query: str = "w=100", limits: Limits = LIMITS) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        transform(data, inspect_source(data, limits), parse_transform(parse_query(query)), FocalPoint(), limits)
    return caught.value


def test_png_claiming_50000x50000_is_refused_from_its_header() -> None:
    bomb = corpus.png_bomb()
    assert len(bomb) < 8192
    error = rejected(bomb)
    assert isinstance(error, Unprocessable) and "pixels" in error.message


@pytest.mark.parametrize(
    ("side", "limit"),
    [(60_000, LIMITS.max_source_pixels), (3_000, 1_000_000)],
    ids=["over-pillows-cap", "over-our-limit"],
)
def test_jpeg_claiming_more_pixels_than_allowed_is_refused_from_its_header(side: int, limit: int) -> None:
    """60000² is over Pillow's own cap, refused as it opens; 3000² under it, refused by our limit."""
    error = rejected(corpus.jpeg_bomb(side, side), limits=Limits(max_source_pixels=limit))
    assert isinstance(error, Unprocessable) and "pixels" in error.message


def test_a_broken_exif_block_is_ignored_as_libvips_would() -> None:
    data = corpus.jpeg_with_broken_exif()
    source = inspect_source(data, LIMITS)
    assert (source.width, source.height, source.orientation) == (80, 40, 1)
    encoded = transform(data, source, parse_transform(parse_query("w=40&fm=png")), FocalPoint(), LIMITS)
    assert (encoded.width, encoded.height) == (40, 20)


def test_truncated_jpeg_is_an_error_not_a_grey_image() -> None:
    error = rejected(corpus.truncated_jpeg())
    assert isinstance(error, Unprocessable) and "corrupt or truncated" in error.message


@pytest.mark.parametrize("data", [corpus.PDF, corpus.SVG, b"", b"hello, world", b"\x00" * 100], ids=["pdf", "svg", "empty", "text", "zeros"])
def test_formats_outside_the_allow_list_are_415(data: bytes) -> None:
    assert isinstance(rejected(data), UnsupportedMedia)


def test_other_libvips_formats_are_blocked_too() -> None:
    import pyvips

    tiff = pyvips.Image.black(8, 8).tiffsave_buffer()
    ppm = b"P6\n8 8\n255\n" + b"\x00" * 192
    assert isinstance(rejected(tiff), UnsupportedMedia)
    assert isinstance(rejected(ppm), UnsupportedMedia)


def test_allowed_magic_with_a_broken_header_is_422() -> None:
    assert isinstance(rejected(b"\xff\xd8\xff\xe0" + b"\x00" * 64), Unprocessable)
    assert isinstance(rejected(corpus.png_bomb()[:20]), Unprocessable)
    assert isinstance(rejected(b"GIF87a"), Unprocessable)


def test_gif_with_thousands_of_frames_is_refused() -> None:
    error = rejected(corpus.gif_frames(3000))
    assert isinstance(error, Unprocessable) and "frames" in error.message
    assert inspect_source(corpus.gif_frames(20), LIMITS).frames == 20  # a normal animation is fine


def test_byte_limit() -> None:
    data = corpus.photo(64, 64).jpegsave_buffer()
    assert isinstance(rejected(data, limits=Limits(max_source_bytes=len(data) - 1)), PayloadTooLarge)
