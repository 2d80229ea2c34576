"""Prompt normalisation and the offline, rule-based enhancer.

Normalisation is shared with the caller's generation key: two prompts that
differ only in Unicode form or spacing are the same prompt.
"""

from __future__ import annotations

import re
import unicodedata

from generation.models import GenerationRequest

__all__ = ["enhance_offline", "normalize_prompt", "prompt_words"]

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_STOPWORDS = frozenset(
    "a an the and or of at in on to for with by from into over under is are be as its it this that".split()
)


def normalize_prompt(prompt: str) -> str:
    """NFC, collapsed whitespace, trimmed: the form a generation key hashes."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", prompt)).strip()


def prompt_words(prompt: str) -> list[str]:
    """Content words, lower-cased, in order, without repeats: tags and labels."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(prompt.lower()):
        if word not in _STOPWORDS and not word.startswith("@"):
            seen.setdefault(word, None)
    return list(seen)


def enhance_offline(request: GenerationRequest) -> str:
    """Deterministic rules standing in for the LLM enhancer: subject, style, context, framing."""
    parts = [normalize_prompt(request.prompt)]
    if request.style_prompt:
        parts.append(normalize_prompt(request.style_prompt))
    if request.context:
        parts.append("continuing: " + " / ".join(normalize_prompt(c) for c in request.context))
    parts.append(f"composition for a {request.aspect_class} frame, clear subject, balanced light")
    return ", ".join(p for p in parts if p)
