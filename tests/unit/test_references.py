from delivery.assets.ids import generation_key
from delivery.images.params import TransformParams
from delivery.prompts.targets import aspect_class, prompt_names

BASE = dict(project_id=1, prompt="a mug", style=None, seed=None, model="offline-render-1", aspect_class="1:1")


def test_names_in_prompts() -> None:
    assert prompt_names("a mug with @logo and @Logo, then @mascot-2.") == ["logo", "mascot-2"]
    assert prompt_names("mail me@example.com or @@x") == []
    assert prompt_names("@a_b- and (@c)") == ["a_b", "c"]
    assert prompt_names("no names here") == []


def test_keys_without_styles_or_references_are_unchanged() -> None:
    """Pinned: the version-1 key assets drawn before roots were stored under, which lookups still try
    first, so existing /g/ URLs keep their images."""
    key = generation_key(project_id=1, prompt="a", style=None, seed=None, model="m", aspect_class="1:1", version=1)
    assert key == "75ae1793113b60127eee08d74b63d9b5ebe11b223c9c5444ae66d8e0769f7d6a"


def test_style_text_and_reference_assets_are_part_of_the_key() -> None:
    plain = generation_key(**BASE)
    with_logo = generation_key(**BASE, references=("a" * 32,))
    assert len({plain, with_logo, generation_key(**BASE, references=("b" * 32,))}) == 3
    assert generation_key(**BASE, references=("a" * 32, "b" * 32)) != generation_key(**BASE, references=("b" * 32, "a" * 32))
    styled = {**BASE, "style": "ink"}
    assert generation_key(**styled, style_prompt="sumi-e") != generation_key(**styled, style_prompt="neon")
    assert generation_key(**styled, style_prompt="sumi-e  ink") == generation_key(**styled, style_prompt="sumi-e ink")


def test_master_aspect_prefers_the_link_then_the_style() -> None:
    assert aspect_class(TransformParams(ar=(16, 9)), "1:1") == "16:9"
    assert aspect_class(TransformParams(w=300, h=400), "16:9") == "3:4"
    assert aspect_class(TransformParams(w=300), "16:9") == "16:9"
    assert aspect_class(TransformParams()) == "1:1"
