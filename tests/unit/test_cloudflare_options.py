"""Cloudflare's options translate to imgix params through one table, and parse to the imgix door's params."""

from __future__ import annotations

import pytest

from delivery.errors import InvalidParam
from delivery.images.cloudflare import OPTIONS, parse_options
from delivery.images.params import TRANSFORM_NAMES, canonical_query, parse_transform


@pytest.mark.parametrize(
    ("segment", "imgix"),
    [
        ("width=300,height=200,fit=cover", "fit=crop&h=200&w=300"),
        ("w=300,h=200,fit=scale-down", "fit=max&h=200&w=300"),
        ("width=300,height=200,fit=contain", "h=200&w=300"),
        ("width=300,height=200,fit=crop", "fit=min&h=200&w=300"),
        ("width=300,height=200,fit=pad,background=%23ff0000", "bg=ff0000&fit=fill&h=200&w=300"),
        ("width=300,height=200,fit=squeeze", "fit=scale&h=200&w=300"),
        ("width=300,height=200,fit=cover,gravity=0.25x0.75", "fit=crop&fp-x=0.25&fp-y=0.75&h=200&w=300"),
        ("width=300,height=200,fit=cover,g=left", "crop=left&fit=crop&h=200&w=300"),
        ("width=300,height=200,fit=cover,gravity=auto", "fit=crop&h=200&w=300"),
        ("width=300,height=200,fit=cover,gravity=face", "crop=attention&fit=crop&h=200&w=300"),
        ("width=300,format=auto,quality=low", "auto=format&q=45&w=300"),
        ("width=300,f=jpeg,q=70", "fm=jpg&q=70&w=300"),
        ("width=300,format=json", "fm=json"),
        ("width=300,dpr=2,blur=10,sharpen=2,rotate=90,flip=hv", "blur=10&dpr=2&flip=hv&rot=90&sharp=20&w=300"),
        ("width=auto,metadata=none,anim=false", ""),
    ],
)
def test_options_mean_what_the_imgix_params_mean(segment: str, imgix: str) -> None:
    options = parse_options(segment.replace("%23", "#"))
    assert set(options.params) <= TRANSFORM_NAMES
    assert canonical_query(parse_transform(options.params)) == imgix


def test_the_spelling_keeps_known_options_in_order_and_drops_the_rest() -> None:
    assert parse_options("h=200,metadata=none,,w=300,junk").spelled == "h=200,w=300"
    assert parse_options("width=300").spelled == "width=300"


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ("width=0", "`width` must be from 1 to 8192"),
        ("width=abc", "`width` must be a whole number"),
        ("width=100,w=200", "`width` is given more than once"),
        ("fit=outside", "`fit` must be one of scale-down, contain, cover, crop, pad, squeeze"),
        ("gravity=1.5x0.5", "`gravity` must be"),
        ("format=gif", "`format` must be one of"),
        ("quality=101", "`quality` must be from 1 to 100"),
        ("rotate=45", "`rotate` must be 90, 180 or 270"),
        ("sharpen=11", "`sharpen` must be from 0 to 10"),
        ("dpr=6", "`dpr` must be from 1 to 5"),
    ],
)
def test_bad_values_name_the_cloudflare_option(segment: str, message: str) -> None:
    with pytest.raises(InvalidParam, match=message.replace("(", r"\(")):
        parse_options(segment)


def test_every_option_has_a_long_name_first() -> None:
    for option in OPTIONS:
        assert all(len(option.names[0]) >= len(alias) for alias in option.names)
