"""JPEG/WebP encode and JPEG headers go through Pillow: the same bytes and limits as libvips would give."""

from __future__ import annotations

import pytest

from delivery.images.transform import Limits, inspect_source
from delivery.images.transform.encode import encode
from delivery.images.transform.pillow_codecs import materialise
from tests import corpus
from tests.images import decode, mean_difference, served


@pytest.mark.parametrize(("quality", "subsampling"), [(80, "4:2:0"), (89, "4:2:0"), (90, "4:4:4"), (100, "4:4:4")])
def test_jpeg_chroma_subsampling_follows_libvips(quality: int, subsampling: str) -> None:
    image = served(corpus.photo(300, 200).pngsave_buffer(), f"fm=jpg&q={quality}")
    assert image.get("jpeg-chroma-subsample") == subsampling
    assert image.get("interlaced") == 1  # progressive


def test_webp_through_pillow_looks_and_weighs_like_libvips_webp() -> None:
    """Pillow and pyvips each bundle their own libwebp build, so equal settings need not give equal bytes:
    the two decode to near-identical pixels at a near-identical size (one quality step apart differs by ~3/255
    and by a third in size)."""
    pixels = materialise(corpus.photo(320, 240).copy(interpretation="srgb"))
    ours = encode(pixels, "webp", 80)
    libvips = pixels.vips().webpsave_buffer(Q=80, effort=2, keep="none")
    (mine, fmt), (theirs, _) = decode(ours), decode(libvips)
    assert fmt == "webp" and not mine.hasalpha()
    assert mean_difference(mine, theirs) < 1.0
    assert 0.9 < len(ours) / len(libvips) < 1.1


def test_pillows_bomb_cap_follows_the_source_pixel_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from delivery.images.transform.pillow_codecs import configure_pillow

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    configure_pillow(max_source_pixels=400_000_000)
    bomb = corpus.jpeg_bomb(15_000, 15_000)  # 225 MP: over Pillow's default cap, under this limit
    assert inspect_source(bomb, Limits(max_source_pixels=400_000_000)).width == 15_000
