"""`promptpix generate` from the shell, in process: offline, and with PROMPTPIX_GENERATOR=gemini against the fake."""

from __future__ import annotations

from pathlib import Path

from harness.fake_gemini import API_KEY, FakeGemini, Reply
from tests.cli import Cli, Ran
from tests.images import decode, solid


def generate(cli: Cli, *args: str, env: dict[str, str]) -> Ran:
    """Only `env` and the defaults: nothing the run inherited (a developer's GEMINI_API_KEY) leaks in."""
    cli.env(clean=True, **env)
    return cli("generate", *args)


def test_offline_writes_the_requested_format_with_progress(tmp_path: Path, cli: Cli) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(solid(200, 200, (0, 255, 0)))
    out = tmp_path / "fox.webp"
    done = generate(cli, "a red fox at dawn", "--out", str(out), "--aspect", "16:9", "--seed", "3", "--style", "photo",
                     "--reference", str(logo), env={"PROMPTPIX_GENERATOR": "offline"})
    assert done.code == 0, done.err
    image, fmt = decode(out.read_bytes())
    assert (image.width, image.height, fmt) == (1344, 768, "webp")
    green = (image[0] < 30) & (image[1] > 225) & (image[2] < 30)
    assert green.avg() / 255 > 0.02  # the reference was passed to the renderer
    lines = done.out.splitlines()
    assert [line.split()[0] for line in lines if line.strip().endswith(" s")] == ["enhance", "synthesize", "analyze"]
    assert "photorealistic photograph" in done.out and "offline preview" in done.out
    assert f"wrote {out} (1344x768 webp" in done.out


def test_gemini_through_the_fake(tmp_path: Path, fake_gemini: FakeGemini, cli: Cli) -> None:
    out = tmp_path / "kite.jpg"
    env = {"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": API_KEY, "PROMPTPIX_GEMINI_BASE_URL": fake_gemini.url,
           "PROMPTPIX_GEMINI_IMAGE_MODEL": "image-model-x", "PROMPTPIX_GEMINI_PRICE_PER_IMAGE": "0.5"}
    done = generate(cli, "a kite over dunes", "--out", str(out), "--aspect", "9:16", "--seed", "11", "--style", "watercolor", env=env)
    assert done.code == 0, done.err
    image, fmt = decode(out.read_bytes())
    assert (image.width, image.height, fmt) == (768, 1344, "jpg")
    assert [r.stage for r in fake_gemini.received] == ["enhance", "synthesize", "analyze"]
    (synthesis,) = fake_gemini.of("synthesize")
    assert (synthesis.model, synthesis.aspect_ratio, synthesis.seed) == ("image-model-x", "9:16", 11)
    assert "watercolour painting" in (fake_gemini.of("enhance")[0].system_instruction or "")
    assert "generating with gemini (image-model-x)" in done.out
    assert "focal point: 0.30, 0.70" in done.out and "cost: 0.50" in done.out


def test_gemini_failure_exits_with_the_stage_and_writes_nothing(tmp_path: Path, fake_gemini: FakeGemini, cli: Cli) -> None:
    fake_gemini.script("synthesize", Reply.error(503), Reply.error(503))
    out = tmp_path / "x.png"
    env = {"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": API_KEY, "PROMPTPIX_GEMINI_BASE_URL": fake_gemini.url,
           "PROMPTPIX_GENERATION_ATTEMPTS": "2", "PROMPTPIX_GENERATION_BACKOFF": "0.01"}
    done = generate(cli, "a kite", "--out", str(out), env=env)
    assert done.code == 1
    assert "synthesize attempt 1 failed (the provider failed (503))" in " ".join(done.out.split())
    assert "generation failed at synthesize: the provider failed (503)" in done.out
    assert len(fake_gemini.of("synthesize")) == 2 and not out.exists()


def test_a_bad_extension_fails_before_generating(tmp_path: Path, cli: Cli) -> None:
    done = generate(cli, "a kite", "--out", str(tmp_path / "x.tiff"), env={"PROMPTPIX_GENERATOR": "offline"})
    assert done.code != 0 and "--out must end in one of" in done.err
    assert not list(tmp_path.iterdir())


def test_a_missing_reference_fails_before_generating(tmp_path: Path, cli: Cli) -> None:
    out = tmp_path / "x.png"
    done = generate(cli, "a kite", "--out", str(out), "--reference", str(tmp_path / "logo.png"), env={"PROMPTPIX_GENERATOR": "offline"})
    assert done.code != 0 and "cannot use reference image" in done.err
    assert not out.exists()
