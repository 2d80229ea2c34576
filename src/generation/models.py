"""Structs that cross the generation boundary.

Everything here is frozen: a request is hashed into a generation key by the
caller, and a result is stored as-is, so neither may change after creation.
"""

from __future__ import annotations

import math

import msgspec

__all__ = [
    "ASPECT_CLASSES",
    "Analysis",
    "ExtensionRequest",
    "FocalPoint",
    "GeneratedImage",
    "GenerationRequest",
    "ReferenceImage",
    "Usage",
    "nearest_aspect_class",
    "placement",
]

# The aspect ratios image models accept, with the pixel size Gemini renders for
# each. A request's ratio snaps to the nearest one, so every `ar` between two
# classes shares one master.
ASPECT_CLASSES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}


def nearest_aspect_class(width: float, height: float) -> str:
    """The supported class closest in log-ratio, so 15:9 lands on 16:9 and 16:10 on 3:2."""
    if width <= 0 or height <= 0:
        raise ValueError("aspect sides must be positive")
    wanted = math.log(width / height)

    def distance(name: str) -> float:
        w, h = ASPECT_CLASSES[name]
        return abs(math.log(w / h) - wanted)

    return min(ASPECT_CLASSES, key=distance)


class FocalPoint(msgspec.Struct, frozen=True):
    """Where the subject is, as fractions of width and height in [0, 1]."""

    x: float = 0.5
    y: float = 0.5

    @classmethod
    def center(cls) -> FocalPoint:
        return cls(0.5, 0.5)

    @classmethod
    def from_pixels(cls, x: float, y: float, width: int, height: int) -> FocalPoint:
        return cls.clamped(x / max(width, 1), y / max(height, 1))

    @classmethod
    def clamped(cls, x: float, y: float) -> FocalPoint:
        """Out-of-range or NaN values from a model must not reach a crop window."""

        def clamp(v: float) -> float:
            return 0.5 if math.isnan(v) else min(1.0, max(0.0, v))

        return cls(clamp(x), clamp(y))


class ReferenceImage(msgspec.Struct, frozen=True):
    """An image the model should draw on, e.g. a project's `@logo`."""

    name: str
    data: bytes
    mime: str


class GenerationRequest(msgspec.Struct, frozen=True):
    prompt: str
    aspect_class: str = "1:1"
    seed: int | None = None
    model: str | None = None
    style: str | None = None
    style_prompt: str = ""
    references: tuple[ReferenceImage, ...] = ()
    context: tuple[str, ...] = ()
    """Prompts of earlier steps of a flow, oldest first."""


class ExtensionRequest(msgspec.Struct, frozen=True):
    """Extend an image's canvas to another aspect class (outpainting), keeping its pixels.

    The image is placed whole and centred on the new canvas, filling its width or
    its height (`placement`); the model draws only the margins.
    """

    image: bytes
    mime: str
    width: int
    height: int
    aspect_class: str
    """The new canvas' aspect, one of ASPECT_CLASSES."""
    prompt: str = ""
    """What the image shows (its prompt, or an upload's alt text): context for the margins."""
    model: str | None = None
    seed: int | None = None


def placement(width: int, height: int, canvas_width: int, canvas_height: int) -> tuple[int, int, int, int]:
    """Where a width x height image goes on a canvas it is extended to: (left, top, width, height),
    scaled to fill the canvas' width or height and centred on the other axis."""
    scale = min(canvas_width / width, canvas_height / height)
    w, h = min(canvas_width, round(width * scale)), min(canvas_height, round(height * scale))
    return (canvas_width - w) // 2, (canvas_height - h) // 2, w, h


class Usage(msgspec.Struct, frozen=True):
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    cost: float = 0.0
    """In credits; the delivery layer decides what a credit is worth."""


class Analysis(msgspec.Struct, frozen=True):
    focal_point: FocalPoint = FocalPoint()
    alt_text: str = ""
    tags: tuple[str, ...] = ()
    colors: tuple[str, ...] = ()
    """Dominant colours as `rrggbb`, most dominant first."""


class GeneratedImage(msgspec.Struct, frozen=True):
    data: bytes
    mime: str
    width: int
    height: int
    prompt: str
    enhanced_prompt: str
    analysis: Analysis
    provider: str
    model: str
    """The full, pinned model version that drew the pixels."""
    offline: bool
    usage: Usage = Usage()
    timings: dict[str, float] = {}
    """Seconds per stage: enhance, synthesize, analyze."""
