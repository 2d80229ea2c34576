"""Fakes for tests: real behaviour, observable."""

from __future__ import annotations

from generation.models import GenerationRequest
from generation.providers.base import Synthesis
from generation.providers.offline import OfflineProvider


class CountingProvider(OfflineProvider):
    """The offline provider, counting how often it is asked to draw."""

    def __init__(self) -> None:
        self.synthesized: list[GenerationRequest] = []

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        self.synthesized.append(request)
        return await super().synthesize(request, prompt)
