"""8-bit JPEG is decoded by TurboJPEG at a DCT scale: libvips' pixels, orientation and errors, less CPU."""

from __future__ import annotations

import io

import pytest
import pyvips
from PIL import Image

from delivery.errors import SourceUnreadable
from delivery.images.transform import Limits, inspect_source
from delivery.images.transform.jpeg_decode import decode_jpeg
from delivery.images.transform.pillow_codecs import jpeg_header
from tests import corpus
from tests.images import mean_difference, served


@pytest.mark.parametrize("interlace", [False, True], ids=["baseline", "progressive"])
@pytest.mark.parametrize("size", [(2000, 1500), (1024, 1024), (401, 301)])
def test_the_served_pixels_are_libvips_pixels(size: tuple[int, int], interlace: bool) -> None:
    master = corpus.photo(*size).jpegsave_buffer(Q=90, interlace=interlace)
    ours = served(master, "w=400&h=300&fit=crop&fm=png")
    reference = pyvips.Image.thumbnail_buffer(master, 400, height=300, crop="centre")
    assert (ours.width, ours.height) == (400, 300)
    assert mean_difference(ours, reference) < 2.5


def test_a_power_of_two_scale_decodes_exactly_what_pillow_draft_does() -> None:
    """The same libjpeg-turbo underneath: at the same scale, the same pixels."""
    master = corpus.photo(2000, 1500).jpegsave_buffer(Q=90)
    ours = decode_jpeg(master, (400, 300), jpeg_header(master))
    draft = Image.open(io.BytesIO(master))
    draft.draft("RGB", (400, 300))
    assert ours is not None and (ours.width, ours.height) == draft.size == (500, 375)
    assert ours.write_to_memory() == draft.tobytes()


def test_the_scale_is_the_smallest_m_over_8_that_keeps_the_size() -> None:
    """1000x750 from 1600x1200 is 5/8: Pillow's powers of two would have decoded the full 1600x1200."""
    master = corpus.photo(1600, 1200).jpegsave_buffer(Q=90)
    image = decode_jpeg(master, (1000, 750), jpeg_header(master))
    assert image is not None and (image.width, image.height) == (1000, 750)
    assert mean_difference(served(master, "w=1000&h=750&fm=png"), pyvips.Image.thumbnail_buffer(master, 1000, height=750)) < 2.5


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_libvips_autorot(orientation: int) -> None:
    image = corpus.photo(300, 200).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    master = image.jpegsave_buffer(Q=95, keep="exif")
    reference = pyvips.Image.new_from_buffer(master, "").autorot()
    ours = served(master, "fm=png")
    assert (ours.width, ours.height) == (reference.width, reference.height)
    assert mean_difference(ours, reference) < 1.5


def test_grey_jpeg_is_served_as_srgb() -> None:
    master = corpus.photo(200, 100).colourspace("b-w").jpegsave_buffer()
    image = served(master, "w=100&fm=png")
    assert (image.width, image.height, image.bands, image.interpretation) == (100, 50, 3, "srgb")
    assert mean_difference(image[0], image[2]) == 0  # grey stays grey


def test_cmyk_is_left_to_libvips() -> None:
    cmyk = corpus.cmyk_jpeg()
    assert decode_jpeg(cmyk, (60, 40), jpeg_header(cmyk)) is None


def _header_only() -> bytes:
    master = corpus.photo(64, 64).jpegsave_buffer()
    return master[: master.index(b"\xff\xda")]


@pytest.mark.parametrize("data", [corpus.truncated_jpeg(), _header_only()], ids=["truncated", "no-scan"])
def test_a_broken_jpeg_goes_back_to_libvips_and_is_422_not_grey(data: bytes) -> None:
    assert decode_jpeg(data, (32, 32), jpeg_header(data)) is None
    with pytest.raises(SourceUnreadable, match=r"^source image is corrupt or truncated$"):
        served(data, "w=32&fm=png")


def test_a_file_that_is_no_jpeg_is_422() -> None:
    with pytest.raises(SourceUnreadable, match=r"^source image is corrupt or truncated$"):
        jpeg_header(b"\xff\xd8\xff" + b"\x00" * 64)


def test_the_source_check_keeps_the_header_the_decode_needs() -> None:
    """One Pillow parse per master: mode, orientation and ICC profile travel in `Source.jpeg`."""
    image = corpus.photo(300, 200).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    master = image.jpegsave_buffer(Q=90, keep="exif,icc", profile="srgb")
    source = inspect_source(master, Limits())
    assert source.jpeg is not None and (source.width, source.height) == (200, 300)
    assert (source.jpeg.width, source.jpeg.height, source.jpeg.orientation, source.jpeg.mode) == (300, 200, 6, "RGB")
    assert source.jpeg.icc_profile and source.jpeg.icc_profile == pyvips.Image.new_from_buffer(master, "").get("icc-profile-data")
    assert inspect_source(corpus.alpha_png(), Limits()).jpeg is None
