"""The offline focal point: libvips attention on an image with a subject, the centre of one without."""

import pytest
import pyvips

from generation import analyze_offline
from tests.images import solid


@pytest.mark.parametrize(("rgb", "fmt"), [((255, 0, 0), "png"), ((128, 128, 128), "jpeg"), ((0, 0, 0), "png"), ((250, 250, 250), "webp")])
def test_a_featureless_image_is_focused_on_its_centre(rgb: tuple[int, int, int], fmt: str) -> None:
    analysis = analyze_offline(solid(640, 360, rgb, fmt), "")
    assert (analysis.focal_point.x, analysis.focal_point.y) == (0.5, 0.5)


def test_a_subject_off_centre_is_found() -> None:
    """A bright, saturated square in the lower right of a grey field draws libvips' attention there."""
    field = pyvips.Image.black(600, 400, bands=3) + 120
    square = (pyvips.Image.black(100, 100, bands=3) + [255, 40, 20]).cast("uchar")
    data = field.cast("uchar").insert(square, 450, 260).write_to_buffer(".png")
    focal = analyze_offline(data, "").focal_point
    assert focal.x > 0.65 and focal.y > 0.6
