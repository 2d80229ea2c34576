"""The offline embedder, the fake Gemini's vectors and the embedding settings: no servers."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from delivery.assets.embeddings import document_text
from delivery.db.assets import Asset
from delivery.settings import Settings, SettingsError
from generation import EMBEDDING_DIMENSIONS, OFFLINE_EMBEDDING_MODEL, OfflineEmbedder, hashed_embedding
from harness.fake_gemini import fake_embedding


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_offline_vectors_are_deterministic_unit_vectors_of_words() -> None:
    embedder = OfflineEmbedder()
    fox, again, foxes, cat = await embedder.embed(["A red fox", "a red fox", "the red foxes", "a sleeping cat"], task="document")
    assert embedder.model == OFFLINE_EMBEDDING_MODEL and len(fox) == EMBEDDING_DIMENSIONS
    assert math.isclose(math.fsum(x * x for x in fox), 1.0) and fox == again
    assert cosine(fox, foxes) == pytest.approx(1.0)  # stop words out, plurals folded
    assert abs(cosine(fox, cat)) < 0.2
    assert hashed_embedding("") == [0.0] * EMBEDDING_DIMENSIONS


def test_the_fakes_synonyms_bring_a_paraphrase_near_its_target() -> None:
    target = fake_embedding("a red fox running through the snow", 768)
    paraphrase = fake_embedding("crimson vixen sprinting in a blizzard", 768)
    assert cosine(target, paraphrase) > 0.7
    assert cosine(target, hashed_embedding("crimson vixen sprinting in a blizzard")) < 0.2  # without the table: other words
    assert len(fake_embedding("x")) == 3072  # the model's full size when none is asked for


def test_the_document_is_what_describes_the_asset() -> None:
    asset = Asset(
        id="a" * 32, project_id=1, source="generated", storage_key="k", mime="image/png", width=1, height=1, bytes=1,
        alt_text="A fox.", tags=["animal", "winter"], prompt="a fox", enhanced_prompt="a fox, cinematic", created_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    assert document_text(asset) == "A fox.\nanimal, winter\na fox\na fox, cinematic"
    assert document_text(Asset(**{**{f: getattr(asset, f) for f in asset.__struct_fields__}, "alt_text": "", "tags": [], "prompt": None, "enhanced_prompt": None})) == ""


def test_embedding_settings() -> None:
    assert Settings().embeddings_name == "off"  # auto without a key: full-text search only
    assert Settings(gemini_api_key="k").embeddings_name == "gemini"
    assert Settings(embeddings="offline").embeddings_name == "offline"
    with pytest.raises(SettingsError, match="PROMPTPIX_EMBEDDINGS=gemini needs GEMINI_API_KEY"):
        Settings(embeddings="gemini").validate()
