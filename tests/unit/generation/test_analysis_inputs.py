"""What the analysis stage is given: the enhanced prompt for a model; the written prompt's words, never `@names`, for tags."""

from __future__ import annotations

from generation import GenerationRequest, OfflineProvider, generate
from generation.enhance import enhance_offline, prompt_words
from generation.models import Analysis, Usage


class RecordingModel(OfflineProvider):
    """A stand-in for a paid provider whose analysis records the prompt it was told."""

    name = "recording"
    offline = False

    def __init__(self) -> None:
        self.told: list[str] = []

    async def analyze(self, data: bytes, mime: str, prompt: str) -> tuple[Analysis, Usage]:
        self.told.append(prompt)
        return await super().analyze(data, mime, prompt)


async def test_a_model_analyses_with_the_enhanced_prompt() -> None:
    provider = RecordingModel()
    request = GenerationRequest(prompt="a red fox at dawn", aspect_class="1:1")
    image = await generate(provider, request)
    assert provider.told == [image.enhanced_prompt]
    assert image.enhanced_prompt == enhance_offline(request) and image.enhanced_prompt != request.prompt


async def test_offline_tags_never_include_reference_names() -> None:
    request = GenerationRequest(prompt="the same fox as @prev at night with @step1 and @Logo", aspect_class="1:1")
    image = await generate(OfflineProvider(), request)
    assert not {"prev", "step1", "logo"} & set(image.analysis.tags), image.analysis.tags
    assert image.analysis.tags[:3] == ("same", "fox", "night")
    assert prompt_words("mail me@example.com") == ["mail", "me", "example", "com"]  # an address is no reference
