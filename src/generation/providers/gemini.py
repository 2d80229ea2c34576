"""Google Gemini through `google-genai`'s async client.

Three calls, one per stage: the text model rewrites the prompt (structured
output), the image model draws it (aspect ratio in the image config, reference
images as inline parts), and the text model's vision reports focal point, alt
text and tags (structured output, validated; colours come from libvips).

The SDK's own retries are switched off (`HttpRetryOptions(attempts=1)`, which
also stops its implicit reconnect loop): the pipeline's policy is the only one,
so a stage deadline bounds every attempt.
"""

from __future__ import annotations

import asyncio

import msgspec
from google import genai
from google.genai import types

from generation.analysis import dominant_colors, thumbnail
from generation.enhance import normalize_prompt
from generation.errors import MalformedResponse
from generation.models import Analysis, ExtensionRequest, GenerationRequest, Usage
from generation.providers.base import Synthesis
from generation.providers.gemini_answers import (
    ANALYSIS_INSTRUCTION,
    MAX_PROMPT,
    AnalysisAnswer,
    EnhancedAnswer,
    analysis_from_answer,
    decode_answer,
    enhance_instruction,
    extend_instruction,
    response_schema,
)
from generation.providers.gemini_errors import TRANSPORT_ERRORS, candidate_parts, from_exception, image_part, text_of
from generation.providers.gemini_settings import GeminiPrices, GeminiSettings

__all__ = ["API_VERSION", "GeminiPrices", "GeminiProvider", "GeminiSettings", "gemini_client"]

API_VERSION = "v1beta"
"""Pinned rather than left to the SDK's default: image config and JSON schemas live there."""
ANALYSIS_SIDE = 768
"""Analysis sends a thumbnail: one 768px tile is the cheapest image Gemini bills above 384px,
and a focal point in fractions does not need more."""


def gemini_client(api_key: str, base_url: str | None) -> genai.Client:
    """The client every Gemini call of promptpix goes through: the pinned API version, the SDK's retries off."""
    options = types.HttpOptions(base_url=base_url, api_version=API_VERSION, retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key=api_key, http_options=options)


class GeminiProvider:
    name = "gemini"
    offline = False

    def __init__(self, settings: GeminiSettings) -> None:
        self.settings = settings
        self._client = gemini_client(settings.api_key, settings.base_url)
        thinking = settings.thinking_budget
        self._thinking = types.ThinkingConfig(thinking_budget=thinking) if thinking is not None else None

    def resolve_model(self, model: str | None) -> str:
        if model is None or model == self.settings.image_model:
            return self.settings.image_model
        raise ValueError(f"unknown model {model!r}; this deployment draws with {self.settings.image_model}")

    async def _call(self, stage: str, **kwargs: object) -> types.GenerateContentResponse:
        try:
            # kwargs are generate_content's own keywords (model, contents, config), set per stage by the callers
            return await self._client.aio.models.generate_content(**kwargs)  # type: ignore[arg-type]
        except TRANSPORT_ERRORS as exc:
            raise from_exception(exc, stage) from exc

    def _usage(self, response: types.GenerateContentResponse, *, images: int = 0) -> Usage:
        meta = response.usage_metadata or types.GenerateContentResponseUsageMetadata()
        prices = self.settings.prices
        input_tokens = meta.prompt_token_count or 0
        # Thinking is billed as output; an image's own tokens are covered by its per-image price.
        output_tokens = 0 if images else (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
        cost = (
            images * prices.per_image
            + input_tokens * prices.per_million_input_tokens / 1e6
            + output_tokens * prices.per_million_output_tokens / 1e6
        )
        return Usage(input_tokens=input_tokens, output_tokens=output_tokens, images=images, cost=round(cost, 8))

    def _json_config(self, answer: type[msgspec.Struct], **extra: object) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(
            response_mime_type="application/json",
            response_json_schema=response_schema(answer),
            thinking_config=self._thinking,
            **extra,  # type: ignore[arg-type]  # GenerateContentConfig fields a stage adds (e.g. image_config)
        )

    async def enhance(self, request: GenerationRequest) -> tuple[str, Usage]:
        response = await self._call(
            "enhance",
            model=self.settings.text_model,
            contents=normalize_prompt(request.prompt),
            config=self._json_config(EnhancedAnswer, system_instruction=enhance_instruction(request), temperature=0.7),
        )
        text = text_of(candidate_parts(response, "enhance"))
        answer: EnhancedAnswer = decode_answer(text, EnhancedAnswer, stage="enhance")
        prompt = " ".join(answer.prompt.split())[:MAX_PROMPT]
        if not prompt:
            raise MalformedResponse("the model's enhanced prompt is blank", stage="enhance")
        return prompt, self._usage(response)

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        parts = [types.Part.from_text(text=prompt)]
        for reference in request.references:
            parts.append(types.Part.from_text(text=f"Reference image @{reference.name}:"))
            parts.append(types.Part.from_bytes(data=reference.data, mime_type=reference.mime))
        return await self._draw("synthesize", parts, request)

    async def extend(self, request: ExtensionRequest) -> Synthesis:
        """Outpainting: the image as input, the new aspect in the image config, and an instruction to
        continue the scene into the new margins rather than redraw it."""
        parts = [
            types.Part.from_text(text=extend_instruction(request)),
            types.Part.from_bytes(data=request.image, mime_type=request.mime),
        ]
        return await self._draw("extend", parts, request)

    async def _draw(self, stage: str, parts: list[types.Part], request: GenerationRequest | ExtensionRequest) -> Synthesis:
        """One image from the image model, at the request's aspect class and seed."""
        config = types.GenerateContentConfig(
            response_modalities=["IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=request.aspect_class),
            seed=request.seed,
        )
        model = request.model or self.settings.image_model  # the caller chose it (a catalogue entry or resolve_model)
        response = await self._call(stage, model=model, contents=parts, config=config)
        blob = image_part(candidate_parts(response, stage), response, stage)
        return Synthesis(
            data=blob.data or b"",
            mime=blob.mime_type or "image/png",
            model=response.model_version or model,
            usage=self._usage(response, images=1),
        )

    async def analyze(self, data: bytes, mime: str, prompt: str) -> tuple[Analysis, Usage]:
        def probe() -> tuple[bytes, tuple[str, ...]]:
            image = thumbnail(data, ANALYSIS_SIDE)
            return image.jpegsave_buffer(Q=85, keep="none"), dominant_colors(image)

        jpeg, colors = await asyncio.to_thread(probe)
        contents = [
            types.Part.from_bytes(data=jpeg, mime_type="image/jpeg"),
            types.Part.from_text(text=f"{ANALYSIS_INSTRUCTION}\n\nPrompt: {prompt}"),
        ]
        response = await self._call(
            "analyze", model=self.settings.text_model, contents=contents, config=self._json_config(AnalysisAnswer)
        )
        text = text_of(candidate_parts(response, "analyze"))
        answer: AnalysisAnswer = decode_answer(text, AnalysisAnswer, stage="analyze")
        return analysis_from_answer(answer, colors), self._usage(response)

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()
