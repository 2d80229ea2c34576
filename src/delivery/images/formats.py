"""Every image format the service reads or writes, described once.

What a format is (MIME type, file extensions, the libvips loader that reads
it, whether it keeps alpha, how it is written and at what quality, how large
it may be, whether `auto=format` may pick it) used to live in nine tables
that had to agree: `fm` parsing, the loader allow-list, source MIME types,
encoders, opaque formats, negotiation, storage key extensions, the CLI's
`--out`. They all read this one now, so adding a format is one entry here.

Pure data with no imaging imports: `params` (parsing `fm`) and `assets.ids`
(storage key extensions) read it without loading libvips, and
`transform.encode` runs the `Encoder` a format describes.

Order matters. `FORMATS` is the order messages list sources and the CLI lists
`--out` extensions in; `OUTPUTS` puts `auto=format`'s preference first, the
order `fm`'s error message lists.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "AUTO_FORMAT",
    "AVIF",
    "FALLBACK",
    "FORMATS",
    "GIF",
    "HEIF",
    "JPG",
    "LOADERS",
    "OUTPUTS",
    "PNG",
    "WEBP",
    "Encoder",
    "Format",
    "Loader",
    "by_extension",
    "by_loader",
    "by_mime",
    "by_name",
    "configure_encoders",
    "encoder_overrides",
    "encoding_tag",
    "source_labels",
]

Setting = str | int | bool


class Loader(msgspec.Struct, frozen=True):
    """A libvips loader the allow-list leaves open; every other one is blocked (`transform.vips`)."""

    name: str
    """The nickname sniffing the bytes gives (`vips_foreign_find_load_buffer`), e.g. `jpegload_buffer`."""
    vips_class: str
    """The loader class `configure_vips` unblocks, with its file, buffer and source variants."""


class Encoder(msgspec.Struct, frozen=True, kw_only=True):
    """How an output format is written: one library call with web-tuned settings, no metadata.

    Data rather than a function, so this module stays free of imaging
    imports; `transform.encode` makes the call.
    """

    library: Literal["pillow", "libvips"]
    """Pillow where its build of the same codec is faster (`transform.pillow_codecs`), libvips otherwise."""
    call: str
    """Pillow's format name for `Image.save`, or the libvips image method (`*save_buffer`)."""
    settings: tuple[tuple[str, Setting], ...] = ()
    """Keyword arguments every call gets."""
    quality: str | None = None
    """The keyword `q` is passed as; None for a lossless format, which ignores `q`."""
    default_quality: int | None = None
    """`q` when the request gives none."""
    full_chroma_from: int | None = None
    """From this quality on, no chroma subsampling (4:4:4), 4:2:0 below it: what libvips' JPEG encoder does."""
    compressed_quality: int | None = None
    """`q` under `auto=compress` when the request gives none: imgix's choice for it, smaller files at a visible cost."""
    lossless: str | None = None
    """The keyword that makes the call lossless (`lossless=1`); None where the format is always or never lossless."""

    def options(self, quality: int | None, *, compress: bool = False, lossless: bool = False) -> dict[str, Setting]:
        """The call's keyword arguments for `q` (None: the default, or the compressed default)."""
        options = dict(self.settings)
        if lossless and self.lossless is not None:
            options[self.lossless] = True
            return options
        q = quality or (self.compressed_quality if compress else None) or self.default_quality
        if self.quality is not None and q is not None:
            options[self.quality] = q
            if self.full_chroma_from is not None:
                options["subsampling"] = "4:4:4" if q >= self.full_chroma_from else "4:2:0"
        return options


class Format(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """The `fm` value, and what the code calls the format."""
    label: str
    """How messages name it."""
    mime: str
    extensions: tuple[str, ...]
    """Without the dot; the first ends storage keys, all of them pick the format for the CLI's `--out` (and `fm`)."""
    loader: Loader
    brands: tuple[bytes, ...] = ()
    """ISO-BMFF `ftyp` brands that tell it from another format its loader reads (AVIF from HEIC); () for the rest."""
    alpha: bool
    """Whether it keeps transparency; an opaque output gets the padding colour behind transparent pixels."""
    default_output: str
    """What a request without `fm` gets for a source of this format: itself, or the nearest format we write."""
    encoder: Encoder | None = None
    """None for a format that is read, never written."""
    auto_rank: int | None = None
    """Place in `auto=format`'s preference, 0 first: served when `Accept` names the MIME type.
    None: every client reads it (or we never write it), so it is never negotiated."""
    max_side: int | None = None
    """The encoder's own limit in pixels per side (checked against the installed codecs by the unit tests)."""
    max_pixels: int | None = None
    """The most output pixels this format is written at; larger requests are shrunk to fit, as with
    `PROMPTPIX_MAX_OUTPUT_PIXELS` (the lower of the two wins). Set where the encoder (libaom, libwebp)
    compresses the whole picture in one call that the transform's deadline cannot interrupt, so its
    time must be bounded by size: AVIF much lower than WebP (measured in docs/security.md), as
    Cloudflare caps AVIF output at 1,200 px a side against 12,000 for the rest. None: only the
    service-wide cap (JPEG and PNG are written a strip at a time, the cheapest per pixel)."""

    @property
    def extension(self) -> str:
        return self.extensions[0]


_HEIF_LOADER = Loader("heifload_buffer", "VipsForeignLoadHeif")
"""HEIC and AVIF are both HEIF containers: one loader, told apart by brand."""

JPG = Format(
    name="jpg",
    label="JPEG",
    mime="image/jpeg",
    extensions=("jpg", "jpeg"),
    loader=Loader("jpegload_buffer", "VipsForeignLoadJpeg"),
    alpha=False,
    default_output="jpg",
    # Progressive with optimised Huffman tables; libvips' chroma rule, so the same settings as its encoder.
    encoder=Encoder(
        library="pillow",
        call="JPEG",
        settings=(("progressive", True), ("optimize", True)),
        quality="quality",
        default_quality=80,
        full_chroma_from=90,
        compressed_quality=45,
    ),
    max_side=65500,
)
PNG = Format(
    name="png",
    label="PNG",
    mime="image/png",
    extensions=("png",),
    loader=Loader("pngload_buffer", "VipsForeignLoadPng"),
    alpha=True,
    default_output="png",
    encoder=Encoder(library="libvips", call="pngsave_buffer", settings=(("compression", 6), ("keep", "none"))),
)
WEBP = Format(
    name="webp",
    label="WebP",
    mime="image/webp",
    extensions=("webp",),
    loader=Loader("webpload_buffer", "VipsForeignLoadWebp"),
    alpha=True,
    default_output="webp",
    # Lossy, method 2 (libvips' effort 2): the same libwebp settings as libvips, so the same bytes.
    encoder=Encoder(
        library="pillow",
        call="WEBP",
        settings=(("method", 2),),
        quality="quality",
        default_quality=80,
        compressed_quality=45,
        lossless="lossless",
    ),
    auto_rank=1,
    max_side=16383,
    max_pixels=4096 * 4096,
)
GIF = Format(
    name="gif",
    label="GIF",
    mime="image/gif",
    extensions=("gif",),
    loader=Loader("gifload_buffer", "VipsForeignLoadNsgif"),
    alpha=True,
    default_output="png",  # the first frame, transparency kept
)
HEIF = Format(
    name="heif",
    label="HEIF",
    mime="image/heif",
    extensions=("heic", "heif"),
    loader=_HEIF_LOADER,
    alpha=True,
    default_output="avif",  # browsers do not read HEIC; AVIF is its web sibling
)
AVIF = Format(
    name="avif",
    label="AVIF",
    mime="image/avif",
    extensions=("avif",),
    loader=_HEIF_LOADER,
    brands=(b"avif", b"avis"),
    alpha=True,
    default_output="avif",
    encoder=Encoder(
        library="libvips",
        call="heifsave_buffer",
        settings=(("compression", "av1"), ("effort", 2), ("keep", "none")),
        quality="Q",
        default_quality=55,
        compressed_quality=40,
        lossless="lossless",
    ),
    auto_rank=0,
    max_side=16384,
    max_pixels=1920 * 1080,  # a full-HD frame; lossless at this size is the slowest encode the service runs
)

FORMATS: tuple[Format, ...] = (JPG, PNG, WEBP, GIF, HEIF, AVIF)
OUTPUTS: tuple[Format, ...] = tuple(
    sorted((f for f in FORMATS if f.encoder is not None), key=lambda f: (f.auto_rank is None, f.auto_rank or 0))
)
"""What `fm` accepts: the negotiated formats in preference order, then the rest in `FORMATS` order."""
AUTO_FORMAT: tuple[Format, ...] = tuple(f for f in OUTPUTS if f.auto_rank is not None)
"""What `auto=format` picks from, best first."""
FALLBACK = PNG
"""What a source is served as when its own format is unknown or needs negotiating: lossless, keeps alpha, read everywhere."""
LOADERS: dict[str, Loader] = {f.loader.name: f.loader for f in FORMATS}
"""The loader allow-list by nickname, in `FORMATS` order."""

_BY_NAME = {f.name: f for f in FORMATS}
_BY_MIME = {f.mime: f for f in FORMATS}
_BY_EXTENSION = {extension: f for f in FORMATS for extension in f.extensions}


def by_name(name: str) -> Format:
    """The format called `name` (KeyError if none is: names come from validated params, never raw input)."""
    return _BY_NAME[name]


def by_mime(mime: str) -> Format | None:
    return _BY_MIME.get(mime)


def by_extension(extension: str) -> Format | None:
    """`jpeg`, `.JPEG` and `jpg` are all JPEG."""
    return _BY_EXTENSION.get(extension.lower().removeprefix("."))


def by_loader(loader: str, data: bytes) -> Format:
    """The format of `data`, which the allowed `loader` sniffed; AVIF and HEIC share one loader, the ftyp brand tells them apart."""
    readable = [f for f in FORMATS if f.loader.name == loader]
    matches = [f for f in readable if data[8:12] in f.brands] or [f for f in readable if not f.brands]
    if not matches:
        raise KeyError(loader)
    return matches[0]


def source_labels() -> str:
    """`JPEG, PNG, WebP, GIF, HEIF/AVIF`: what the allow-list reads, one entry per loader, as messages list it."""
    return ", ".join("/".join(f.label for f in FORMATS if f.loader == loader) for loader in LOADERS.values())


_OVERRIDES: dict[str, dict[str, Setting]] = {}
"""Per output format, settings the deployment chose over the registry's (process-global, like `configure_vips`)."""


def configure_encoders(*, avif_effort: int) -> None:
    """The encoder trade-offs that are settings (`PROMPTPIX_AVIF_EFFORT`): size against encode time."""
    _OVERRIDES.clear()
    if AVIF.encoder is not None and ("effort", avif_effort) not in AVIF.encoder.settings:
        _OVERRIDES[AVIF.name] = {"effort": avif_effort}


def encoder_overrides(fmt: str) -> dict[str, Setting]:
    return _OVERRIDES.get(fmt, {})


def encoding_tag(fmt: str) -> str:
    """What of the configured encoder changes the bytes of `fmt`, for ETags: empty with the registry's settings, so
    their ETags stay as they were; another AVIF effort makes other bytes, so other ETags."""
    overrides = _OVERRIDES.get(fmt)
    return "|" + ",".join(f"{k}={v}" for k, v in sorted(overrides.items())) if overrides else ""
