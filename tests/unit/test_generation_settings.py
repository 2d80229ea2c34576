"""Generation settings: read from PROMPTPIX_*, validated, and turned into the provider and pipeline."""

from __future__ import annotations

from delivery.app import make_provider
from delivery.settings import Settings
from generation.pipeline import PipelineSettings
from generation.providers.gemini import GeminiProvider
from generation.providers.offline import OfflineProvider


def test_pipeline_policy_comes_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "PROMPTPIX_GENERATION_TIMEOUT": "60",
            "PROMPTPIX_ENHANCE_TIMEOUT": "5",
            "PROMPTPIX_ANALYZE_TIMEOUT": "7.5",
            "PROMPTPIX_GENERATION_ATTEMPTS": "4",
            "PROMPTPIX_GENERATION_BACKOFF": "0.25",
            "PROMPTPIX_GENERATION_MAX_RETRY_WAIT": "3",
        }
    )
    assert settings.pipeline == PipelineSettings(
        enhance_timeout=5, synthesize_timeout=60, analyze_timeout=7.5, attempts=4, backoff=0.25, max_retry_wait=3
    )


async def test_gemini_provider_is_built_from_settings() -> None:
    settings = Settings.from_env(
        {
            "GEMINI_API_KEY": "k",
            "PROMPTPIX_GEMINI_BASE_URL": "http://127.0.0.1:9",
            "PROMPTPIX_GEMINI_IMAGE_MODEL": "img-2",
            "PROMPTPIX_GEMINI_TEXT_MODEL": "txt-2",
            "PROMPTPIX_GEMINI_PRICE_PER_IMAGE": "0.1",
            "PROMPTPIX_GEMINI_PRICE_PER_MILLION_INPUT_TOKENS": "2",
            "PROMPTPIX_GEMINI_PRICE_PER_MILLION_OUTPUT_TOKENS": "3",
        }
    )
    provider = make_provider(settings)
    try:
        assert isinstance(provider, GeminiProvider)
        gemini = provider.settings
        assert (gemini.api_key, gemini.base_url, gemini.image_model, gemini.text_model) == ("k", "http://127.0.0.1:9", "img-2", "txt-2")
        assert (gemini.prices.per_image, gemini.prices.per_million_input_tokens, gemini.prices.per_million_output_tokens) == (0.1, 2, 3)
        assert provider.resolve_model(None) == "img-2"
    finally:
        await provider.aclose()
    assert isinstance(make_provider(Settings.from_env({})), OfflineProvider)
