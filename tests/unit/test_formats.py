"""The format registry: lookups, and that what it says matches the codecs and the policy that read it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import pyvips

from delivery.assets.ids import master_key
from delivery.cli.generate import cmd_generate
from delivery.errors import InvalidParam
from delivery.images.formats import (
    AUTO_FORMAT,
    AVIF,
    FALLBACK,
    FORMATS,
    GIF,
    HEIF,
    JPG,
    LOADERS,
    OUTPUTS,
    PNG,
    WEBP,
    Format,
    by_extension,
    by_loader,
    by_mime,
    by_name,
    source_labels,
)
from delivery.images.params import TransformParams, parse_transform
from delivery.images.transform import Limits, configure_vips, inspect_source
from delivery.images.transform.encode import encode
from delivery.images.transform.pillow_codecs import Pixels, materialise
from delivery.images.variants import accept_class, output_format
from tests import corpus


def ids(fmt: Format) -> str:
    return fmt.name


def pixels(width: int, height: int, *, alpha: bool) -> Pixels:
    image = corpus.photo(width, height)
    if alpha:
        image = image.bandjoin(128)
    return materialise(image.copy(interpretation="srgb"))


def sample(fmt: Format) -> bytes:
    """Bytes of `fmt` as a client could upload them: ours where we write it, hand-made where we only read it."""
    if fmt.encoder is not None:
        return encode(pixels(48, 32, alpha=fmt.alpha), fmt.name, None)
    if fmt is GIF:
        return corpus.gif_frames(2)
    if fmt is HEIF:
        avif = sample(AVIF)
        return avif[:8] + b"heic" + avif[12:]  # the same container under HEIC's brand (no HEVC encoder here)
    raise AssertionError(f"no sample for {fmt.name}")


def test_lookups_find_every_format_by_name_mime_and_extension() -> None:
    for fmt in FORMATS:
        assert by_name(fmt.name) is fmt
        assert by_mime(fmt.mime) is fmt
        for extension in fmt.extensions:
            assert by_extension(extension) is fmt
            assert by_extension(f".{extension.upper()}") is fmt
    assert by_mime("image/tiff") is None and by_mime("application/octet-stream") is None
    assert by_extension("tiff") is None and by_extension("") is None
    with pytest.raises(KeyError, match="bmp"):
        by_name("bmp")


def test_names_mimes_and_extensions_are_unique() -> None:
    for key in (lambda f: f.name, lambda f: f.mime, lambda f: f.label):
        assert len({key(f) for f in FORMATS}) == len(FORMATS)
    extensions = [e for f in FORMATS for e in f.extensions]
    assert len(set(extensions)) == len(extensions)
    assert all(f.mime.startswith("image/") for f in FORMATS)


def test_by_loader_tells_avif_from_heic_by_brand() -> None:
    def ftyp(brand: bytes) -> bytes:
        return b"\0\0\0\x1cftyp" + brand + b"\0" * 8

    assert by_loader("heifload_buffer", ftyp(b"avif")) is AVIF
    assert by_loader("heifload_buffer", ftyp(b"avis")) is AVIF
    assert by_loader("heifload_buffer", ftyp(b"heic")) is HEIF
    assert by_loader("heifload_buffer", ftyp(b"mif1")) is HEIF
    assert by_loader("jpegload_buffer", b"\xff\xd8\xff") is JPG
    with pytest.raises(KeyError, match="svgload_buffer"):
        by_loader("svgload_buffer", b"<svg")


def test_outputs_are_the_formats_with_an_encoder_and_fm_takes_exactly_them() -> None:
    assert set(OUTPUTS) == {f for f in FORMATS if f.encoder is not None}
    for fmt in FORMATS:
        if fmt.encoder is None:
            with pytest.raises(InvalidParam, match="`fm` must be one of avif, webp, jpg, png"):
                parse_transform({"fm": fmt.name})
            continue
        assert fmt.encoder.call and fmt.mime
        for spelling in (fmt.name, *fmt.extensions, fmt.name.upper()):
            assert parse_transform({"fm": spelling}).fm == fmt.name


@pytest.mark.parametrize("fmt", OUTPUTS, ids=ids)
def test_each_encoder_writes_its_own_format(fmt: Format) -> None:
    """What libvips sniffs from the encoder's bytes is the format that encoder is listed under, alpha and all."""
    data = encode(pixels(48, 32, alpha=fmt.alpha), fmt.name, None)
    image = pyvips.Image.new_from_buffer(data, "")
    loader = image.get("vips-loader")
    assert loader == fmt.loader.name and by_loader(loader, data) is fmt
    assert (image.width, image.height, image.hasalpha()) == (48, 32, fmt.alpha)


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_every_format_passes_the_allow_list_and_is_served_as_its_default(fmt: Format) -> None:
    configure_vips(concurrency=1)  # blocks every loader class the registry does not name
    data = sample(fmt)
    source = inspect_source(data, Limits())
    assert source.loader == fmt.loader.name and by_loader(source.loader, data) is fmt
    assert source.default_format == fmt.default_output
    assert by_name(fmt.default_output).encoder is not None
    assert fmt.encoder is None or fmt.default_output == fmt.name


def test_sources_we_cannot_write_are_served_as_their_nearest_output() -> None:
    """As docs/delivery.md promises: GIF (the first frame, alpha kept) as PNG, HEIC as AVIF; the rest as themselves."""
    assert {f.name: f.default_output for f in FORMATS} == {"jpg": "jpg", "png": "png", "webp": "webp", "gif": "png", "heif": "avif", "avif": "avif"}


def test_source_labels_name_each_loader_once() -> None:
    assert source_labels() == "JPEG, PNG, WebP, GIF, HEIF/AVIF"
    assert list(LOADERS) == ["jpegload_buffer", "pngload_buffer", "webpload_buffer", "gifload_buffer", "heifload_buffer"]


@pytest.mark.parametrize("fmt", [f for f in OUTPUTS if f.max_side is not None], ids=ids)
def test_max_side_is_the_codecs_own_limit(fmt: Format) -> None:
    """At the limit the codec writes, one pixel over it refuses: the pipeline's early 422 turns nothing away it could serve."""
    assert fmt.max_side is not None
    assert encode(pixels(fmt.max_side, 2, alpha=False), fmt.name, None)
    with pytest.raises((pyvips.Error, OSError, ValueError)):
        encode(pixels(fmt.max_side + 1, 2, alpha=False), fmt.name, None)


def test_quality_settings() -> None:
    assert JPG.encoder is not None and PNG.encoder is not None and AVIF.encoder is not None
    assert JPG.encoder.options(None)["quality"] == 80
    assert JPG.encoder.options(89)["subsampling"] == "4:2:0"
    assert JPG.encoder.options(90)["subsampling"] == "4:4:4"
    assert AVIF.encoder.options(None)["Q"] == 55
    assert PNG.encoder.options(10) == PNG.encoder.options(None)  # lossless: `q` changes nothing


def test_auto_format_prefers_avif_then_webp() -> None:
    assert AUTO_FORMAT == (AVIF, WEBP)
    assert OUTPUTS[: len(AUTO_FORMAT)] == AUTO_FORMAT
    assert [f.name for f in OUTPUTS] == ["avif", "webp", "jpg", "png"]


@pytest.mark.parametrize(
    ("accept", "mime", "expected"),
    [
        ("image/webp,image/avif,*/*", "image/jpeg", "avif"),  # our order, not the header's
        ("image/webp,*/*", "image/png", "webp"),
        ("image/jpeg,*/*", "image/jpeg", "jpg"),
        ("*/*", "image/webp", "png"),  # a source that may carry alpha
        ("*/*", "image/heif", "png"),
        ("*/*", "image/gif", "png"),
        ("*/*", "application/octet-stream", "png"),
    ],
)
def test_auto_format_honours_the_preference_order(accept: str, mime: str, expected: str) -> None:
    assert output_format(mime, TransformParams(auto="format"), accept) == expected


def test_each_negotiated_format_wins_over_every_later_one() -> None:
    auto = TransformParams(auto="format")
    for i, best in enumerate(AUTO_FORMAT):
        for later in AUTO_FORMAT[i + 1 :]:
            assert accept_class(auto, f"{later.mime},{best.mime}") == best.name
        assert accept_class(auto, best.mime) == best.name
    assert accept_class(auto, "image/png,*/*") == "legacy"


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_a_request_without_fm_or_auto_gets_the_sources_default(fmt: Format) -> None:
    assert output_format(fmt.mime, TransformParams(), "image/avif,image/webp,*/*") == fmt.default_output
    assert output_format("image/x-unknown", TransformParams(), "*/*") == FALLBACK.name


def test_storage_keys_end_in_the_formats_extension() -> None:
    for fmt in FORMATS:
        assert master_key(project_id=1, asset_id="ab" * 16, mime=fmt.mime).endswith(f"/{'ab' * 16}.{fmt.extension}")
    assert master_key(project_id=1, asset_id="ab" * 16, mime="image/tiff").endswith(".bin")
    assert HEIF.extension == "heic"


def test_the_cli_writes_only_formats_with_an_encoder() -> None:
    with pytest.raises(SystemExit) as refused:
        cmd_generate(None, argparse.Namespace(out=Path("x.gif"), reference=[]))  # type: ignore[arg-type]  # no settings: the --out check refuses first
    assert str(refused.value) == "promptpix: --out must end in one of .jpg, .jpeg, .png, .webp, .avif"
