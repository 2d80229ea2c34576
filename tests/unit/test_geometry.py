from delivery.images.params import parse_query, parse_transform
from delivery.images.transform.geometry import focal_point, plan
from delivery.images.transform.limits import Source
from generation.models import FocalPoint

SOURCE = Source(width=4000, height=3000, loader="jpegload_buffer", default_format="jpg", has_alpha=False)


def planned(query: str, focal: FocalPoint = FocalPoint(), max_pixels: int = 10**9):
    params = parse_transform(parse_query(query))
    return plan(params, SOURCE, focal_point(params, focal), max_pixels=max_pixels)


def test_crop_covers_the_box_and_cuts_around_the_focal_point() -> None:
    result = planned("w=400&h=400&fit=crop", FocalPoint(1.0, 0.5))
    assert result.resize == (533, 400)
    assert result.crop == (133, 0, 400, 400)  # pushed to the right edge
    assert result.output == (400, 400)


def test_clip_fits_inside_and_keeps_aspect() -> None:
    assert planned("w=400&h=400&fit=clip").output == (400, 300)
    assert planned("w=400").output == (400, 300)
    assert planned("h=150").output == (200, 150)


def test_no_fit_enlarges_without_upscale() -> None:
    assert planned("w=8000&fit=max").output == (4000, 3000)
    assert planned("w=8000&fit=clip").output == (4000, 3000)


def test_fill_pads_to_the_box() -> None:
    result = planned("w=400&h=400&fit=fill")
    assert result.resize == (400, 300)
    assert result.output == (400, 400)


def test_scale_stretches() -> None:
    assert planned("w=100&h=400&fit=scale").output == (100, 400)


def test_dpr_multiplies_and_ar_derives_the_missing_side() -> None:
    assert planned("w=400&ar=16:9&dpr=2&fit=crop").output == (800, 450)
    assert planned("h=90&ar=16:9&fit=crop").output == (160, 90)
    assert planned("ar=1:1&fit=crop").output == (3000, 3000)
    assert planned("w=400&ar=1:1").output == (400, 300)  # as in imgix, ar applies only to fit=crop


def test_output_never_exceeds_the_pixel_limit() -> None:
    for query in (
        "w=8000&h=8000&fit=crop",
        "w=8000&fit=clip",
        "w=8000&h=8000&fit=min&rect=10,10,3000,2000",
        "w=8000&pad=100",
        "w=8000&h=8000&fit=fill",
        "w=8000&h=100&fit=scale",
    ):
        width, height = planned(query, max_pixels=1_000_000).output
        assert width * height <= 1_000_000, query


def test_clip_is_the_default_fit() -> None:
    assert planned("w=400&h=400").output == (400, 300)


def test_min_crops_to_the_box_aspect_but_never_enlarges() -> None:
    assert planned("w=400&h=400&fit=min").output == (400, 400)
    assert planned("w=8000&h=4000&fit=min").output == (4000, 2000)
    assert planned("w=8000&fit=min").output == (4000, 3000)


def test_fillmax_pads_without_enlarging() -> None:
    result = planned("w=8000&h=8000&fit=fillmax")
    assert result.resize == (4000, 3000)
    assert result.pad == (8000, 8000, 2000, 2500)


def test_fractions_are_of_the_source() -> None:
    assert planned("w=0.5").output == (2000, 1500)
    assert planned("w=1.0").output == (4000, 3000)
    assert planned("w=0.1&h=0.1&fit=scale").output == (400, 300)


def test_rect_cuts_a_region_first() -> None:
    result = planned("rect=1000,500,2000,1000")
    assert result.resize == (4000, 3000) and result.crop == (1000, 500, 2000, 1000)
    result = planned("rect=1000,500,2000,1000&w=500")
    assert result.resize == (1000, 750) and result.crop == (250, 125, 500, 250)
    assert planned("rect=1000,500,2000,1000&w=100&h=100&fit=crop").output == (100, 100)
    assert planned("rect=3900,2900,500,500").output == (100, 100)  # clipped to the image


def test_sides_place_the_cut() -> None:
    assert planned("w=400&h=400&fit=crop&crop=left,top").crop == (0, 0, 400, 400)
    assert planned("w=400&h=400&fit=crop&crop=right").crop == (133, 0, 400, 400)
    assert planned("w=300&h=100&fit=crop&crop=bottom").crop == (0, 125, 300, 100)


def test_fp_z_zooms_around_the_focal_point() -> None:
    plain = planned("w=400&h=400&fit=crop&fp-x=0.5&fp-y=0.5")
    zoomed = planned("w=400&h=400&fit=crop&fp-x=0.5&fp-y=0.5&fp-z=2")
    assert plain.output == zoomed.output == (400, 400)
    assert zoomed.resize == (1067, 800)
    assert planned("w=400&h=400&fit=crop&fp-z=100").resize == (4000, 3000)  # never past the source's own pixels


def test_pad_adds_a_border_inside_the_box() -> None:
    result = planned("w=400&h=400&pad=20")
    assert result.resize == (360, 270)
    assert result.pad == (400, 310, 20, 20)
    assert planned("w=400&pad-left=10&pad-top=5").pad == (400, 297, 10, 5)


def test_quarter_turns_swap_the_sides() -> None:
    assert planned("w=300&orient=90").output == (300, 400)
    assert planned("w=300&rot=270").output == (300, 400)
    assert planned("w=300&orient=3").output == (300, 225)
