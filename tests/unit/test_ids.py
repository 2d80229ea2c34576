from delivery.assets.ids import asset_id_for_generation, asset_id_for_upload, generation_key
from generation.models import nearest_aspect_class

BASE = dict(project_id=1, style=None, seed=None, model="offline-render-1", aspect_class="16:9")


def test_prompt_normalisation_shares_one_key() -> None:
    composed = generation_key(prompt="café  at\tdawn ", **BASE)
    decomposed = generation_key(prompt="cafe\u0301 at dawn", **BASE)
    assert composed == decomposed


def test_everything_that_changes_pixels_changes_the_key() -> None:
    key = generation_key(prompt="a fox", **BASE)
    for change in ({"project_id": 2}, {"style": "ink"}, {"seed": 1}, {"model": "m2"}, {"aspect_class": "1:1"}):
        assert generation_key(prompt="a fox", **{**BASE, **change}) != key
    assert generation_key(prompt="a fox ", **BASE) == key


def test_asset_ids_are_lowercase_hex() -> None:
    assert len(asset_id_for_generation(generation_key(prompt="x", **BASE))) == 32
    upload = asset_id_for_upload(1, b"bytes")
    assert upload != asset_id_for_upload(2, b"bytes")
    assert all(c in "0123456789abcdef" for c in upload)


def test_aspect_classes_snap_to_the_nearest_supported_ratio() -> None:
    assert nearest_aspect_class(16, 9) == "16:9"
    assert nearest_aspect_class(15, 9) == "16:9"
    assert nearest_aspect_class(16, 10) == "3:2"
    assert nearest_aspect_class(800, 800) == "1:1"
    assert nearest_aspect_class(1, 3) == "9:16"


def test_a_flow_context_changes_the_key_and_no_context_changes_nothing() -> None:
    refs = {"style_prompt": "ink", "references": ("a" * 32,)}
    without = generation_key(prompt="a fox", **BASE, **refs)
    assert generation_key(prompt="a fox", **BASE, **refs, context=()) == without
    after_one = generation_key(prompt="a fox", **BASE, **refs, context=("a den",))
    assert after_one != without
    assert generation_key(prompt="a fox", **BASE, **refs, context=("a  den ",)) == after_one  # normalised like prompts
    assert generation_key(prompt="a fox", **BASE, **refs, context=("a den", "a river")) != after_one
