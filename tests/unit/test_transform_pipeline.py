"""Every transform param, run through the real pipeline and checked on the decoded output."""

from __future__ import annotations

import pytest
import pyvips

from delivery.errors import UnencodableOutput
from delivery.images.formats import OUTPUTS, Format
from delivery.images.params import parse_query, parse_transform
from delivery.images.presets import BUILTIN_PRESETS
from delivery.images.transform import Encoded, Limits, inspect_source, transform
from delivery.images.transform.geometry import turned
from generation.models import FocalPoint
from tests import corpus
from tests.images import decode, pixel

LIMITS = Limits()


def run(data: bytes, query: str, focal: FocalPoint = FocalPoint(), limits: Limits = LIMITS) -> tuple[pyvips.Image, str, Encoded]:
    params = parse_transform(parse_query(query), presets=BUILTIN_PRESETS)
    encoded = transform(data, inspect_source(data, limits), params, focal, limits)
    image, fmt = decode(encoded.data)
    assert (image.width, image.height) == (encoded.width, encoded.height)
    return image, fmt, encoded


def has_red(image: pyvips.Image) -> bool:
    red = (image[0] > 180) & (image[1] < 90) & (image[2] < 90)
    return red.max() > 0


DOT = corpus.dot(1200, 800, 0.85, 0.2).pngsave_buffer()
CROP_BOXES = [box + "&fit=crop" for box in ("w=100&h=100", "w=300&h=60", "w=60&h=300", "ar=1:1", "w=200&ar=16:9", "h=120&ar=3:4", "w=50&h=50&dpr=3")]


@pytest.mark.parametrize("box", CROP_BOXES)
def test_the_stored_focal_point_is_inside_every_crop(box: str) -> None:
    image, _, _ = run(DOT, box + "&fm=png", FocalPoint(0.85, 0.2))
    assert has_red(image), box
    centred, _, _ = run(DOT, box + "&fm=png&crop=center", FocalPoint(0.85, 0.2))
    if centred.width / centred.height < 1.2 and "ar=16:9" not in box:
        assert not has_red(centred), box  # a tight centred cut misses the dot


@pytest.mark.parametrize("box", CROP_BOXES)
def test_fp_overrides_the_stored_focal_point(box: str) -> None:
    image, _, _ = run(DOT, box + "&fm=png&fp-x=0.85&fp-y=0.2", FocalPoint(0.1, 0.9))
    assert has_red(image), box


def test_attention_finds_the_salient_dot_whatever_the_stored_point() -> None:
    image, _, _ = run(DOT, "w=200&h=200&fit=crop&crop=attention&fm=png", FocalPoint(0.0, 1.0))
    assert (image.width, image.height) == (200, 200)
    assert has_red(image)


def test_entropy_keeps_the_busy_region() -> None:
    flat = (pyvips.Image.black(1000, 500, bands=3) + 90).cast("uchar")
    busy = flat.insert(corpus.photo(300, 500, seed=3), 700, 0).pngsave_buffer()
    image, _, _ = run(busy, "w=250&h=250&fit=crop&crop=entropy&fm=png", FocalPoint(0.0, 0.5))
    assert (image.width, image.height) == (250, 250)
    assert image.deviate() > 10  # the noisy strip, not the flat grey left


def test_clip_max_scale_and_dpr_sizes() -> None:
    master = corpus.photo(300, 200).pngsave_buffer()
    assert run(master, "w=1000&fit=max")[0].width == 300  # max never enlarges
    assert (run(master, "w=1000&h=1000&fit=max")[0].height) == 200
    assert (lambda i: (i.width, i.height))(run(master, "w=1000")[0]) == (300, 200)  # nor does any fit without `upscale`
    assert (lambda i: (i.width, i.height))(run(master, "w=1000&upscale=1")[0]) == (1000, 667)
    assert (lambda i: (i.width, i.height))(run(master, "w=90&h=300&fit=scale&upscale=1")[0]) == (90, 300)
    assert run(master, "w=100&dpr=2.5")[0].width == 250


def test_fill_pads_with_bg() -> None:
    red = (pyvips.Image.black(400, 200, bands=3) + [255, 0, 0]).cast("uchar").pngsave_buffer()
    image, fmt, _ = run(red, "w=200&h=200&fit=fill&bg=00ff00&fm=jpg")
    assert (image.width, image.height, fmt) == (200, 200, "jpg")
    assert pixel(image, 0.5, 0.05)[:3] == pytest.approx([0, 255, 0], abs=30)
    assert pixel(image, 0.5, 0.5)[:3] == pytest.approx([255, 0, 0], abs=30)
    clear, _, _ = run(red, "w=200&h=200&fit=fill&bg=00ff0080&fm=png")
    assert pixel(clear, 0.5, 0.05) == pytest.approx([0, 255, 0, 128], abs=2)
    assert pixel(clear, 0.5, 0.5) == pytest.approx([255, 0, 0, 255], abs=2)


@pytest.mark.parametrize("output", OUTPUTS, ids=lambda f: f.name)
def test_each_format_and_quality(output: Format) -> None:
    master = corpus.photo(400, 300).jpegsave_buffer(Q=95)
    image, got, high = run(master, f"w=200&fm={output.name}&q=90")
    assert (got, image.width, image.height, image.bands) == (output.name, 200, 150, 3)  # sniffed from the bytes
    assert high.mime == output.mime
    assert output.encoder is not None
    if output.encoder.quality is not None:  # lossy: `q` matters
        _, _, low = run(master, f"w=200&fm={output.name}&q=20")
        assert len(low.data) < len(high.data)


def test_an_output_over_the_formats_own_limit_is_422() -> None:
    with pytest.raises(UnencodableOutput, match="20000x2 image cannot be encoded as webp"):
        run(pyvips.Image.black(20_000, 2).pngsave_buffer(), "fm=webp")


def test_default_format_is_the_sources() -> None:
    assert run(corpus.photo(64, 64).jpegsave_buffer(), "w=32")[1] == "jpg"
    assert run(corpus.photo(64, 64).webpsave_buffer(), "w=32")[1] == "webp"
    assert run(corpus.gif_frames(3), "w=32")[1] == "png"


def test_blur_softens_edges() -> None:
    master = corpus.halves(400, 100, (0, 0, 0), (255, 255, 255)).pngsave_buffer()
    sharp, _, _ = run(master, "w=200&fm=png")
    soft, _, _ = run(master, "w=200&fm=png&blur=20")
    edge_left = int(0.47 * 200)
    assert sharp.getpoint(edge_left, 25)[0] < 10
    assert 20 < soft.getpoint(edge_left, 25)[0] < 200


def test_exif_orientation_is_applied_and_metadata_stripped() -> None:
    image, fmt, _ = run(corpus.exif_rotated_jpeg(6), "")
    assert (image.width, image.height, fmt) == (100, 200, "jpg")  # stored 200x100, displayed rotated
    assert pixel(image, 0.5, 0.1)[:3] == pytest.approx([255, 0, 0], abs=40)  # left half is now on top
    assert pixel(image, 0.5, 0.9)[:3] == pytest.approx([0, 0, 255], abs=40)
    assert not image.get_typeof("exif-data") and not image.get_typeof("orientation")
    small, _, _ = run(corpus.exif_rotated_jpeg(6), "w=50")
    assert (small.width, small.height) == (50, 100)


def test_cmyk_with_icc_becomes_srgb() -> None:
    image, fmt, _ = run(corpus.cmyk_jpeg(), "w=60&fm=png")
    assert (fmt, image.bands, image.interpretation) == ("png", 3, "srgb")
    r, g, b = pixel(image, 0.5, 0.5)
    assert r > 170 and g < 90 and b < 90
    assert not image.get_typeof("icc-profile-data")


@pytest.mark.parametrize("output", OUTPUTS, ids=lambda f: f.name)
def test_alpha_kept_where_the_format_has_it_and_flattened_where_not(output: Format) -> None:
    image, _, _ = run(corpus.alpha_png(), f"fm={output.name}&q=100")
    if output.alpha:
        assert image.bands == 4 and pixel(image, 0.9, 0.5)[3] < 10
    else:
        assert image.bands == 3 and pixel(image, 0.9, 0.5) == pytest.approx([255, 255, 255], abs=10)


def test_sixteen_bit_png_is_served_as_8_bit_srgb() -> None:
    image, _, _ = run(corpus.png16(), "w=32")
    assert image.format == "uchar" and pixel(image, 0.5, 0.5)[0] > 140


def test_output_is_shrunk_to_the_pixel_limit() -> None:
    master = corpus.photo(400, 300).jpegsave_buffer()
    image, _, _ = run(master, "w=4000&h=3000", limits=Limits(max_output_pixels=100_000))
    assert image.width * image.height <= 100_000
    assert image.width / image.height == pytest.approx(4 / 3, rel=0.02)


def test_presets_expand_and_explicit_params_win() -> None:
    master = corpus.photo(2000, 1500).jpegsave_buffer()
    og, fmt, _ = run(master, "preset=og&fm=png")
    assert (og.width, og.height, fmt) == (1200, 630, "png")
    thumb, _, _ = run(master, "preset=thumb&w=100")
    assert (thumb.width, thumb.height) == (100, 200)


@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_embedded_profiles_are_converted_to_srgb(fmt: str) -> None:
    master = corpus.wide_gamut(fmt)
    assert pyvips.Image.new_from_buffer(master, "").getpoint(5, 5)[0] < 190  # P3 numbers differ from sRGB's
    image, _, _ = run(master, "w=32&fm=png")
    assert pixel(image, 0.5, 0.5) == pytest.approx([200, 30, 30], abs=4)


def quadrants() -> bytes:
    """Red top-left, green top-right, blue bottom-left, white bottom-right; 400x200."""

    def tile(rgb: list[int]) -> pyvips.Image:
        return (pyvips.Image.black(200, 100, bands=3) + rgb).cast("uchar")

    top = tile([255, 0, 0]).join(tile([0, 255, 0]), "horizontal")
    bottom = tile([0, 0, 255]).join(tile([255, 255, 255]), "horizontal")
    return top.join(bottom, "vertical").pngsave_buffer()


def colour_at(image: pyvips.Image, x: float, y: float) -> list[float]:
    return pixel(image, x, y)[:3]


def test_flip_orient_and_rot_move_the_pixels() -> None:
    master = quadrants()
    flipped, _, _ = run(master, "flip=h&fm=png")
    assert colour_at(flipped, 0.1, 0.1) == pytest.approx([0, 255, 0], abs=5)
    flipped, _, _ = run(master, "flip=v&fm=png")
    assert colour_at(flipped, 0.1, 0.1) == pytest.approx([0, 0, 255], abs=5)
    turned, _, _ = run(master, "orient=90&fm=png")  # clockwise: blue comes to the top left
    assert (turned.width, turned.height) == (200, 400)
    assert colour_at(turned, 0.1, 0.1) == pytest.approx([0, 0, 255], abs=5)
    assert run(master, "rot=180&fm=png")[0].width == 400
    assert colour_at(run(master, "rot=180&fm=png")[0], 0.1, 0.1) == pytest.approx([255, 255, 255], abs=5)
    tilted, _, _ = run(master, "rot=30&bg=000000&fm=png")
    assert tilted.width > 400 and tilted.height > 200  # the canvas grows to hold the turned image


def test_a_tilt_of_a_large_png_master_is_served() -> None:
    """A turn reads its input out of order: a sequentially decoded PNG once failed past libvips' line cache."""
    master = corpus.photo(2000, 1500).pngsave_buffer()
    tilted, fmt, _ = run(master, "rot=30&w=800&bg=000000&fm=jpg")
    assert fmt == "jpg" and (tilted.width, tilted.height) == turned(800, 600, 30) == (993, 920)
    assert max(colour_at(tilted, 0.02, 0.02)) < 30  # the corner the turn leaves over is `bg`
    assert max(colour_at(tilted, 0.5, 0.5)) > 30  # the photo is in the middle
    padded, _, _ = run(master, "rot=30&w=800&pad=10&bg=ff0000&fm=png")  # the padding goes around the turned image
    assert (padded.width, padded.height) == (turned(780, 585, 30)[0] + 20, turned(780, 585, 30)[1] + 20)
    assert colour_at(padded, 0.0, 0.5) == pytest.approx([255, 0, 0], abs=5) and colour_at(padded, 0.5, 0.5) != [255, 0, 0]


@pytest.mark.parametrize("fmt", ["avif", "webp"])
def test_a_tilted_output_keeps_to_the_format_cap(fmt: str) -> None:
    """The canvas a turn grows counts against the format's pixel cap, like any other output size."""
    cap = next(f.max_pixels for f in OUTPUTS if f.name == fmt)
    assert cap is not None
    master = corpus.photo(4000, 3000).jpegsave_buffer()
    tilted, decoded, _ = run(master, f"rot=45&fm={fmt}")
    assert decoded == fmt and tilted.width * tilted.height <= cap
    assert tilted.width * tilted.height > cap * 0.9  # shrunk to the cap, not far below it


def test_crop_to_sides_and_rect() -> None:
    master = quadrants()
    right, _, _ = run(master, "w=100&h=100&fit=crop&crop=right&fm=png", FocalPoint(0.0, 0.0))
    assert colour_at(right, 0.5, 0.2) == pytest.approx([0, 255, 0], abs=5)
    assert colour_at(right, 0.5, 0.8) == pytest.approx([255, 255, 255], abs=5)
    region, _, _ = run(master, "rect=200,100,200,100&fm=png")
    assert (region.width, region.height) == (200, 100)
    assert colour_at(region, 0.5, 0.5) == pytest.approx([255, 255, 255], abs=5)
    half, _, _ = run(master, "w=0.5&fm=png")
    assert (half.width, half.height) == (200, 100)


def test_fill_colour_blur_and_pad() -> None:
    red = (pyvips.Image.black(400, 200, bands=3) + [255, 0, 0]).cast("uchar").pngsave_buffer()
    solid, _, _ = run(red, "w=200&h=200&fit=fill&fill=solid&fill-color=00f&fm=png")
    assert colour_at(solid, 0.5, 0.05) == pytest.approx([0, 0, 255], abs=5)
    blurred, _, _ = run(red, "w=200&h=200&fit=fill&fill=blur&fm=png")
    assert (blurred.width, blurred.height) == (200, 200)
    assert colour_at(blurred, 0.5, 0.05) == pytest.approx([255, 0, 0], abs=30)  # the image itself, blurred, behind it
    padded, _, _ = run(red, "w=200&pad=10&bg=00ff00&fm=png")
    assert (padded.width, padded.height) == (200, 110)
    assert colour_at(padded, 0.01, 0.5) == pytest.approx([0, 255, 0], abs=5)
    assert colour_at(padded, 0.5, 0.5) == pytest.approx([255, 0, 0], abs=5)


def test_sharp_compress_and_lossless_change_the_bytes_as_documented() -> None:
    master = corpus.photo(400, 300).jpegsave_buffer(Q=95)
    plain = run(master, "w=200&fm=jpg")[2].data
    compressed = run(master, "w=200&fm=jpg&auto=compress")[2].data
    assert len(compressed) < len(plain)
    assert run(master, "w=200&fm=jpg&auto=compress&q=80")[2].data == plain  # an explicit q wins
    sharp, _, _ = run(master, "w=200&fm=png&sharp=80")
    soft, _, _ = run(master, "w=200&fm=png")
    assert sharp.deviate() > soft.deviate()
    lossless, _, _ = run(master, "w=200&fm=webp&lossless=1")
    exact, _, _ = run(master, "w=200&fm=png")
    assert (lossless - exact).abs().max() == 0
    assert run(master, "w=200&fm=pjpg")[1] == "jpg"
    assert run(master, "w=200&dpr=5&upscale=1")[0].width == 1000
