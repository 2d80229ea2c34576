"""`PROMPTPIX_AVIF_EFFORT`: the AVIF encoder's effort is a setting, and another effort is another ETag."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pyvips

from delivery.images.formats import AVIF, configure_encoders, encoder_overrides, encoding_tag
from delivery.images.transform.encode import encode
from delivery.images.transform.pillow_codecs import materialise
from delivery.settings import Settings
from tests.images import decode


@pytest.fixture(autouse=True)
def registry_settings() -> Iterator[None]:
    yield
    configure_encoders(avif_effort=Settings().avif_effort)  # process-global: leave it as the default


def test_the_default_is_the_registrys_so_default_etags_stay() -> None:
    assert AVIF.encoder is not None and ("effort", Settings().avif_effort) in AVIF.encoder.settings
    configure_encoders(avif_effort=Settings().avif_effort)
    assert encoder_overrides("avif") == {} and encoding_tag("avif") == ""


def test_another_effort_reaches_the_encoder_and_the_etag() -> None:
    noise = pyvips.Image.gaussnoise(64, 48, sigma=40, seed=3)  # detail: a flat image is the same bytes at any effort
    pixels = materialise(noise.bandjoin([noise, noise]).cast("uchar"))
    default = encode(pixels, "avif", None)
    configure_encoders(avif_effort=0)
    assert encoder_overrides("avif") == {"effort": 0} and encoding_tag("avif") == "|effort=0"
    assert encoding_tag("webp") == "" and encoder_overrides("jpg") == {}
    fastest = encode(pixels, "avif", None)
    assert fastest != default  # aom at another speed writes other bytes
    image, fmt = decode(fastest)
    assert fmt == "avif" and (image.width, image.height) == (64, 48)
