"""Fakes for tests: real behaviour, observable."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from delivery.storage import Storage, StorageUnavailable
from generation.models import ExtensionRequest, GenerationRequest, Usage
from generation.providers.base import Synthesis
from generation.providers.offline import OfflineProvider


class CountingProvider(OfflineProvider):
    """The offline provider, counting how often it is asked to draw and to extend."""

    def __init__(self) -> None:
        self.synthesized: list[GenerationRequest] = []
        self.extended: list[ExtensionRequest] = []

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        self.synthesized.append(request)
        return await super().synthesize(request, prompt)

    async def extend(self, request: ExtensionRequest) -> Synthesis:
        self.extended.append(request)
        return await super().extend(request)


class PaidProvider(CountingProvider):
    """The offline renderer standing in for a paid model: not offline, so its generations are charged.

    `delay` slows each drawing, as PROMPTPIX_OFFLINE_DELAY slows the offline provider.
    """

    name = "paid-stand-in"
    offline = False

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().synthesize(request, prompt)


class PricedProvider(CountingProvider):
    """Charges one credit per image, so a test can see what a user would pay."""

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        drawn = await super().synthesize(request, prompt)
        return msgspec.structs.replace(drawn, usage=Usage(images=1, cost=1.0))


class FaultyStorage:
    """A real storage with faults a test switches on: PUT answering 503, or a hook right after each PUT."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.fail_puts = False
        self.after_put: Callable[[str], Awaitable[None]] | None = None

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        if self.fail_puts:
            raise StorageUnavailable("injected: the storage answered 503 to PUT")
        await self.inner.put(key, data, content_type=content_type)
        if self.after_put is not None:
            await self.after_put(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
