"""Generation: prompt in, image and metadata out.

Pure by design: no HTTP server, no database, no storage. The delivery service
stores what this package returns; this package never imports ``delivery``.
This module is the package's public API: ``delivery`` imports nothing else.
"""

from __future__ import annotations

from generation.analysis import analyze_offline
from generation.embeddings import EMBEDDING_DIMENSIONS, OFFLINE_EMBEDDING_MODEL, Embedder, EmbedTask, OfflineEmbedder, hashed_embedding
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
    ExtensionRequest,
    FocalPoint,
    GeneratedImage,
    GenerationRequest,
    ReferenceImage,
    Usage,
    nearest_aspect_class,
    placement,
)
from generation.pipeline import PipelineSettings, StageEvent, can_extend, describe, extend, generate
from generation.providers.base import Provider, Synthesis
from generation.providers.delayed import DelayedProvider, with_offline_delay
from generation.providers.gemini_settings import GeminiPrices, GeminiSettings
from generation.providers.offline import OFFLINE_MODEL, OfflineProvider
from generation.providers.replicate_settings import ReplicateSettings
from generation.safety import Moderator, PromptBlocked, PromptPolicy, Verdict, check_prompt, screen_prompt, terms

__all__ = [
    "ASPECT_CLASSES",
    "EMBEDDING_DIMENSIONS",
    "OFFLINE_EMBEDDING_MODEL",
    "OFFLINE_MODEL",
    "STYLES",
    "Analysis",
    "DelayedProvider",
    "EmbedTask",
    "Embedder",
    "ExtensionRequest",
    "FocalPoint",
    "GeminiPrices",
    "GeminiSettings",
    "GeneratedImage",
    "GenerationError",
    "GenerationRequest",
    "MalformedResponse",
    "Moderator",
    "NoImage",
    "OfflineEmbedder",
    "OfflineProvider",
    "PipelineSettings",
    "PromptBlocked",
    "PromptPolicy",
    "PromptRejected",
    "Provider",
    "ProviderMisconfigured",
    "ProviderRateLimited",
    "ProviderUnavailable",
    "ReferenceImage",
    "ReplicateSettings",
    "StageEvent",
    "StageTimeout",
    "Synthesis",
    "Usage",
    "Verdict",
    "analyze_offline",
    "can_extend",
    "check_prompt",
    "describe",
    "extend",
    "gemini_embedder",
    "gemini_moderator",
    "gemini_provider",
    "generate",
    "hashed_embedding",
    "nearest_aspect_class",
    "normalize_prompt",
    "placement",
    "replicate_provider",
    "screen_prompt",
    "terms",
    "with_offline_delay",
]


def gemini_provider(settings: GeminiSettings) -> Provider:
    """Google Gemini through google-genai, imported only when a deployment uses it (it is slow to import)."""
    from generation.providers.gemini import GeminiProvider

    return GeminiProvider(settings)


def replicate_provider(settings: ReplicateSettings) -> Provider:
    """Replicate through its official client, imported only when a deployment uses it."""
    from generation.providers.replicate import ReplicateProvider

    return ReplicateProvider(settings)


def gemini_moderator(*, api_key: str, base_url: str | None, model: str, timeout: float) -> Moderator:
    """The safety gate's classifier: a Gemini text model through google-genai."""
    from generation.providers.gemini_moderation import GeminiModerator

    return GeminiModerator(api_key=api_key, base_url=base_url, model=model, timeout=timeout)


def gemini_embedder(*, api_key: str, base_url: str | None, model: str, timeout: float) -> Embedder:
    """Semantic search's embeddings: a Gemini embedding model through google-genai."""
    from generation.providers.gemini_embeddings import GeminiEmbedder

    return GeminiEmbedder(api_key=api_key, base_url=base_url, model=model, timeout=timeout)
