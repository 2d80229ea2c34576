"""The provider boundary: three stages a pipeline drives in order."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

from generation.models import Analysis, ExtensionRequest, GenerationRequest, Usage

__all__ = ["Extender", "Provider", "Synthesis"]


class Synthesis(msgspec.Struct, frozen=True):
    data: bytes
    mime: str
    model: str
    """The pinned model version that drew it, as the provider reports it."""
    usage: Usage = Usage()


class Provider(Protocol):
    """What every provider offers; the pipeline adds timeouts, retries and timing."""

    name: str
    offline: bool

    def resolve_model(self, model: str | None) -> str:
        """The full pinned version name for a requested model (None: the default)."""
        ...

    async def enhance(self, request: GenerationRequest) -> tuple[str, Usage]:
        """Rewrite the user's prompt for the image model, keeping its subject."""
        ...

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        ...

    async def analyze(self, data: bytes, mime: str, prompt: str) -> tuple[Analysis, Usage]:
        """Focal point, alt text, tags and colours of an image the pipeline drew."""
        ...

    async def aclose(self) -> None:
        """Release connections; the owner (the app's lifespan, the CLI) calls it once."""
        ...


@runtime_checkable
class Extender(Protocol):
    """A provider that can extend an image to another aspect (outpainting); not every provider can."""

    async def extend(self, request: ExtensionRequest) -> Synthesis:
        """The image on a canvas of `request.aspect_class`, its margins drawn to continue the scene."""
        ...
