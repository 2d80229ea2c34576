"""The safety gate in front of every paid call: a prompt policy, then an optional moderation call.

The gate runs before anything is reserved or any provider is called, so a
refused prompt costs nothing. Its checks, in order, cheapest first:

- characters: NUL and other control characters (C0, C1, except tab and line
  breaks) are refused, and so are unassigned and private-use code points,
  since no model is trained on them and they hide text from the blocklist;
- length, in characters;
- the blocklist: words and phrases matched as whole words, case-folded, after
  the allowlist's phrases are taken out of the prompt (so `photo shoot` can be
  allowed while `shoot` is blocked);
- the moderator, when one is configured: a classifier the caller supplies
  (delivery passes the Gemini one, `generation.providers.gemini_moderation`).

Provider-side refusals (the model's own safety filter) stay the provider's,
after the call, as `PromptRejected`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Protocol

import msgspec

from generation.errors import GenerationError

__all__ = ["Moderator", "PromptBlocked", "PromptPolicy", "Verdict", "check_prompt", "screen_prompt", "terms"]

_ALLOWED_CONTROLS = frozenset("\t\n\r")


class PromptBlocked(GenerationError):
    """Our own policy refused the prompt before any spend; `message` is the public reason."""


class Verdict(msgspec.Struct, frozen=True):
    allowed: bool
    reason: str = ""
    """Public: shown to the client when the prompt is refused."""


class Moderator(Protocol):
    name: str

    async def moderate(self, prompt: str) -> Verdict:
        """Classify a prompt; raise a `GenerationError` when the classifier cannot answer."""
        ...

    async def aclose(self) -> None: ...


class PromptPolicy(msgspec.Struct, frozen=True, kw_only=True):
    blocklist: tuple[str, ...] = ()
    allowlist: tuple[str, ...] = ()
    max_chars: int = 2000

    def merged(self, *, blocklist: Iterable[str] = (), allowlist: Iterable[str] = ()) -> PromptPolicy:
        """This policy with a project's own terms added."""
        return PromptPolicy(
            blocklist=tuple(dict.fromkeys([*self.blocklist, *terms(blocklist)])),
            allowlist=tuple(dict.fromkeys([*self.allowlist, *terms(allowlist)])),
            max_chars=self.max_chars,
        )


def terms(raw: str | Iterable[str]) -> tuple[str, ...]:
    """Normalised terms from a comma-separated string or a list: trimmed, case-folded, no empties, no repeats."""
    items = raw.split(",") if isinstance(raw, str) else raw
    return tuple(dict.fromkeys(t for item in items if (t := " ".join(item.split()).casefold())))


def _phrase(term: str) -> re.Pattern[str]:
    # Whole words: `ass` must not match `class`; inner spaces match any run of whitespace.
    body = r"\s+".join(re.escape(word) for word in term.split())
    return re.compile(rf"(?<!\w){body}(?!\w)")


def _bad_character(prompt: str) -> str | None:
    for char in prompt:
        if char in _ALLOWED_CONTROLS:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            return f"a control character U+{ord(char):04X}"
        if category in ("Co", "Cn", "Cs"):
            return f"an unusable character U+{ord(char):04X}"
    return None


def check_prompt(prompt: str, policy: PromptPolicy) -> None:
    """The local checks; raise `PromptBlocked` with a public reason."""
    bad = _bad_character(prompt)
    if bad is not None:
        raise PromptBlocked(f"the prompt contains {bad}", stage="safety")
    if len(prompt) > policy.max_chars:
        raise PromptBlocked(f"the prompt is longer than {policy.max_chars} characters", stage="safety")
    text = unicodedata.normalize("NFKC", prompt).casefold()
    for allowed in policy.allowlist:
        text = _phrase(allowed).sub(" ", text)
    for blocked in policy.blocklist:
        if _phrase(blocked).search(text):
            raise PromptBlocked(f"the prompt contains a blocked term ({blocked})", stage="safety")


async def screen_prompt(prompt: str, policy: PromptPolicy, moderator: Moderator | None) -> None:
    """The whole gate: local checks, then the moderator's verdict when one is configured."""
    check_prompt(prompt, policy)
    if moderator is None:
        return
    verdict = await moderator.moderate(prompt)
    if not verdict.allowed:
        reason = verdict.reason.strip()[:200] or "it was classified as unsafe"
        raise PromptBlocked(f"the prompt was refused by moderation: {reason}", stage="moderation")
