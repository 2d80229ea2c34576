from delivery.images.params import parse_query, parse_transform
from delivery.images.transform.geometry import plan
from delivery.images.transform.limits import Source
from generation.models import FocalPoint

SOURCE = Source(width=4000, height=3000, loader="jpegload_buffer", default_format="jpg", has_alpha=False)


def planned(query: str, focal: FocalPoint = FocalPoint(), max_pixels: int = 10**9):
    return plan(parse_transform(parse_query(query)), SOURCE, focal, max_pixels=max_pixels)


def test_crop_covers_the_box_and_cuts_around_the_focal_point() -> None:
    result = planned("w=400&h=400", FocalPoint(1.0, 0.5))
    assert result.resize == (533, 400)
    assert result.crop == (133, 0, 400, 400)  # pushed to the right edge
    assert result.output == (400, 400)


def test_clip_fits_inside_and_keeps_aspect() -> None:
    assert planned("w=400&h=400&fit=clip").output == (400, 300)
    assert planned("w=400").output == (400, 300)
    assert planned("h=150").output == (200, 150)


def test_max_never_enlarges() -> None:
    assert planned("w=8000&fit=max").output == (4000, 3000)
    assert planned("w=8000&fit=clip").output == (8000, 6000)


def test_fill_pads_to_the_box() -> None:
    result = planned("w=400&h=400&fit=fill")
    assert result.resize == (400, 300)
    assert result.output == (400, 400)


def test_scale_stretches() -> None:
    assert planned("w=100&h=400&fit=scale").output == (100, 400)


def test_dpr_multiplies_and_ar_derives_the_missing_side() -> None:
    assert planned("w=400&ar=16:9&dpr=2").output == (800, 450)
    assert planned("h=90&ar=16:9").output == (160, 90)
    assert planned("ar=1:1").output == (3000, 3000)


def test_output_never_exceeds_the_pixel_limit() -> None:
    for query in ("w=8000&h=8000", "w=8000&fit=clip", "w=8000&h=8000&fit=fill", "w=8000&h=100&fit=scale"):
        width, height = planned(query, max_pixels=1_000_000).output
        assert width * height <= 1_000_000, query
