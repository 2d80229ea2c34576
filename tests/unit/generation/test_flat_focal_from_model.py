"""A vision model's (0, 0) for a featureless image becomes its centre, as the offline rule gives it."""

from __future__ import annotations

import pyvips

from generation import describe
from generation.models import Analysis, FocalPoint, Usage
from generation.providers.offline import OfflineProvider
from tests.images import solid


class CornerModel(OfflineProvider):
    """A paid vision model that answers `point` whatever it is shown (models say (0, 0) for "no subject")."""

    name = "corner-model"
    offline = False

    def __init__(self, point: FocalPoint) -> None:
        self.point = point

    async def analyze(self, data: bytes, mime: str, prompt: str) -> tuple[Analysis, Usage]:
        return Analysis(focal_point=self.point, alt_text="a flat colour", tags=("flat",)), Usage()


async def test_a_models_corner_on_a_featureless_image_is_the_centre() -> None:
    for rgb, fmt in (((40, 90, 200), "png"), ((250, 250, 250), "jpeg")):
        analysis, _ = await describe(CornerModel(FocalPoint(0.0, 0.0)), solid(640, 360, rgb, fmt), f"image/{fmt}")
        assert analysis.focal_point == FocalPoint(0.5, 0.5)
        assert (analysis.alt_text, analysis.tags) == ("a flat colour", ("flat",))  # the rest of the model's answer is kept


async def test_a_models_corner_on_an_image_with_a_subject_there_is_kept() -> None:
    field = (pyvips.Image.black(600, 400, bands=3) + 120).cast("uchar")
    square = (pyvips.Image.black(80, 80, bands=3) + [255, 40, 20]).cast("uchar")
    data = field.insert(square, 0, 0).write_to_buffer(".png")
    analysis, _ = await describe(CornerModel(FocalPoint(0.0, 0.0)), data, "image/png")
    assert analysis.focal_point == FocalPoint(0.0, 0.0)
    inside, _ = await describe(CornerModel(FocalPoint(0.3, 0.7)), solid(64, 64, (9, 9, 9), "png"), "image/png")
    assert inside.focal_point == FocalPoint(0.3, 0.7)  # only a corner answer is second-guessed
