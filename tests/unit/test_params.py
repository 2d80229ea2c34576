import datetime as dt
import re

import pytest

from delivery.db.assets import Asset
from delivery.errors import InvalidParam, UndefinedPreset
from delivery.images.params import GENERATE_NAMES, canonical_query, parse_generate, parse_query, parse_transform
from delivery.images.presets import BUILTIN_PRESETS, SRCSET_WIDTHS, srcset
from delivery.images.urls import asset_urls


def transform(query: str):
    return parse_transform(parse_query(query), presets=BUILTIN_PRESETS)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("w=100000", "w"),
        ("w=-1", "w"),
        ("w=NaN", "w"),
        ("w=12.5", "w"),
        ("dpr=nan", "dpr"),
        ("dpr=5.5", "dpr"),
        ("q=101", "q"),
        ("fm=bmp", "fm"),
        ("fit=cover", "fit"),
        ("ar=16", "ar"),
        ("ar=0:9", "ar"),
        ("bg=reddish", "bg"),
        ("crop=chin", "crop"),
        ("fp-x=1.5", "fp-x"),
        ("fp-y=-0.1", "fp-y"),
        ("fp-x=nan", "fp-x"),
        ("auto=sharpen", "auto"),
        ("blur=2001", "blur"),
        ("blur=inf", "blur"),
        ("preset=nope", "preset"),
        ("crop=top,bottom", "crop"),
        ("rect=1,2,3", "rect"),
        ("rect=0,0,0,10", "rect"),
        ("w=1.5", "w"),
        ("h=0.0", "h"),
        ("orient=45", "orient"),
        ("flip=x", "flip"),
        ("fill=mirror", "fill"),
        ("fill-color=nope", "fill-color"),
        ("lossless=maybe", "lossless"),
        ("fp-z=0.5", "fp-z"),
        ("pad=1001", "pad"),
        ("pad-left=-1", "pad-left"),
        ("rot=361", "rot"),
        ("sharp=101", "sharp"),
        ("fm=json2", "fm"),
        ("crop=attention&fp-x=0.2", "fp-x"),
    ],
)
def test_bad_values_are_rejected_naming_the_param(query: str, named: str) -> None:
    with pytest.raises((InvalidParam, UndefinedPreset), match=re.escape(f"`{named}`")):
        transform(query)


def test_repeated_param_is_rejected() -> None:
    with pytest.raises(InvalidParam, match=r"^`w` is given more than once$"):
        transform("w=100&w=200")


def test_equal_requests_share_one_canonical_form() -> None:
    a = transform("w=400&h=300&fm=jpeg&dpr=1&fit=clip")
    b = transform("fm=jpg&h=300&w=400")
    assert a == b
    assert canonical_query(a) == canonical_query(b) == "fm=jpg&h=300&w=400"


def test_non_default_values_stay_in_canonical_form() -> None:
    params = transform("w=400&fit=crop&ar=32:18&dpr=2&bg=FF0000")
    assert canonical_query(params) == "ar=16%3A9&bg=ff0000&dpr=2&fit=crop&w=400"
    assert canonical_query(transform("w=0.5&h=1.0&rect=1,2,30,40&pad=4&q=0")) == "h=1.0&pad=4%2C4%2C4%2C4&q=1&rect=1%2C2%2C30%2C40&w=0.5"


def test_default_fit_is_clip_as_in_imgix() -> None:
    assert transform("w=1&h=1").resolved_fit == "clip"
    assert transform("w=1").resolved_fit == "clip"
    assert transform("w=1&ar=1:1").ar is None  # ar only applies to fit=crop
    assert transform("w=1&ar=1:1&fit=crop").ar == (1, 1)
    assert transform("w=1&fit=fill").resolved_fit == "fill"


def test_unknown_params_are_ignored_and_never_reach_the_key() -> None:
    assert transform("w=100&ixlib=python-4.0.0&colour=red&colour=blue") == transform("w=100")
    assert canonical_query(transform("w=100&ch=Width,DPR&sat=20")) == "w=100"


def test_imgix_spellings_share_one_canonical_form() -> None:
    assert transform("fm=pjpg") == transform("fm=jpg")
    assert canonical_query(transform("w=10&h=10&fit=crop&crop=faces,edges")) == "crop=attention&fit=crop&h=10&w=10"
    assert canonical_query(transform("w=10&h=10&fit=crop&crop=left,top")) == canonical_query(transform("w=10&h=10&fit=crop&crop=top,left"))
    assert canonical_query(transform("w=10&h=10&fit=facearea")) == "crop=attention&fit=crop&h=10&w=10"
    assert canonical_query(transform("auto=format,compress,enhance")) == "auto=compress%2Cformat"
    assert canonical_query(transform("auto=format,compress&fm=webp&q=50")) == "fm=webp&q=50"
    assert canonical_query(transform("fill-color=white&bg=F00")) == "bg=ff0000"  # no fill fit: no fill colour
    assert canonical_query(transform("w=10&h=10&fit=fill&fill=solid&fill-color=white")) == "fill-color=ffffff&fit=fill&h=10&w=10"
    assert canonical_query(transform("blur=500")) == canonical_query(transform("blur=100"))
    assert canonical_query(transform("orient=1&rot=0&lossless=1&fm=jpg")) == "fm=jpg"


def test_generation_params_are_separate_from_transform_params() -> None:
    query = parse_query("prompt=a+fox&seed=7&w=10&key=pk_x&sig=abc")
    params = parse_transform(query, allowed_extra=GENERATE_NAMES)
    wanted = parse_generate(query, max_prompt_chars=100)
    assert params.w == 10
    assert (wanted.prompt, wanted.seed, wanted.key, wanted.sig) == ("a fox", 7, "pk_x", "abc")


def test_prompt_is_required_and_bounded() -> None:
    with pytest.raises(InvalidParam, match=r"^`prompt` is required$"):
        parse_generate(parse_query("w=1"), max_prompt_chars=10)
    with pytest.raises(InvalidParam, match=r"^`prompt` is longer than 10 characters$"):
        parse_generate(parse_query("prompt=" + "x" * 11), max_prompt_chars=10)


def test_params_that_cannot_change_the_pixels_are_dropped() -> None:
    assert canonical_query(transform("w=100&h=50&crop=entropy")) == canonical_query(transform("w=100&h=50&fp-x=0.3")) == "h=50&w=100"  # clip: no cut
    assert canonical_query(transform("w=100&h=100&fit=crop&crop=focalpoint")) == "fit=crop&h=100&w=100"
    assert canonical_query(transform("w=100&blur=0&fm=webp&auto=format")) == "fm=webp&w=100"
    assert canonical_query(transform("w=100&h=100&fit=crop&crop=centre&auto=format&blur=2.5")) == "auto=format&blur=2.5&crop=center&fit=crop&h=100&w=100"
    assert canonical_query(transform("fp-y=0.25&w=10&h=20&fp-x=0.75&fit=crop")) == "fit=crop&fp-x=0.75&fp-y=0.25&h=20&w=10"


def test_presets_expand_with_explicit_params_winning() -> None:
    assert transform("preset=og") == transform("w=1200&h=630&fm=jpg&fit=crop")
    assert canonical_query(transform("preset=thumb&w=100&fm=webp")) == "fit=crop&fm=webp&h=200&w=100"
    project = {"banner": {"w": "970", "h": "250"}, "thumb": {"w": "64", "h": "64"}}
    from collections import ChainMap

    layered = ChainMap(project, BUILTIN_PRESETS)
    assert parse_transform(parse_query("preset=banner"), presets=layered).w == 970
    assert parse_transform(parse_query("preset=thumb"), presets=layered).w == 64  # a project can redefine a name
    assert parse_transform(parse_query("preset=og"), presets=layered).w == 1200
    with pytest.raises(UndefinedPreset, match=r"^`preset` 'og' is not defined$"):
        parse_transform(parse_query("preset=og"))  # no presets given, none known


def test_srcset_uses_canonical_urls() -> None:
    fixed = srcset("/i/abc", transform("fm=webp&w=400&h=300"), extra={"key": "pk_1"})
    assert fixed == ("/i/abc?fm=webp&h=300&w=400&key=pk_1 1x, /i/abc?dpr=2&fm=webp&h=300&w=400&key=pk_1 2x, /i/abc?dpr=3&fm=webp&h=300&w=400&key=pk_1 3x")
    fluid = srcset("/i/abc", transform("ar=16:9&fit=crop&auto=format"), widths=(320, 640))
    assert fluid == "/i/abc?ar=16%3A9&auto=format&fit=crop&w=320 320w, /i/abc?ar=16%3A9&auto=format&fit=crop&w=640 640w"


def test_one_list_of_srcset_widths_for_srcset_and_the_api() -> None:
    """`srcset()` and the API's asset URLs offer the same widths, so their URLs share cache entries."""
    fluid = srcset("/i/abc", transform(""))
    assert [int(c.rsplit(" ", 1)[1].removesuffix("w")) for c in fluid.split(", ")] == list(SRCSET_WIDTHS)
    asset = Asset(
        id="ab" * 16, project_id=1, source="uploaded", storage_key="k", mime="image/png", width=1000, height=500, bytes=1,
        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    offered = [c.rsplit(" ", 1)[1] for c in asset_urls("https://img", asset, {}).srcset.split(", ")]
    assert offered == [f"{w}w" for w in SRCSET_WIDTHS if w < 1000] + ["1000w"]


@pytest.mark.parametrize(
    ("raw", "spelled"),
    [
        ("w=300&h=200", None),
        ("prompt=a%20fox&w=3", None),
        ("ar=16%3A9&crop=top%2Cleft", None),
        ("", None),
        ("w=300&&h=200", "w=300&h=200"),
        ("w=300&", "w=300"),
        ("%77=300", "w=300"),
        ("prompt=a+fox", "prompt=a%20fox"),
        ("ar=16:9", "ar=16%3A9"),
        ("w=300&ixlib=python-4.0.0", "w=300"),
        ("ixlib=js", ""),
    ],
)
def test_each_query_has_one_spelling(raw: str, spelled: str | None) -> None:
    from delivery.images.params import TRANSFORM_NAMES, canonical_spelling

    assert canonical_spelling(raw.encode(), TRANSFORM_NAMES | GENERATE_NAMES) == spelled
