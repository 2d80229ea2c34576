"""The offline, rule-based enhancer: the subject first, then the style, the flow, the frame."""

from __future__ import annotations

from generation.enhance import STYLES, enhance_offline, style_text
from generation.models import GenerationRequest


def test_a_built_in_style_is_applied() -> None:
    enhanced = enhance_offline(GenerationRequest(prompt="  a  fox\nat dawn ", style="watercolor", aspect_class="16:9"))
    assert enhanced.startswith("a fox at dawn, " + STYLES["watercolor"])
    assert enhanced.endswith("composition for a 16:9 frame, clear subject, balanced light")


def test_the_callers_style_text_wins_over_the_name() -> None:
    request = GenerationRequest(prompt="a fox", style="watercolor", style_prompt="neon  noir")
    assert style_text(request) == "neon noir"
    assert "neon noir" in enhance_offline(request) and "watercolour" not in enhance_offline(request)


def test_unknown_style_names_add_nothing_and_context_is_kept() -> None:
    request = GenerationRequest(prompt="the same fox asleep", style="house", context=("a fox at dawn", "a fox at noon"))
    assert enhance_offline(request) == (
        "the same fox asleep, continuing: a fox at dawn / a fox at noon, "
        "composition for a 1:1 frame, clear subject, balanced light"
    )
