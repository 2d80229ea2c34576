"""Structured answers from the text model: schemas sent, answers checked, clamped and trimmed."""

from __future__ import annotations

import pytest

from generation.errors import MalformedResponse
from generation.models import FocalPoint, GenerationRequest
from generation.providers.gemini_answers import (
    AnalysisAnswer,
    analysis_from_answer,
    decode_answer,
    enhance_instruction,
    response_schema,
)


def test_schemas_are_self_contained() -> None:
    schema = response_schema(AnalysisAnswer)
    assert "$ref" not in str(schema) and "$defs" not in schema
    assert schema["properties"]["focal_point"]["required"] == ["x", "y"]
    assert schema["properties"]["tags"] == {"description": "Up to 12 lower-case keywords", "type": "array", "items": {"type": "string"}}


def test_answers_are_clamped_and_cleaned() -> None:
    answer = decode_answer(
        '{"focal_point": {"x": 1.7, "y": -3}, "alt_text": "  A heron\\n standing. ", "tags": ["Heron", "heron ", "", "Reeds"]}',
        AnalysisAnswer,
        stage="analyze",
    )
    analysis = analysis_from_answer(answer, ("112233",))
    assert analysis.focal_point == FocalPoint(1.0, 0.0)
    assert analysis.alt_text == "A heron standing." and analysis.tags == ("heron", "reeds")
    assert analysis.colors == ("112233",)


def test_tags_and_alt_text_are_bounded() -> None:
    answer = decode_answer(
        '{"focal_point": {"x": 0.2, "y": 0.4}, "alt_text": "' + "x" * 900 + '", "tags": ['
        + ", ".join(f'"tag{i}"' for i in range(30)) + "]}",
        AnalysisAnswer,
        stage="analyze",
    )
    analysis = analysis_from_answer(answer, ())
    assert len(analysis.alt_text) == 300 and len(analysis.tags) == 12


@pytest.mark.parametrize("text", ["", "[]", '{"focal_point": {"x": "left", "y": 0}, "alt_text": "a", "tags": []}'])
def test_malformed_answers_raise(text: str) -> None:
    with pytest.raises(MalformedResponse, match="analyze answer did not match its schema"):
        decode_answer(text, AnalysisAnswer, stage="analyze")


def test_the_instruction_without_a_style_lets_the_model_choose() -> None:
    instruction = enhance_instruction(GenerationRequest(prompt="x", aspect_class="1:1"))
    assert "No style was requested" in instruction and "1:1 (square)" in instruction
    assert "Earlier images" not in instruction
