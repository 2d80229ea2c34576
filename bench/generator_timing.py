"""Generation benchmarks: the pipeline's own overhead per stage, and the offline renderer's speed.

    PYTHONPATH=src python bench/generator_timing.py [--runs 30]

1. Overhead with the fake Gemini server (harness/fake_gemini.py), the real
   google-genai client and no scripted delays. For every run and stage:
   stage time as the pipeline measured it, minus the time the fake spent
   handling that request (drawing, encoding, JSON). What remains is ours and
   the SDK's: request building, loopback HTTP, response parsing, the image
   header check, the analysis thumbnail and histogram. A second line isolates
   the pipeline machinery alone (deadlines, events, usage, header check) with
   an in-memory provider whose answers are ready-made.
2. The offline generator at 1024x1024: `render` alone and the whole offline
   pipeline, against the physical floor (raw pyvips drawing a 1024² gradient
   and encoding it as PNG the same way).
Medians over `--runs`; one process, one core's worth of work at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for harness.fake_gemini

import pyvips

from generation.models import Analysis, GenerationRequest, Usage
from generation.pipeline import PipelineSettings, generate
from generation.providers.base import Synthesis
from generation.providers.gemini import GeminiProvider, GeminiSettings
from generation.providers.offline import OfflineProvider, render
from harness.fake_gemini import API_KEY, FakeGemini

STAGES = ("enhance", "synthesize", "analyze")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


async def with_fake(runs: int) -> dict[str, tuple[float, float, float]]:
    """stage -> (median stage time, median fake handling, median overhead)."""
    samples: dict[str, list[tuple[float, float]]] = {s: [] for s in STAGES}
    with FakeGemini() as fake:
        provider = GeminiProvider(GeminiSettings(api_key=API_KEY, base_url=fake.url))
        try:
            for i in range(runs + 2):
                before = len(fake.handled)
                result = await generate(provider, GenerationRequest(prompt=f"a lighthouse, take {i}"))
                await asyncio.sleep(0.01)  # let the fake record its last handling time
                handled = fake.handled[before:]
                if i >= 2:  # warm-up: connection set-up, first-call imports
                    for stage, served in zip(STAGES, handled, strict=True):
                        samples[stage].append((result.timings[stage], served))
        finally:
            await provider.aclose()
    return {
        stage: (
            statistics.median(t for t, _ in pairs),
            statistics.median(s for _, s in pairs),
            statistics.median(t - s for t, s in pairs),
        )
        for stage, pairs in samples.items()
    }


class ReadyProvider(OfflineProvider):
    """Answers instantly with a pre-rendered image: only the pipeline's machinery is left to time."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def enhance(self, request: GenerationRequest) -> tuple[str, Usage]:
        return request.prompt, Usage()

    async def synthesize(self, request: GenerationRequest, prompt: str) -> Synthesis:
        return Synthesis(self.data, "image/png", "ready", Usage(images=1))

    async def analyze(self, data: bytes, mime: str, prompt: str) -> tuple[Analysis, Usage]:
        return Analysis(), Usage()


async def machinery(runs: int) -> dict[str, float]:
    provider = ReadyProvider(render(GenerationRequest(prompt="ready")))
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    for i in range(runs + 2):
        result = await generate(provider, GenerationRequest(prompt="x"), PipelineSettings())
        if i >= 2:
            for stage in STAGES:
                samples[stage].append(result.timings[stage])
    return {stage: statistics.median(v) for stage, v in samples.items()}


def median_time(fn: Callable[[int], object], runs: int) -> float:
    times = []
    for i in range(runs + 1):
        started = time.perf_counter()
        fn(i)
        if i:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def floor_1024(_: int) -> bytes:
    xyz = pyvips.Image.xyz(1024, 1024)
    image = ((xyz[0] + xyz[1]) / 8).cast("uchar").bandjoin([xyz[0].cast("uchar"), xyz[1].cast("uchar")])
    return image.pngsave_buffer(compression=3, strip=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs

    print(f"pipeline per stage with the fake Gemini server (median of {runs}):")
    print(f"  {'stage':<11}{'stage time':>12}{'fake served':>14}{'overhead':>12}")
    for stage, (total, served, overhead) in asyncio.run(with_fake(runs)).items():
        print(f"  {stage:<11}{ms(total):>12}{ms(served):>14}{ms(overhead):>12}")
    print("pipeline machinery alone (ready-made answers, no HTTP):")
    for stage, seconds in asyncio.run(machinery(runs)).items():
        print(f"  {stage:<11}{ms(seconds):>12}")

    def square(i: int, label: str) -> GenerationRequest:
        # A fresh prompt each time: libvips caches operations, and text rendering is most of the cost.
        return GenerationRequest(prompt=f"a red fox at dawn, {label} {i}", aspect_class="1:1", seed=i)

    rendered = median_time(lambda i: render(square(i, "render")), runs)
    whole = median_time(lambda i: asyncio.run(generate(OfflineProvider(), square(i, "pipeline"))), runs)
    floor = median_time(floor_1024, runs)
    print(f"offline generator at 1024x1024 (median of {runs}):")
    print(f"  render            {ms(rendered)}   {rendered / floor:5.1f}x the raw pyvips floor")
    print(f"  whole pipeline    {ms(whole)}   {whole / floor:5.1f}x")
    print(f"  raw pyvips floor  {ms(floor)}   (draw a 1024² gradient, PNG compression 3)")


if __name__ == "__main__":
    main()
