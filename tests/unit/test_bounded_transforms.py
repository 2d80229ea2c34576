"""Bounded work per transform: no enlargement unless asked and allowed, per-format caps, refusals before any
decode, a deadline that kills libvips work, uploads decoded to the last scanline, references at model size."""

from __future__ import annotations

import time

import pytest
import pyvips

from delivery.errors import TransformTimedOut, UnencodableOutput, UnsupportedSourceFormat, UploadUnreadable
from delivery.images.formats import AVIF, JPG, OUTPUTS
from delivery.images.params import parse_query, parse_transform
from delivery.images.references import reference_for_model
from delivery.images.transform import Limits, configure_vips, decode_fully, inspect_source, transform
from delivery.images.transform.geometry import focal_point, plan
from delivery.images.transform.limits import Source
from generation.models import FocalPoint
from tests import corpus, hostile
from tests.images import decode, pixel

SOURCE = Source(width=128, height=128, loader="pngload_buffer", default_format="png", has_alpha=False)


@pytest.fixture(autouse=True, scope="module")
def _vips() -> None:
    configure_vips(concurrency=1)  # what the app's lifespan does


def planned(query: str, source: Source = SOURCE, max_upscale: float = 4.0) -> tuple[int, int]:
    params = parse_transform(parse_query(query))
    return plan(params, source, focal_point(params, FocalPoint()), max_pixels=40_000_000, max_upscale=max_upscale).output


@pytest.mark.parametrize(
    ("query", "size"),
    [
        ("w=8192&h=8192&dpr=4", (128, 128)),
        ("w=1000", (128, 128)),
        ("w=1000&fit=max", (128, 128)),
        ("w=1000&h=500&fit=crop", (128, 64)),  # the box's aspect, at the master's own pixels
        ("w=1000&h=500&fit=min", (128, 64)),
        ("w=1000&h=500&fit=scale", (128, 64)),
        ("w=1000&h=1000&fit=fill", (1000, 1000)),  # the canvas as asked; the image on it is not enlarged
        ("w=64", (64, 64)),  # shrinking is unaffected
    ],
)
def test_no_fit_enlarges_past_the_master_without_upscale(query: str, size: tuple[int, int]) -> None:
    assert planned(query) == size


def test_upscale_enlarges_up_to_the_deployments_allowance() -> None:
    assert planned("w=300&upscale=1") == (300, 300)
    assert planned("w=8192&h=8192&dpr=4&upscale=1") == (512, 512)  # 4x per side by default
    assert planned("w=8192&upscale=true", max_upscale=2) == (256, 256)
    assert planned("w=1000&upscale=1", max_upscale=1) == (128, 128)  # PROMPTPIX_MAX_UPSCALE=1: never
    assert planned("w=1000&h=500&fit=crop&upscale=1") == (512, 256)
    assert planned("w=1000&fit=max&upscale=1") == (128, 128)  # max and min never enlarge, as in imgix


def test_upscale_is_a_documented_param_with_one_spelling() -> None:
    assert parse_transform(parse_query("w=10&upscale=0")) == parse_transform(parse_query("w=10"))
    assert parse_transform(parse_query("upscale=true")).upscale


def test_the_reported_request_answers_at_the_masters_size_in_milliseconds() -> None:
    """`w=8192&h=8192&dpr=4&fm=avif&q=100` on a 128x128 master was ~40 MP and 24-50 s of CPU."""
    master = corpus.photo(128, 128).pngsave_buffer()
    started = time.perf_counter()
    encoded = transform(master, inspect_source(master, Limits()), parse_transform(parse_query("w=8192&h=8192&dpr=4&fm=avif&q=100")), FocalPoint(), Limits())
    assert time.perf_counter() - started < 2
    image, fmt = decode(encoded.data)
    assert (image.width, image.height, fmt) == (128, 128, "avif")


def test_avif_has_a_much_lower_pixel_cap_than_jpeg() -> None:
    assert AVIF.max_pixels is not None and AVIF.max_pixels <= 4_194_304
    assert all(f.max_pixels is None or f.max_pixels >= AVIF.max_pixels for f in OUTPUTS) and JPG.max_pixels is None
    master = corpus.photo(3000, 2000).jpegsave_buffer()
    params = parse_transform(parse_query("fm=avif"))
    encoded = transform(master, inspect_source(master, Limits()), params, FocalPoint(), Limits())
    assert encoded.width * encoded.height <= AVIF.max_pixels and abs(encoded.width / encoded.height - 1.5) < 0.01
    assert decode(encoded.data)[1] == "avif"
    as_jpeg = transform(master, inspect_source(master, Limits()), parse_transform(parse_query("fm=jpg")), FocalPoint(), Limits())
    assert (as_jpeg.width, as_jpeg.height) == (3000, 2000)


def test_an_output_no_encoder_can_write_is_refused_before_any_decode() -> None:
    """The header promises 1x1,000,000 over 512 bytes of data: decoding it would fail as corrupt, so
    `UnencodableOutput` shows the refusal came from the plan alone."""
    header_only = corpus.png_bomb(1, 1_000_000, 512)
    source = inspect_source(header_only, Limits())
    started = time.perf_counter()
    with pytest.raises(UnencodableOutput, match=r"^a 1x1000000 image cannot be encoded as webp$"):
        transform(header_only, source, parse_transform(parse_query("w=100&fm=webp")), FocalPoint(), Limits())
    assert time.perf_counter() - started < 0.05


def test_work_past_the_deadline_is_killed_and_is_a_503_with_retry_after() -> None:
    master = corpus.photo(3000, 3000).pngsave_buffer()
    limits = Limits(deadline=0.2)
    params = parse_transform(parse_query("blur=100&sharp=100&fm=png"))
    started = time.perf_counter()
    with pytest.raises(TransformTimedOut) as raised:
        transform(master, inspect_source(master, limits), params, FocalPoint(), limits)
    took = time.perf_counter() - started
    assert raised.value.status == 503 and raised.value.retry_after == 1
    assert "longer than 0.2 s" in raised.value.message
    assert took < 1.2, took  # the same work unbounded takes ~2 s here
    image, _ = decode(transform(master, inspect_source(master, Limits()), parse_transform(parse_query("w=100&blur=100")), FocalPoint(), Limits()).data)
    assert image.width == 100  # the default deadline leaves ordinary work alone


def test_a_smart_crop_is_under_the_deadline_too() -> None:
    master = corpus.photo(4000, 4000).pngsave_buffer()
    limits = Limits(deadline=0.05)
    with pytest.raises(TransformTimedOut):
        transform(master, inspect_source(master, limits), parse_transform(parse_query("w=3000&h=1000&fit=crop&crop=entropy&blur=50")), FocalPoint(), limits)


@pytest.mark.parametrize("name", ["truncated-jpeg", "truncated-png", "png-bomb-1x1000000"])
def test_uploads_whose_body_does_not_decode_are_422(name: str) -> None:
    data = dict((n, d) for n, d, _ in hostile.corpus())[name]
    inspect_source(data, Limits())  # the header alone passes: this is what was accepted with a 201
    with pytest.raises(UploadUnreadable, match=r"^the image is corrupt or truncated$"):
        decode_fully(data, Limits())


def test_a_heic_without_a_decoder_is_415_not_corrupt() -> None:
    data = hostile.heic_without_decoder()
    inspect_source(data, Limits())
    with pytest.raises(UnsupportedSourceFormat) as raised:
        decode_fully(data, Limits())
    assert raised.value.status == 415 and "codec cannot be decoded here" in raised.value.message


def test_every_servable_corpus_upload_decodes_fully() -> None:
    for name, data, statuses in hostile.corpus():
        if statuses == (201,):
            decode_fully(data, Limits())  # raises on failure
            assert name


def test_reference_images_go_to_the_model_downscaled() -> None:
    big = corpus.halves(2048, 1024, (255, 0, 0), (0, 0, 255)).pngsave_buffer()
    data, mime = reference_for_model(big, "image/png", 1024)
    image, fmt = decode(data)
    assert (image.width, image.height, fmt, mime) == (1024, 512, "jpg", "image/jpeg")
    assert pixel(image, 0.25, 0.5) == pytest.approx([255, 0, 0], abs=8) and pixel(image, 0.75, 0.5) == pytest.approx([0, 0, 255], abs=8)
    small = corpus.photo(512, 256).pngsave_buffer()
    assert reference_for_model(small, "image/png", 1024) == (small, "image/png")
    alpha, alpha_mime = reference_for_model(corpus.alpha_png(3000, 1500), "image/png", 1024)
    assert alpha_mime == "image/png" and pyvips.Image.new_from_buffer(alpha, "").hasalpha()
    rotated, _ = reference_for_model(corpus.exif_rotated_jpeg(6), "image/jpeg", 64)
    turned = pyvips.Image.new_from_buffer(rotated, "")
    assert turned.height > turned.width  # EXIF orientation applied, as the model should see it
