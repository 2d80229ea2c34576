"""The provider boundary: three stages a pipeline drives in order."""

from __future__ import annotations

from typing import Protocol

import msgspec

from generation.models import Analysis, GenerationRequest, Usage

__all__ = ["Provider", "Synthesis"]


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
