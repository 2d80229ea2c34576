"""Prompt normalisation and the offline, rule-based enhancer.

Normalisation is shared with the caller's generation key: two prompts that
differ only in Unicode form or spacing are the same prompt.
"""

from __future__ import annotations

import re
import unicodedata

from generation.models import GenerationRequest

__all__ = ["STYLES", "enhance_offline", "normalize_prompt", "prompt_words", "style_text"]

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_REFERENCE = re.compile(r"(?<![\w@])@[\w-]+")
"""An `@name` reference as delivery finds them in prompts (names are letters, digits, `_` and `-`)."""
_STOPWORDS = frozenset(
    ["a", "an", "the", "and", "or", "of", "at", "in", "on", "to", "for", "with", "by", "from", "into", "over", "under"]
    + ["is", "are", "be", "as", "its", "it", "this", "that"]
)

# Built-in styles: what a style name adds to a prompt when the caller (a
# project's own styles, in delivery) does not supply the text itself.
STYLES: dict[str, str] = {
    "photo": "photorealistic photograph, natural light, 35mm lens, shallow depth of field",
    "illustration": "clean digital illustration, bold shapes, limited palette",
    "watercolor": "watercolour painting on textured paper, soft washes, visible brush strokes",
    "3d": "3D render, soft global illumination, smooth materials, studio backdrop",
    "line-art": "black ink line art on white, precise contours, no shading",
    "flat": "flat vector design, solid colours, geometric shapes, no gradients",
}


def style_text(request: GenerationRequest) -> str:
    """The request's own style text wins; else the built-in style of that name; else nothing."""
    if request.style_prompt:
        return normalize_prompt(request.style_prompt)
    return STYLES.get(request.style or "", "")


def normalize_prompt(prompt: str) -> str:
    """NFC, collapsed whitespace, trimmed: the form a generation key hashes."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", prompt)).strip()


def prompt_words(prompt: str) -> list[str]:
    """Content words, lower-cased, in order, without repeats: tags and labels."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(_REFERENCE.sub(" ", prompt.lower())):  # `@prev`, `@logo`: references, not content
        if word not in _STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)


def enhance_offline(request: GenerationRequest) -> str:
    """Deterministic rules standing in for the LLM enhancer: subject, style, context, framing."""
    parts = [normalize_prompt(request.prompt), style_text(request)]
    if request.context:
        parts.append("continuing: " + " / ".join(normalize_prompt(c) for c in request.context))
    parts.append(f"composition for a {request.aspect_class} frame, clear subject, balanced light")
    return ", ".join(p for p in parts if p)
