"""Generation: prompt in, image and metadata out.

Pure by design: no HTTP server, no database, no storage. The delivery service
stores what this package returns; this package never imports ``delivery``.
This module is the package's public API: ``delivery`` imports nothing else.
"""

from __future__ import annotations

from generation.analysis import analyze_offline
from generation.enhance import STYLES, normalize_prompt
from generation.errors import (
    GenerationError,
    MalformedResponse,
    NoImage,
    PromptRejected,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderUnavailable,
    StageTimeout,
)
from generation.models import (
    ASPECT_CLASSES,
    Analysis,
    FocalPoint,
    GeneratedImage,
    GenerationRequest,
    ReferenceImage,
    Usage,
    nearest_aspect_class,
)
from generation.pipeline import PipelineSettings, StageEvent, generate
from generation.providers.base import Provider, Synthesis
from generation.providers.delayed import DelayedProvider, with_offline_delay
from generation.providers.gemini_settings import GeminiPrices, GeminiSettings
from generation.providers.offline import OFFLINE_MODEL, OfflineProvider

__all__ = [
    "ASPECT_CLASSES",
    "OFFLINE_MODEL",
    "STYLES",
    "Analysis",
    "DelayedProvider",
    "FocalPoint",
    "GeminiPrices",
    "GeminiSettings",
    "GeneratedImage",
    "GenerationError",
    "GenerationRequest",
    "MalformedResponse",
    "NoImage",
    "OfflineProvider",
    "PipelineSettings",
    "PromptRejected",
    "Provider",
    "ProviderMisconfigured",
    "ProviderRateLimited",
    "ProviderUnavailable",
    "ReferenceImage",
    "StageEvent",
    "StageTimeout",
    "Synthesis",
    "Usage",
    "analyze_offline",
    "gemini_provider",
    "generate",
    "nearest_aspect_class",
    "normalize_prompt",
    "with_offline_delay",
]


def gemini_provider(settings: GeminiSettings) -> Provider:
    """Google Gemini through google-genai, imported only when a deployment uses it (it is slow to import)."""
    from generation.providers.gemini import GeminiProvider

    return GeminiProvider(settings)
