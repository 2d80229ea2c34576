"""What a Replicate provider is configured with, and which inputs each known model takes.

Light to import (no client): delivery builds these from its settings.
"""

from __future__ import annotations

import msgspec

__all__ = ["KNOWN_MODELS", "ModelInputs", "ReplicateSettings", "inputs_for"]


class ModelInputs(msgspec.Struct, frozen=True, kw_only=True):
    """How one Replicate model is asked for an image: its input names differ from model to model."""

    size: str = "aspect_ratio"
    """`aspect_ratio` (`"16:9"`) or `width_height` (pixel sides of the aspect class)."""
    reference_input: str | None = None
    """The input an image reference goes in (a data URI); None: the model takes none."""
    max_references: int = 0
    extra: dict[str, object] = {}
    """Inputs always sent: output format, safety checker on."""


KNOWN_MODELS: dict[str, ModelInputs] = {
    "black-forest-labs/flux-schnell": ModelInputs(extra={"output_format": "png", "num_outputs": 1}),
    "black-forest-labs/flux-dev": ModelInputs(reference_input="image", max_references=1, extra={"output_format": "png", "num_outputs": 1}),
    "black-forest-labs/flux-kontext-pro": ModelInputs(reference_input="input_image", max_references=1, extra={"output_format": "png"}),
    "google/imagen-4": ModelInputs(extra={"output_format": "png", "safety_filter_level": "block_medium_and_above"}),
    "stability-ai/sdxl": ModelInputs(size="width_height", reference_input="image", max_references=1, extra={"num_outputs": 1}),
}
"""Models whose inputs are known; any other model gets `prompt`, `aspect_ratio` and `seed` only."""


def inputs_for(model: str) -> ModelInputs:
    """`owner/name:version` and `owner/name` share the inputs of `owner/name`."""
    return KNOWN_MODELS.get(model.partition(":")[0], ModelInputs())


class ReplicateSettings(msgspec.Struct, frozen=True, kw_only=True):
    api_token: str
    base_url: str | None = None
    """None is Replicate's endpoint; tests point it at harness/fake_replicate.py."""
    model: str = "black-forest-labs/flux-schnell"
    """`owner/name:version` pins a version; `owner/name` is an official model at its current version."""
    price_per_image: float = 0.003
    price_per_second: float = 0.0
    """For models billed by prediction time (`metrics.predict_time`)."""
    max_output_bytes: int = 20 * 1024 * 1024
    download_timeout: float = 30.0
    poll_interval: float = 0.5
