"""An artificial delay in front of the offline generator (`PROMPTPIX_OFFLINE_DELAY`).

The offline renderer answers in a fraction of a second, too fast to observe
what happens while a generation is in flight: identical requests piling up in
several processes, a holder killed mid-generation, a graceful shutdown waiting
for it. Dev and tests set a delay; a real provider is never delayed.
"""

from __future__ import annotations

import asyncio

from generation.models import Analysis, ExtensionRequest, GenerationRequest, Usage
from generation.providers.base import Extender, Provider, Synthesis

__all__ = ["DelayedProvider", "with_offline_delay"]


class DelayedProvider:
    def __init__(self, inner: Provider, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.name = inner.name
        self.offline = inner.offline

    def resolve_model(self, model: str | None) -> str:
        return self.inner.resolve_model(model)

    async def enhance(self, request: GenerationRequest) -> tuple[str, Usage]:
        return await self.inner.enhance(request)

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        await asyncio.sleep(self.delay)
        return await self.inner.synthesize(request, prompt)

    async def analyze(self, data: bytes, mime: str, prompt: str) -> tuple[Analysis, Usage]:
        return await self.inner.analyze(data, mime, prompt)

    async def extend(self, request: ExtensionRequest) -> Synthesis:
        if not isinstance(self.inner, Extender):
            raise TypeError(f"{self.inner.name} cannot extend images")
        await asyncio.sleep(self.delay)
        return await self.inner.extend(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def with_offline_delay(provider: Provider, delay: float) -> Provider:
    if delay <= 0 or not provider.offline:
        return provider
    return DelayedProvider(provider, delay)
