"""What we ask Gemini's text model for, and how its structured answers are checked.

The JSON schemas sent as `response_json_schema` are generated from the same
msgspec Structs that validate the answers, so the two cannot drift. A model's
answer is still untrusted input: it is decoded strictly, then clamped and
trimmed; anything that does not fit raises `MalformedResponse`, and the
pipeline falls back to the offline rules.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from generation.enhance import normalize_prompt, style_text
from generation.errors import MalformedResponse
from generation.models import ASPECT_CLASSES, Analysis, ExtensionRequest, FocalPoint, GenerationRequest

__all__ = [
    "ANALYSIS_INSTRUCTION",
    "AnalysisAnswer",
    "EnhancedAnswer",
    "analysis_from_answer",
    "decode_answer",
    "enhance_instruction",
    "extend_instruction",
    "response_schema",
]

MAX_PROMPT = 4000
MAX_ALT_TEXT = 300
MAX_TAGS = 12
MAX_TAG = 40

_Fraction = Annotated[float, msgspec.Meta(extra_json_schema={"minimum": 0, "maximum": 1})]
"""In the schema (a hint to the model) but not enforced on decode: out-of-range values are clamped."""


class EnhancedAnswer(msgspec.Struct, frozen=True):
    prompt: Annotated[str, msgspec.Meta(min_length=1, description="The rewritten prompt, in English")]


class AnswerPoint(msgspec.Struct, frozen=True):
    x: Annotated[_Fraction, msgspec.Meta(description="Fraction of the width, 0 = left edge")]
    y: Annotated[_Fraction, msgspec.Meta(description="Fraction of the height, 0 = top edge")]


class AnalysisAnswer(msgspec.Struct, frozen=True):
    focal_point: Annotated[AnswerPoint, msgspec.Meta(description="Centre of the main subject")]
    alt_text: Annotated[str, msgspec.Meta(min_length=1, description="One sentence describing the image for a screen reader")]
    tags: Annotated[list[str], msgspec.Meta(description="Up to 12 lower-case keywords")]


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace `$ref`s by their definitions: Gemini's schema support is a subset of JSON Schema."""
    if isinstance(node, dict):
        if "$ref" in node:
            definition = {k: v for k, v in defs[node["$ref"].rsplit("/", 1)[-1]].items() if k != "title"}
            return _inline(definition, defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def response_schema(answer: type[msgspec.Struct]) -> dict[str, Any]:
    schema = msgspec.json.schema(answer)
    return _inline({k: v for k, v in schema.items() if k != "$defs"}, schema.get("$defs", {}))


def decode_answer(text: str, answer: type[msgspec.Struct], *, stage: str) -> Any:
    try:
        return msgspec.json.decode(text.encode(), type=answer)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedResponse(f"the model's {stage} answer did not match its schema", stage=stage, detail=str(exc)) from exc


def enhance_instruction(request: GenerationRequest) -> str:
    """The system instruction for prompt enhancement: the user's text goes in the content."""
    width, height = ASPECT_CLASSES[request.aspect_class]
    shape = "landscape" if width > height else "portrait" if height > width else "square"
    style = style_text(request)
    lines = [
        "You write prompts for an image generation model.",
        "Rewrite the user's request as one detailed prompt in English.",
        "Keep the user's subject and everything they asked for (objects, people, places, counts, colours, text); "
        "never replace or drop any of it.",
        "If the request is not in English, translate it to English first.",
        "Add composition, setting, lighting and medium details that serve the subject.",
        f"Apply this style: {style}." if style else "No style was requested: choose one that suits the subject.",
        f"The image is {request.aspect_class} ({shape}); compose for that frame.",
        "Names written @name refer to reference images sent with the request: keep them as written.",
    ]
    if request.context:
        earlier = " / ".join(normalize_prompt(c) for c in request.context)
        lines.append(f"Earlier images in this series were prompted with: {earlier}. Keep the result consistent with them.")
    lines.append('Answer with JSON only: {"prompt": "..."}.')
    return "\n".join(lines)


ANALYSIS_INSTRUCTION = (
    "Look at this image, generated for the prompt below. Answer with JSON only: "
    "the focal point (centre of the main subject) as fractions of width and height, "
    "alt text (one plain sentence for a screen reader, no 'image of'), and up to 12 lower-case tags."
)


def _tags(raw: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for tag in raw:
        cleaned = normalize_prompt(tag).lower()[:MAX_TAG]
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)[:MAX_TAGS]


def analysis_from_answer(answer: AnalysisAnswer, colors: tuple[str, ...]) -> Analysis:
    alt_text = normalize_prompt(answer.alt_text)[:MAX_ALT_TEXT]
    if not alt_text:
        raise MalformedResponse("the model's analysis has no alt text", stage="analyze")
    return Analysis(
        focal_point=FocalPoint.clamped(answer.focal_point.x, answer.focal_point.y),
        alt_text=alt_text,
        tags=_tags(answer.tags),
        colors=colors,
    )


EXTEND_INSTRUCTION = "Extend this image"
"""How an extension request starts (the fake Gemini tells extension from synthesis by it)."""


def extend_instruction(request: ExtensionRequest) -> str:
    """Outpainting: keep every pixel of the given image, draw only the new margins."""
    lines = [
        f"{EXTEND_INSTRUCTION} to the aspect ratio {request.aspect_class}.",
        "Keep the given image exactly as it is, unscaled in shape and centred; do not change, move or redraw anything in it.",
        "Only fill the new area around it, continuing the same scene, light, perspective and style seamlessly.",
    ]
    if request.prompt:
        lines.append(f"The image shows: {normalize_prompt(request.prompt)[:MAX_PROMPT]}")
    return "\n".join(lines)
