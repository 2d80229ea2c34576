"""`promptpix generate` from the shell: offline, and with PROMPTPIX_GENERATOR=gemini against the fake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fake_gemini import API_KEY, FakeGemini, Reply
from tests.images import decode, solid

SRC = str(Path(__file__).resolve().parents[2] / "src")


def promptpix(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTPIX_") and k != "GEMINI_API_KEY"}
    clean["PYTHONPATH"] = SRC + os.pathsep + clean.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "delivery.cli.main", "generate", *args],
        env={**clean, "PROMPTPIX_LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_offline_writes_the_requested_format_with_progress(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(solid(200, 200, (0, 255, 0)))
    out = tmp_path / "fox.webp"
    done = promptpix("a red fox at dawn", "--out", str(out), "--aspect", "16:9", "--seed", "3", "--style", "photo",
                     "--reference", str(logo), env={"PROMPTPIX_GENERATOR": "offline"})
    assert done.returncode == 0, done.stderr
    image, fmt = decode(out.read_bytes())
    assert (image.width, image.height, fmt) == (1344, 768, "webp")
    green = (image[0] < 30) & (image[1] > 225) & (image[2] < 30)
    assert green.avg() / 255 > 0.02  # the reference was passed to the renderer
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines if line.strip().endswith(" s")] == ["enhance", "synthesize", "analyze"]
    assert "photorealistic photograph" in done.stdout and "offline preview" in done.stdout
    assert f"wrote {out} (1344x768 webp" in done.stdout


def test_gemini_through_the_fake(tmp_path: Path, fake_gemini: FakeGemini) -> None:
    out = tmp_path / "kite.jpg"
    env = {"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": API_KEY, "PROMPTPIX_GEMINI_BASE_URL": fake_gemini.url,
           "PROMPTPIX_GEMINI_IMAGE_MODEL": "image-model-x", "PROMPTPIX_GEMINI_PRICE_PER_IMAGE": "0.5"}
    done = promptpix("a kite over dunes", "--out", str(out), "--aspect", "9:16", "--seed", "11", "--style", "watercolor", env=env)
    assert done.returncode == 0, done.stderr
    image, fmt = decode(out.read_bytes())
    assert (image.width, image.height, fmt) == (768, 1344, "jpg")
    assert [r.stage for r in fake_gemini.received] == ["enhance", "synthesize", "analyze"]
    (synthesis,) = fake_gemini.of("synthesize")
    assert (synthesis.model, synthesis.aspect_ratio, synthesis.seed) == ("image-model-x", "9:16", 11)
    assert "watercolour painting" in (fake_gemini.of("enhance")[0].system_instruction or "")
    assert "generating with gemini (image-model-x)" in done.stdout
    assert "focal point: 0.30, 0.70" in done.stdout and "cost: 0.50" in done.stdout


def test_gemini_failure_exits_with_the_stage_and_writes_nothing(tmp_path: Path, fake_gemini: FakeGemini) -> None:
    fake_gemini.script("synthesize", Reply.error(503), Reply.error(503))
    out = tmp_path / "x.png"
    env = {"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": API_KEY, "PROMPTPIX_GEMINI_BASE_URL": fake_gemini.url,
           "PROMPTPIX_GENERATION_ATTEMPTS": "2", "PROMPTPIX_GENERATION_BACKOFF": "0.01"}
    done = promptpix("a kite", "--out", str(out), env=env)
    assert done.returncode == 1
    assert "synthesize attempt 1 failed (the provider failed (503))" in " ".join(done.stdout.split())
    assert "generation failed at synthesize: the provider failed (503)" in done.stdout
    assert len(fake_gemini.of("synthesize")) == 2 and not out.exists()


def test_a_bad_extension_fails_before_generating(tmp_path: Path) -> None:
    done = promptpix("a kite", "--out", str(tmp_path / "x.tiff"), env={"PROMPTPIX_GENERATOR": "offline"})
    assert done.returncode != 0 and "--out must end in one of" in done.stderr
    assert not list(tmp_path.iterdir())


def test_a_missing_reference_fails_before_generating(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    done = promptpix("a kite", "--out", str(out), "--reference", str(tmp_path / "logo.png"), env={"PROMPTPIX_GENERATOR": "offline"})
    assert done.returncode != 0 and "cannot use reference image" in done.stderr
    assert not out.exists()
