"""What a Gemini provider is configured with: light to import, unlike the google-genai client."""

from __future__ import annotations

import msgspec

__all__ = ["GeminiPrices", "GeminiSettings"]


class GeminiPrices(msgspec.Struct, frozen=True, kw_only=True):
    """Credits per drawn image and per million tokens (Google's list prices in USD by default)."""

    per_image: float = 0.039
    per_million_input_tokens: float = 0.30
    per_million_output_tokens: float = 2.50


class GeminiSettings(msgspec.Struct, frozen=True, kw_only=True):
    api_key: str
    base_url: str | None = None
    """None is Google's endpoint; tests and proxies point it elsewhere."""
    image_model: str = "gemini-2.5-flash-image"
    text_model: str = "gemini-2.5-flash"
    thinking_budget: int | None = 0
    """Thinking tokens for the text model; 0 keeps enhancement fast, None is the model's default."""
    prices: GeminiPrices = GeminiPrices()
