"""What the MCP tools accept as an image, and the `<img>` tag they hand back."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest

from delivery.cli.mcp import local_image
from delivery.errors import InvalidParam
from delivery.http.api.views import AssetView, FocalPointView
from delivery.http.mcp import decode_image_argument, img_tag
from delivery.images.urls import AssetUrls

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.mark.parametrize(
    "given",
    [
        base64.b64encode(PNG).decode(),
        base64.urlsafe_b64encode(PNG).decode().rstrip("="),
        "data:image/png;base64," + base64.b64encode(PNG).decode(),
        "  " + base64.b64encode(PNG).decode()[:40] + "\n" + base64.b64encode(PNG).decode()[40:],
    ],
)
def test_base64_and_data_urls_decode_to_the_same_bytes(given: str) -> None:
    assert decode_image_argument(given, max_bytes=10_000) == PNG


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("https://example.com/a.png", "does not fetch URLs"),
        ("data:image/png,rawbytes", "must be base64"),
        ("not base64 at all!", "neither base64 nor a data: URL"),
        (base64.b64encode(PNG).decode(), "larger than 100 bytes"),
    ],
)
def test_anything_else_is_a_clear_400(given: str, message: str) -> None:
    with pytest.raises(InvalidParam, match=message) as raised:
        decode_image_argument(given, max_bytes=100)
    assert raised.value.status == 400


def test_the_bridge_reads_a_local_file_and_leaves_base64_alone(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    path.write_bytes(PNG)
    assert base64.b64decode(local_image(str(path), max_bytes=10_000, timeout=5)) == PNG
    encoded = base64.b64encode(PNG).decode()
    assert local_image(encoded, max_bytes=10_000, timeout=5) == encoded
    with pytest.raises(ValueError, match="larger than"):
        local_image(str(path), max_bytes=10, timeout=5)


def test_the_img_tag_escapes_alt_text_and_never_asks_for_more_than_the_master() -> None:
    urls = AssetUrls(original="https://img.test/i/ab", presets={}, srcset="https://img.test/i/ab?w=320 320w, https://img.test/i/ab 800w")
    view = AssetView(
        id="ab", source="generated", mime="image/png", width=800, height=600, bytes=1, focal_point=FocalPointView(0.5, 0.5),
        alt_text="", tags=[], colors=[], names=[], prompt=None, enhanced_prompt=None, style=None, model=None, offline=True,
        parent_id=None, derivation=None, created_at=dt.datetime.now(dt.UTC), urls=urls,
    )
    tag = img_tag(view, 'a "quoted" <fox> & hound')
    assert tag.src == "https://img.test/i/ab"  # 800 wide: the master itself, not a w=1280 upscale
    assert 'alt="a &quot;quoted&quot; &lt;fox&gt; &amp; hound"' in tag.html
    assert 'sizes="(max-width: 800px) 100vw, 800px"' in tag.html and 'width="800" height="600"' in tag.html
