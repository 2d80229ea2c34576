"""Per-generation overhead of the safety gate (generation.safety), in milliseconds.

    PYTHONPATH=src python bench/safety_gate.py [--runs 200]

1. The local policy alone (characters, length, a 50-term blocklist with an
   allowlist) on a typical 120-character prompt: what every miss pays.
2. With the moderation call: the real google-genai client against the fake
   Gemini server (harness/fake_gemini.py) on loopback, one call per prompt.
   The fake answers at once, so this is our and the SDK's cost; a real
   classifier adds its own latency on top.
Medians (and p95) over `--runs`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for harness.fake_gemini

from generation.providers.gemini_moderation import GeminiModerator
from generation.safety import PromptPolicy, check_prompt, screen_prompt, terms
from harness.fake_gemini import API_KEY, FakeGemini

PROMPT = "a red fox at dawn in a misty forest, soft golden light through the pines, photographed on a 85mm lens, shallow depth"
POLICY = PromptPolicy(blocklist=terms([f"blockedterm{i}" for i in range(48)] + ["gore", "blood bath"]), allowlist=terms("blood bath bombs"))


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"median {statistics.median(ordered) * 1000:.3f} ms, p95 {ordered[int(len(ordered) * 0.95) - 1] * 1000:.3f} ms"


async def moderated(runs: int) -> list[float]:
    with FakeGemini() as fake:
        moderator = GeminiModerator(api_key=API_KEY, base_url=fake.url, model="gemini-2.5-flash", timeout=10)
        try:
            await screen_prompt(PROMPT, POLICY, moderator)  # warm: connection, schema
            samples = []
            for i in range(runs):
                started = time.perf_counter()
                await screen_prompt(f"{PROMPT} {i}", POLICY, moderator)
                samples.append(time.perf_counter() - started)
            return samples
        finally:
            await moderator.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs
    local = []
    for i in range(runs):
        started = time.perf_counter()
        check_prompt(f"{PROMPT} {i}", POLICY)
        local.append(time.perf_counter() - started)
    print(f"local policy (50 blocked terms): {summary(local)}")
    print(f"policy + moderation (google-genai, fake Gemini on loopback): {summary(asyncio.run(moderated(runs)))}")


if __name__ == "__main__":
    main()
