"""JPEG decode and JPEG/WebP encode go through Pillow: same pixels and bytes as libvips would give."""

from __future__ import annotations

import pyvips
import pytest

from delivery.errors import Unprocessable
from delivery.transform import Limits, inspect_source, transform
from delivery.transform.pillow_codecs import decode_jpeg, materialise, save_webp
from delivery.params import parse_query, parse_transform
from generation.models import FocalPoint
from tests import corpus
from tests.images import decode

LIMITS = Limits()


def served(data: bytes, query: str) -> pyvips.Image:
    params = parse_transform(parse_query(query))
    return decode(transform(data, inspect_source(data, LIMITS), params, FocalPoint(), LIMITS).data)[0]


def mean_difference(a: pyvips.Image, b: pyvips.Image) -> float:
    assert (a.width, a.height, a.bands) == (b.width, b.height, b.bands)
    return float((a.cast("float") - b.cast("float")).abs().avg())


@pytest.mark.parametrize("interlace", [False, True], ids=["baseline", "progressive"])
@pytest.mark.parametrize("size", [(2000, 1500), (1024, 1024), (401, 301)])
def test_the_pillow_decode_gives_libvips_pixels(size: tuple[int, int], interlace: bool) -> None:
    master = corpus.photo(*size).jpegsave_buffer(Q=90, interlace=interlace)
    ours = served(master, "w=400&h=300&fm=png")
    reference = pyvips.Image.thumbnail_buffer(master, 400, height=300, crop="centre")
    assert (ours.width, ours.height) == (400, 300)
    assert mean_difference(ours, reference) < 2.5


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
    assert decode_jpeg(corpus.cmyk_jpeg(), (60, 40), 1) is None


@pytest.mark.parametrize(("quality", "subsampling"), [(80, "4:2:0"), (89, "4:2:0"), (90, "4:4:4"), (100, "4:4:4")])
def test_jpeg_chroma_subsampling_follows_libvips(quality: int, subsampling: str) -> None:
    image = served(corpus.photo(300, 200).pngsave_buffer(), f"fm=jpg&q={quality}")
    assert image.get("jpeg-chroma-subsample") == subsampling
    assert image.get("interlaced") == 1  # progressive


def test_webp_bytes_are_libvips_bytes() -> None:
    pixels = materialise(corpus.photo(320, 240).copy(interpretation="srgb"))
    assert save_webp(pixels, 80) == pixels.vips().webpsave_buffer(Q=80, effort=2, keep="none")


def _header_only() -> bytes:
    master = corpus.photo(64, 64).jpegsave_buffer()
    return master[: master.index(b"\xff\xda")]


@pytest.mark.parametrize("data", [corpus.truncated_jpeg(), _header_only()], ids=["truncated", "no-scan"])
def test_a_broken_jpeg_is_422_not_grey(data: bytes) -> None:
    with pytest.raises(Unprocessable, match="corrupt or truncated"):
        decode_jpeg(data, (32, 32), 1)


def test_pillows_bomb_cap_follows_the_source_pixel_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from delivery.transform.pillow_codecs import configure_pillow

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    configure_pillow(max_source_pixels=400_000_000)
    bomb = corpus.jpeg_bomb(15_000, 15_000)  # 225 MP: over Pillow's default cap, under this limit
    assert inspect_source(bomb, Limits(max_source_pixels=400_000_000)).width == 15_000
