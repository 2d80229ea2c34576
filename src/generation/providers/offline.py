"""The offline provider: a deterministic renderer for development and tests.

It is labelled offline everywhere (metadata, pixels) and makes no network
call. Same request, same pixels: the scene is drawn from a seed derived from
the prompt, seed, aspect class and style. The prompt's words are written on
the image and reference images are composited in a visible strip, so tests
can see that a prompt and its `@references` reached the renderer.

Extension (outpainting) is deterministic too: the image is pasted unchanged,
at its own size, in the middle of a canvas of the new aspect; the margins are
its edges mirrored outwards, blurred, darkened and hatched, and labelled
`OFFLINE EXTENSION`, so nobody mistakes them for drawn scenery.
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import random
from html import escape

import pyvips

from generation.analysis import analyze_offline
from generation.enhance import enhance_offline
from generation.models import ASPECT_CLASSES, Analysis, ExtensionRequest, GenerationRequest, ReferenceImage, Usage
from generation.providers.base import Synthesis

__all__ = ["OFFLINE_MODEL", "OfflineProvider", "render", "render_extension"]

OFFLINE_MODEL = "offline-render-1"
LABEL = "OFFLINE PREVIEW"
EXTENSION_LABEL = "OFFLINE EXTENSION"


class OfflineProvider:
    name = "offline"
    offline = True

    def resolve_model(self, model: str | None) -> str:
        return OFFLINE_MODEL

    async def enhance(self, request: GenerationRequest) -> tuple[str, Usage]:
        return enhance_offline(request), Usage()

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        data = await asyncio.to_thread(render, request)
        return Synthesis(data=data, mime="image/png", model=OFFLINE_MODEL, usage=Usage(images=1))

    async def analyze(self, data: bytes, mime: str, prompt: str) -> tuple[Analysis, Usage]:
        return await asyncio.to_thread(analyze_offline, data, prompt), Usage()

    async def extend(self, request: ExtensionRequest) -> Synthesis:
        data = await asyncio.to_thread(render_extension, request)
        return Synthesis(data=data, mime="image/png", model=OFFLINE_MODEL, usage=Usage(images=1))

    async def aclose(self) -> None:
        pass


def _seed(request: GenerationRequest) -> int:
    key = "\x1f".join(
        (request.prompt, str(request.seed), request.aspect_class, request.style or "", request.style_prompt)
    )
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def _colour(rng: random.Random, *, light: bool) -> list[float]:
    saturation = rng.uniform(0.45, 0.8)
    value = rng.uniform(0.78, 0.96) if light else rng.uniform(0.35, 0.6)
    return [255 * c for c in colorsys.hsv_to_rgb(rng.random(), saturation, value)]


def _background(width: int, height: int, rng: random.Random) -> pyvips.Image:
    start, end = _colour(rng, light=True), _colour(rng, light=True)
    xyz = pyvips.Image.xyz(width, height)
    t = (xyz[0] * width + xyz[1] * height) / (width * width + height * height)
    return (t * [e - s for s, e in zip(start, end, strict=True)] + start).cast("uchar")


def _subject(image: pyvips.Image, rng: random.Random) -> pyvips.Image:
    """Scattered discs, then one large, dark, ringed disc: the scene's subject."""
    w, h = image.width, image.height
    short = min(w, h)
    for _ in range(rng.randint(5, 9)):
        image = image.draw_circle(
            _colour(rng, light=True), rng.randrange(w), rng.randrange(h), rng.randint(short // 30, short // 10), fill=True
        )
    cx, cy = rng.randint(w // 5, 4 * w // 5), rng.randint(h // 5, 3 * h // 5)
    radius = short // 7
    image = image.draw_circle([255, 255, 255], cx, cy, radius + short // 60, fill=True)
    return image.draw_circle(_colour(rng, light=False), cx, cy, radius, fill=True)


def _write(image: pyvips.Image, markup: str, *, x: int | None, y: int, width: int, dpi: int) -> pyvips.Image:
    """White text with a dark shadow, so it reads on any background; x=None centres it."""
    mask = pyvips.Image.text(markup, width=width, dpi=dpi, align="centre", wrap="word-char")
    if mask.width == 0 or mask.height == 0:
        return image
    margin = 8
    x = (image.width - mask.width) // 2 if x is None else x
    x = max(0, min(x, image.width - mask.width - margin))
    y = max(0, min(y, image.height - mask.height - margin))
    for dx, colour in ((2, [20, 20, 20]), (0, [255, 255, 255])):
        placed = mask.embed(x + dx, y + dx, image.width, image.height)
        image = placed.ifthenelse(colour, image, blend=True)
    return image


def _references(image: pyvips.Image, references: tuple[ReferenceImage, ...]) -> pyvips.Image:
    """Each reference as a framed thumbnail along the bottom-left, left to right."""
    side = min(image.width, image.height) // 4
    margin = side // 8
    x = margin
    for reference in references:
        tile = pyvips.Image.thumbnail_buffer(reference.data, side, height=side)
        if tile.bands < 3:
            tile = tile.colourspace("srgb")
        if tile.hasalpha():
            tile = tile.flatten(background=[255, 255, 255])
        tile = tile[0:3].cast("uchar")
        if x + tile.width > image.width:
            break
        y = image.height - margin - tile.height
        frame = pyvips.Image.black(tile.width + 8, tile.height + 8, bands=3) + 255
        image = image.insert(frame.cast("uchar"), x - 4, y - 4).insert(tile, x, y)
        x += tile.width + margin
    return image


def render(request: GenerationRequest) -> bytes:
    """Draw the scene for a request; PNG, at the aspect class's native size."""
    width, height = ASPECT_CLASSES[request.aspect_class]
    rng = random.Random(_seed(request))
    image = _subject(_background(width, height, rng), rng)
    image = _references(image, request.references)
    dpi = max(72, width // 5)
    image = _write(image, f"<b>{escape(request.prompt[:300])}</b>", x=None, y=height // 16, width=width * 5 // 6, dpi=dpi)
    label = f"{LABEL} · seed {request.seed if request.seed is not None else '-'} · {request.aspect_class}"
    image = _write(image, escape(label), x=width, y=height, width=width // 2, dpi=dpi // 3)
    return image.pngsave_buffer(compression=3, strip=True)


def extension_canvas(width: int, height: int, aspect_class: str) -> tuple[int, int]:
    """The smallest canvas of the class that holds a width x height image at its own size."""
    cw, ch = ASPECT_CLASSES[aspect_class]
    if width * ch < height * cw:  # the image is narrower than the class: margins left and right
        return max(width, round(height * cw / ch)), height
    return width, max(height, round(width * ch / cw))


def render_extension(request: ExtensionRequest) -> bytes:
    """The image unchanged in the middle; margins from its mirrored edges, blurred and visibly marked."""
    image = pyvips.Image.new_from_buffer(request.image, "")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.bands < 3:
        image = image.colourspace("srgb")
    image = image[0:3].cast("uchar")
    width, height = extension_canvas(image.width, image.height, request.aspect_class)
    left, top = (width - image.width) // 2, (height - image.height) // 2
    margins = image.embed(left, top, width, height, extend="mirror").gaussblur(max(2.0, min(width, height) / 60))
    xyz = pyvips.Image.xyz(width, height)
    stripes = (((xyz[0] + xyz[1]) / 24).cast("int") % 2) == 0  # diagonal hatching: visibly not a drawn scene
    margins = stripes.ifthenelse(margins * 0.55, margins * 0.75).cast("uchar")
    canvas = margins.insert(image, left, top)
    dpi = max(48, min(width, height) // 12)
    across = max(width - image.width, height - image.height) // 2
    if across >= 24:
        if width > image.width:
            canvas = _write(canvas, EXTENSION_LABEL, x=4, y=height // 2, width=max(16, left - 8), dpi=dpi // 2)
        else:
            canvas = _write(canvas, EXTENSION_LABEL, x=None, y=4, width=width * 2 // 3, dpi=dpi // 2)
    return canvas.pngsave_buffer(compression=3, strip=True)
