import pyvips

from generation.models import ASPECT_CLASSES, GenerationRequest, ReferenceImage
from generation.pipeline import generate
from generation.providers.offline import OFFLINE_MODEL, OfflineProvider, render
from tests.images import decode, solid


def difference(a: bytes, b: bytes) -> float:
    first, _ = decode(a)
    second, _ = decode(b)
    return (first - second).abs().avg()


def test_same_request_same_pixels() -> None:
    request = GenerationRequest(prompt="a fox at dawn", aspect_class="16:9", seed=4)
    assert difference(render(request), render(request)) == 0


def test_different_prompts_and_seeds_look_different() -> None:
    base = render(GenerationRequest(prompt="a fox at dawn"))
    assert difference(base, render(GenerationRequest(prompt="a cabin in snow"))) > 10
    assert difference(base, render(GenerationRequest(prompt="a fox at dawn", seed=1))) > 10


def test_renders_at_the_aspect_class_size() -> None:
    for name, size in ASPECT_CLASSES.items():
        image, fmt = decode(render(GenerationRequest(prompt="x", aspect_class=name)))
        assert (image.width, image.height, fmt) == (*size, "png")


def test_prompt_words_are_drawn_in_the_top_band() -> None:
    """The prompt is written near the top: the band differs between two prompts only there."""
    a, _ = decode(render(GenerationRequest(prompt="alpha", seed=1)))
    b, _ = decode(render(GenerationRequest(prompt="omega omega omega", seed=1)))
    # Same seed but different prompt changes the whole scene; compare white-text coverage instead.
    def white(image: pyvips.Image) -> float:
        band = image.crop(0, 0, image.width, image.height // 6)
        return ((band[0] > 250) & (band[1] > 250) & (band[2] > 250)).avg() / 255
    assert white(a) > 0.002 and white(b) > white(a)


def test_references_are_composited_visibly() -> None:
    logo = solid(200, 200, (0, 255, 0))
    image, _ = decode(render(GenerationRequest(prompt="a mug", references=(ReferenceImage("logo", logo, "image/png"),))))
    green = (image[0] < 10) & (image[1] > 245) & (image[2] < 10)
    assert green.avg() / 255 > 0.03


async def test_pipeline_labels_the_result_offline() -> None:
    result = await generate(OfflineProvider(), GenerationRequest(prompt="a lighthouse at night", aspect_class="4:3"))
    assert result.offline and result.provider == "offline" and result.model == OFFLINE_MODEL
    assert (result.width, result.height) == ASPECT_CLASSES["4:3"]
    assert 0 <= result.analysis.focal_point.x <= 1 and 0 <= result.analysis.focal_point.y <= 1
    assert "lighthouse" in result.analysis.tags
    assert result.enhanced_prompt.startswith("a lighthouse at night")
    assert set(result.timings) == {"enhance", "synthesize", "analyze"}
