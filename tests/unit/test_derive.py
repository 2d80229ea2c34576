"""Crop or extend: which boxes of a master are crops, which need a derived master, and the offline extension."""

from __future__ import annotations

import pytest
import pyvips

from delivery.images.params import TransformParams, parse_query, parse_transform
from delivery.prompts.derive import extension_class
from generation.models import ExtensionRequest
from generation.providers.offline import render_extension
from tests.images import decode, mean_difference

ROOT_4_3 = (1184, 864)


def params(query: str) -> TransformParams:
    return parse_transform(parse_query(query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("w=800&h=450&fit=crop", None),  # 16:9 keeps 75 % of 4:3: a crop
        ("w=600&h=600&fit=crop", None),  # 1:1 keeps 75 %
        ("w=900&h=600&fit=crop", None),  # 3:2 keeps 89 %
        ("w=450&h=800&fit=crop", "9:16"),  # 42 %: extended
        ("w=840&h=360&fit=crop", "21:9"),  # 57 %
        ("w=300&ar=9:16&fit=crop", "9:16"),  # `ar` fills the missing side
        ("w=300&h=300&ar=16:9&fit=crop", None),  # a whole box: its own aspect, `ar` does not change it
        ("w=450&h=800", None),  # fit=clip never cuts: the whole master, scaled
        ("w=450&h=800&fit=fill", None),  # padded, not extended
        ("w=450&h=800&fit=fill&fill=gen", "9:16"),  # generative fill extends whenever the aspect differs
        ("w=1184&h=864&fit=fill&fill=gen", None),  # already the box's aspect
        ("w=0.5&h=0.5&fit=crop", None),  # fractions of the source keep its aspect
    ],
)
def test_a_crop_keeping_70_percent_of_the_root_is_a_crop_and_anything_further_is_extended(query: str, expected: str | None) -> None:
    assert extension_class(*ROOT_4_3, params(query), min_keep=0.7) == expected


def test_the_threshold_is_a_setting() -> None:
    assert extension_class(*ROOT_4_3, params("w=800&h=450&fit=crop"), min_keep=0.8) == "16:9"


def test_the_offline_extension_keeps_the_image_unchanged_in_the_middle_and_marks_the_margins() -> None:
    xyz = pyvips.Image.xyz(300, 200)
    source = ((xyz[0] * 0.8).bandjoin([xyz[1], xyz[0] * 0.3 + 40])).cast("uchar")
    request = ExtensionRequest(image=source.pngsave_buffer(), mime="image/png", width=300, height=200, aspect_class="9:16", prompt="x")
    extended, fmt = decode(render_extension(request))
    assert fmt == "png" and extended.width == 300 and abs(extended.width / extended.height - 768 / 1344) < 0.01
    top = (extended.height - 200) // 2
    assert mean_difference(extended.crop(0, top, 300, 200), source) == 0.0  # pasted unchanged
    mirrored = source.flip("vertical").crop(0, 200 - 40, 300, 40)  # what an unmarked mirror of the edge would be
    assert mean_difference(extended.crop(0, top - 40, 300, 40), mirrored) > 10  # darkened, hatched, blurred: visibly not the scene
    assert render_extension(request) == render_extension(request)  # deterministic
