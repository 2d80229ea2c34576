"""The prompt policy of the safety gate: characters, length, blocklist with allowlist, the moderator's verdict."""

from __future__ import annotations

import re

import pytest

from generation.safety import PromptBlocked, PromptPolicy, Verdict, check_prompt, screen_prompt, terms

POLICY = PromptPolicy(blocklist=terms("gore, shoot, blood bath"), allowlist=terms("photo shoot"), max_chars=40)


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("a fox\x00at dawn", "control character U+0000"),
        ("a fox\x1b[31m", "control character U+001B"),
        ("a fox\x85", "control character U+0085"),
        ("a fox \ue000", "unusable character U+E000"),
        ("x" * 41, "longer than 40 characters"),
        ("Some GORE here", "blocked term (gore)"),
        ("they shoot at dawn", "blocked term (shoot)"),
        ("a blood   bath", "blocked term (blood bath)"),
        ("a photo shoot, then shoot", "blocked term (shoot)"),
    ],
)
def test_refused_prompts_name_their_reason(prompt: str, reason: str) -> None:
    with pytest.raises(PromptBlocked, match=re.escape(reason)) as refused:
        check_prompt(prompt, POLICY)
    assert refused.value.stage == "safety"


@pytest.mark.parametrize("prompt", ["a fox at dawn", "gorey details", "an autumn photo shoot", "tab\tand\nnewline", "été à Paris 🦊"])
def test_allowed_prompts_pass(prompt: str) -> None:
    check_prompt(prompt, POLICY)


def test_terms_are_normalised_and_project_terms_add_to_the_deployments() -> None:
    assert terms(" Gore ,, BLOOD   bath,gore ") == ("gore", "blood bath")
    merged = POLICY.merged(blocklist=["Fox"], allowlist=["fox terrier"])
    assert merged.blocklist == ("gore", "shoot", "blood bath", "fox") and merged.allowlist == ("photo shoot", "fox terrier")
    with pytest.raises(PromptBlocked, match=r"\(fox\)"):
        check_prompt("a fox", merged)
    check_prompt("a fox terrier", merged)


class Moderator:
    name = "test"

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.asked: list[str] = []

    async def moderate(self, prompt: str) -> Verdict:
        self.asked.append(prompt)
        return self.verdict

    async def aclose(self) -> None:
        pass


async def test_the_moderator_is_asked_only_after_the_local_checks_pass() -> None:
    refusing = Moderator(Verdict(allowed=False, reason="violence"))
    with pytest.raises(PromptBlocked, match="refused by moderation: violence") as refused:
        await screen_prompt("a fox", POLICY, refusing)
    assert refused.value.stage == "moderation" and refusing.asked == ["a fox"]
    with pytest.raises(PromptBlocked, match="blocked term"):
        await screen_prompt("gore", POLICY, refusing)
    assert refusing.asked == ["a fox"]  # the cheap check answered first
    await screen_prompt("a fox", POLICY, Moderator(Verdict(allowed=True)))
