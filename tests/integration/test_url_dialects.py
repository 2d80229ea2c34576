"""URLs built by the real front-end clients, served by the real routes, decoded and measured.

The official imgix Python client (`imgix` on PyPI, defaults on, `ixlib` included)
and `@unpic/core` (npm, run with node; installed into tests/js by `npm ci`)
build the URLs for `/i/{id}`, `/i/{project}/@{name}` and `/g/{project}`; every
answer is decoded and its size and format checked against imgix's documented
semantics, computed independently below (`imgix_size`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import asyncpg
import msgspec
import pytest
from imgix import UrlBuilder
from litestar.testing import AsyncTestClient

from delivery.assets.ids import asset_id_for_upload, master_key
from delivery.db.asset_names import set_name
from delivery.db.assets import NewAsset, insert_asset
from delivery.db.projects import get_project_by_slug
from delivery.errors import InvalidParam
from delivery.images.cloudflare import OPTIONS as CLOUDFLARE_OPTIONS
from delivery.images.params import GENERATE_NAMES, GENERATE_PARAMS, PARAMS, TRANSFORM_PARSERS
from delivery.ops.bootstrap import Demo
from delivery.settings import Settings
from delivery.storage.fs import FileStorage
from tests import corpus
from tests.conftest import require
from tests.images import decode

JS = Path(__file__).resolve().parent.parent / "js"
SOURCE = (1200, 800)
PROMPT = "a lighthouse on a cliff"


def imgix_size(source: tuple[int, int], params: dict[str, Any]) -> tuple[int, int]:
    """The output size imgix documents for these params (rendering API: size, fit, rect, pad, dpr, orient),
    except that nothing is enlarged past the source without `upscale=1` (then up to PROMPTPIX_MAX_UPSCALE, 4)."""
    sw, sh = source
    up = 4.0 if str(params.get("upscale", "0")) in ("1", "true") else 1.0
    if "rect" in params:
        _, _, sw, sh = (int(v) for v in str(params["rect"]).split(","))
    if str(params.get("orient", "")) in ("90", "270", "5", "6", "7", "8"):
        sw, sh = sh, sw
    dpr = float(params.get("dpr", 1))

    def side(name: str, whole: int) -> float | None:
        if name not in params:
            return None
        value = str(params[name])
        return (float(value) * whole if "." in value else float(value)) * dpr

    w, h = side("w", sw), side("h", sh)
    pad = int(params.get("pad", 0)) * dpr
    if pad:
        w, h = (w - 2 * pad if w else None), (h - 2 * pad if h else None)
    fit = params.get("fit", "clip")
    if fit in ("crop", "facearea") and "ar" in params and (w is None) != (h is None):
        aw, ah = (int(v) for v in str(params["ar"]).split(":"))
        w, h = (w, w * ah / aw) if w else (h * aw / ah, h)  # type: ignore[operator]  # one of them is set here
    if w is None and h is None:
        out = (sw, sh)
    elif fit in ("crop", "facearea", "min") and w and h:
        limit = 1.0 if fit == "min" else up
        shrink = min(1.0, limit * sw / w, limit * sh / h)
        out = (w * shrink, h * shrink)
    elif fit == "scale" and w and h:
        over = max(1.0, max(w / sw, h / sh) / up)
        out = (w / over, h / over)
    else:
        scale = min(s for s in (w and w / sw, h and h / sh) if s)
        scale = min(scale, 1.0 if fit in ("max", "min", "fillmax") else up)
        out = (w, h) if fit in ("fill", "fillmax") and w and h else (sw * scale, sh * scale)  # type: ignore[assignment]  # both set
    return round(out[0] + 2 * pad), round(out[1] + 2 * pad)


IMGIX_TABLE: list[dict[str, Any]] = [
    {},
    {"w": 300},
    {"h": 0.25},
    {"w": 0.5},
    {"w": 300, "h": 300},  # imgix's default fit is clip
    {"w": 300, "h": 300, "fit": "crop"},
    {"w": 300, "h": 300, "fit": "crop", "crop": "top,left"},
    {"w": 300, "h": 300, "fit": "crop", "crop": "faces,edges"},
    {"w": 300, "h": 300, "fit": "crop", "crop": "entropy"},
    {"w": 300, "h": 200, "fit": "crop", "crop": "focalpoint", "fp-x": 0.2, "fp-y": 0.7, "fp-z": 2},
    {"w": 300, "h": 300, "fit": "facearea"},
    {"w": 2000, "fit": "max"},
    {"w": 2000, "h": 2000, "fit": "min"},
    {"w": 200, "h": 100, "fit": "min"},
    {"w": 300, "h": 300, "fit": "fill", "fill": "solid", "fill-color": "ff0000"},
    {"w": 300, "h": 300, "fit": "fill", "fill": "blur"},
    {"w": 2000, "h": 1000, "fit": "fillmax", "bg": "000"},
    {"w": 300, "h": 100, "fit": "scale"},
    {"w": 400, "ar": "16:9", "fit": "crop"},
    {"w": 400, "ar": "16:9"},  # ar applies only to fit=crop
    {"rect": "100,100,600,400"},
    {"rect": "100,100,600,400", "w": 300},
    {"w": 200, "dpr": 5},
    {"w": 100, "pad": 10, "bg": "00ff00"},
    {"w": 100, "orient": 90},
    {"w": 100, "flip": "hv", "rot": 180},
    {"w": 100, "blur": 50, "sharp": 20},
    {"w": 100, "fm": "pjpg", "q": 30},
    {"w": 100, "fm": "webp", "lossless": 1},
    {"w": 100, "fm": "png"},
    {"w": 100, "fm": "avif"},
    {"w": 100, "auto": "format,compress"},
    {"w": 100, "ch": "Width,DPR", "sat": 20, "usm": 10},  # ignored: unknown or not offered here
]
EXPECTED_FORMAT = {"pjpg": "jpg", "webp": "webp", "png": "png", "avif": "avif"}


async def _store(settings: Settings, demo: Demo, data: bytes, size: tuple[int, int]) -> str:
    conn = await asyncpg.connect(settings.database_url)
    try:
        project = await get_project_by_slug(conn, slug=demo.project_slug)
        assert project is not None
        asset_id = asset_id_for_upload(project.id, data)
        key = master_key(project_id=project.id, asset_id=asset_id, mime="image/jpeg")
        await FileStorage(settings.resolved_storage_url.removeprefix("file://")).put(key, data, content_type="image/jpeg")
        row = NewAsset(
            id=asset_id, project_id=project.id, source="uploaded", storage_key=key, mime="image/jpeg",
            width=size[0], height=size[1], bytes=len(data), focal_x=0.6, focal_y=0.4,
        )  # fmt: skip
        await insert_asset(conn, asset=row)
        await set_name(conn, project_id=project.id, name="hero", asset_id=asset_id)
        return asset_id
    finally:
        await conn.close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every box is a crop of the generated master, as of an upload: these tests hold each dialect's geometry
    against its vendor's documents; extending a root to a far aspect is test_one_artwork's."""
    return msgspec.structs.replace(settings, min_crop_keep=0.01)


@pytest.fixture
async def layouts(client: AsyncTestClient, settings: Settings, demo: Demo) -> dict[str, tuple[str, dict[str, str]]]:
    """Layout name -> (path, params every URL of it carries)."""
    asset_id = await _store(settings, demo, corpus.photo(*SOURCE).jpegsave_buffer(Q=90), SOURCE)
    return {
        "id": (f"/i/{asset_id}", {}),
        "name": (f"/i/{demo.project_slug}/@hero", {}),
        "generate": (f"/g/{demo.project_slug}", {"prompt": PROMPT, "key": demo.key_id, "ar": "3:2"}),
    }


async def _generated_size(settings: Settings, ar: str) -> tuple[int, int]:
    """The size of the generated master whose aspect class `ar` picked (the one nearest to it)."""
    aw, ah = (int(v) for v in ar.split(":"))
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch("SELECT width, height FROM assets WHERE source = 'generated'")
    finally:
        await conn.close()
    assert rows
    best = min(rows, key=lambda r: abs(math.log(r["width"] / r["height"]) - math.log(aw / ah)))
    return best["width"], best["height"]


async def _fetch(client: AsyncTestClient, url: str, accept: str = "image/avif,image/webp,*/*") -> tuple[Any, str, Any]:
    parts = urlsplit(url)
    response = await client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path, headers={"accept": accept})
    assert response.status_code == 200, (url, response.status_code, response.headers.get("x-error"))
    image, fmt = decode(response.content)
    return image, fmt, response


@pytest.mark.parametrize("layout", ["id", "name", "generate"])
async def test_the_imgix_client_urls_render_as_imgix_documents(
    client: AsyncTestClient, settings: Settings, layouts: dict[str, tuple[str, dict[str, str]]], layout: str
) -> None:
    path, base = layouts[layout]
    builder = UrlBuilder("testserver.local", use_https=False)  # defaults: ixlib=python-4.0.0 on every URL
    for params in IMGIX_TABLE:
        url = builder.create_url(path, {**base, **params})
        assert "ixlib=python-" in url
        image, fmt, response = await _fetch(client, url)
        wanted = {**params, **({"ar": base["ar"]} if "ar" in base and "ar" not in params else {})}
        source = await _generated_size(settings, wanted["ar"]) if layout == "generate" else SOURCE
        got, expected = (image.width, image.height), imgix_size(source, wanted)
        assert abs(got[0] - expected[0]) <= 1 and abs(got[1] - expected[1]) <= 1, (layout, params, got, expected)
        if "fm" in params:
            assert fmt == EXPECTED_FORMAT[params["fm"]], (params, fmt)
        elif "auto" in params:
            assert fmt == "avif" and response.headers["vary"] == "Accept"
        else:
            assert fmt in ("jpg", "png"), (params, fmt)  # the source's own (the offline generator draws PNG)
        # The ignored `ixlib` never reached the image: one redirect to the spelling without it.
        assert [r.status_code for r in response.history] == [301]
        assert "ixlib" not in str(response.url)


async def test_imgix_srcsets_by_width_and_by_dpr(client: AsyncTestClient, layouts: dict[str, tuple[str, dict[str, str]]]) -> None:
    path, _ = layouts["id"]
    builder = UrlBuilder("testserver.local", use_https=False)
    fluid = builder.create_srcset(path, {"ar": "3:2", "fit": "crop"}, start=100, stop=1000)
    entries = [entry.rsplit(" ", 1) for entry in fluid.split(",\n")]
    assert len(entries) > 5
    for url, descriptor in entries:
        image, _, _ = await _fetch(client, url)
        width = int(descriptor.removesuffix("w"))
        assert image.width == width and abs(image.height - width * 2 / 3) <= 1, (url, image.width, image.height)
    fixed = builder.create_srcset(path, {"w": 200})  # dpr 1-5, with imgix's variable quality per density
    entries = [entry.rsplit(" ", 1) for entry in fixed.split(",\n")]
    assert [d for _, d in entries] == ["1x", "2x", "3x", "4x", "5x"]
    for url, descriptor in entries:
        image, _, _ = await _fetch(client, url)
        assert image.width == 200 * int(descriptor.removesuffix("x")), url


def _unpic(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Props as @unpic/core renders them, from node; the package is installed by `npm ci` on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    require(node is not None and npm is not None, "node and npm (Debian nodejs, npm)")
    assert node is not None and npm is not None
    if not (JS / "node_modules" / "@unpic" / "core").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS, check=True, timeout=300)
    done = subprocess.run(
        [node, "build_urls.mjs"], cwd=JS, input=json.dumps({"cases": cases}), capture_output=True, text=True, check=True, timeout=60
    )
    rendered: list[dict[str, Any]] = json.loads(done.stdout)
    return rendered


def _srcset(props: dict[str, Any]) -> list[tuple[str, str]]:
    return [tuple(entry.strip().rsplit(" ", 1)) for entry in props["srcset"].split(",\n")]  # type: ignore[misc]  # url, descriptor


UNPIC_PROPS: list[dict[str, Any]] = [
    {"layout": "constrained", "width": 800, "height": 600},
    {"layout": "fixed", "width": 300, "height": 200},
    {"layout": "fullWidth"},
    {"layout": "constrained", "width": 600, "height": 600, "operations": {"imgix": {"fit": "crop"}}},
    {"layout": "fixed", "width": 320, "height": 180, "operations": {"imgix": {"fit": "fill", "fill": "blur"}}},
    {"layout": "constrained", "width": 500, "height": 500, "operations": {"imgix": {"fit": "clip"}}},
]


@pytest.mark.parametrize("layout", ["id", "name", "generate"])
async def test_unpic_imgix_urls_decode_to_the_sizes_the_component_expects(
    client: AsyncTestClient, settings: Settings, layouts: dict[str, tuple[str, dict[str, str]]], layout: str
) -> None:
    path, base = layouts[layout]
    src = path + ("?" + "&".join(f"{k}={v}" for k, v in base.items()) if base else "")
    rendered = _unpic([{"cdn": "imgix", "props": {"src": "http://img.example" + src, **props}} for props in UNPIC_PROPS])
    fetched = 0
    for props, out in zip(UNPIC_PROPS, rendered, strict=True):
        for url, descriptor in _srcset(out):
            params = dict(parse_qsl(urlsplit(url).query))
            assert params["auto"] == "format"
            image, fmt, response = await _fetch(client, url)
            assert not response.history  # unpic already writes the one spelling: no redirect
            assert fmt == "avif"
            source = await _generated_size(settings, "3:2") if layout == "generate" else SOURCE
            expected = imgix_size(source, params)
            assert abs(image.width - expected[0]) <= 1 and abs(image.height - expected[1]) <= 1, (url, image.width, image.height)
            if "h" in params and params.get("fit", "min") in ("min", "crop", "fill"):  # the component's aspect ratio holds
                assert abs(image.width / image.height - props["width"] / props["height"]) < 0.02, url
            assert image.width <= int(descriptor.removesuffix("w")), url
            fetched += 1
    assert fetched > 20


async def test_other_spellings_and_ignored_params_make_no_new_variant(
    client: AsyncTestClient, layouts: dict[str, tuple[str, dict[str, str]]]
) -> None:
    path, _ = layouts["id"]
    services = client.app.state.services
    first = await client.get(f"{path}?w=300&fm=webp")
    assert first.status_code == 200 and not first.history
    held = services.variants.size  # bytes held: any new entry would add the image's
    for spelling in ("w=300&&fm=webp", "w=300&fm=webp&", "%77=300&fm=webp", "w=300&fm=webp&ixlib=js-3.8.0", "w=300&fm=webp&foo=bar&foo=baz"):
        response = await client.get(f"{path}?{spelling}")
        assert [r.status_code for r in response.history] == [301], spelling
        assert response.history[0].headers["location"] == f"{path}?w=300&fm=webp"
        assert response.history[0].headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["etag"] == first.headers["etag"] and response.content == first.content
        assert response.headers["x-cache-status"] == "HIT"
    assert services.variants.size == held


async def test_head_answers_the_headers_of_get_without_a_body(
    client: AsyncTestClient, layouts: dict[str, tuple[str, dict[str, str]]]
) -> None:
    for path, base in layouts.values():
        query = "&".join(f"{k}={v}" for k, v in {**base, "w": "100", "fm": "png"}.items()).replace(" ", "%20").replace(":", "%3A")
        got = await client.get(f"{path}?{query}")
        head = await client.head(f"{path}?{query}")
        assert (got.status_code, head.status_code) == (200, 200), (path, got.headers.get("x-error"))
        assert head.content == b""
        for name in ("content-type", "content-length", "etag", "cache-control"):
            assert head.headers[name] == got.headers[name], name


@pytest.mark.parametrize(
    "query",
    ["%E2%82%AC=1&w=1&w=2", "w=%0D%0Ax", "%0D%0A=1&%0D%0A=2&w=1&w=2", "w=%00", "fm=%E2%82%AC"],
    ids=["non-latin-1 name", "crlf value", "crlf name", "nul", "non-latin-1 value"],
)
async def test_error_headers_never_carry_raw_client_bytes(client: AsyncTestClient, layouts: dict[str, tuple[str, dict[str, str]]], query: str) -> None:
    path, _ = layouts["id"]
    response = await client.get(f"{path}?{query}", headers={"accept": "image/*"}, follow_redirects=False)
    assert response.status_code in (301, 400), (query, response.status_code)
    for name, value in response.headers.raw:
        assert all(0x20 <= b < 0x7F for b in name + value), (name, value)
    if response.status_code == 400:
        assert response.headers["x-error"]
    assert "server-timing" not in response.headers or response.headers["server-timing"]


def test_the_node_setup_is_pinned() -> None:
    """The test setup installs exactly what the lock names, into a git-ignored folder."""
    lock = json.loads((JS / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@unpic/core"]["version"].startswith("1.")
    ignored = subprocess.run(["git", "check-ignore", "-q", str(JS / "node_modules")], cwd=JS, check=False)
    assert ignored.returncode == 0 or not os.environ.get("CI")


# Cloudflare's dialect: /cdn-cgi/image/{options}/{source}, on the same pipeline.


def cloudflare_size(source: tuple[int, int], options: dict[str, str]) -> tuple[int, int]:
    """The output size Cloudflare documents for these options (fit: scale-down, contain, cover, crop, pad, squeeze),
    except that nothing is enlarged past the source (the dialect has no `upscale`)."""
    sw, sh = source
    if options.get("rotate") in ("90", "270"):
        sw, sh = sh, sw
    dpr = float(options.get("dpr", 1))
    w = float(options["width"]) * dpr if "width" in options else None
    h = float(options["height"]) * dpr if "height" in options else None
    fit = options.get("fit", "scale-down")
    if w is None and h is None:
        return sw, sh
    if w and h and fit == "pad":  # the canvas as asked, the image inside never enlarged
        return round(w), round(h)
    if w and h and fit in ("cover", "crop", "squeeze"):  # the box's aspect, shrunk to the source
        shrink = min(1.0, sw / w, sh / h) if fit != "squeeze" else 1 / max(1.0, w / sw, h / sh)
        return round(w * shrink), round(h * shrink)
    scale = min(1.0, *(s for s in (w and w / sw, h and h / sh) if s))
    return round(sw * scale), round(sh * scale)


CLOUDFLARE_TABLE: list[tuple[str, dict[str, str], str]] = [
    # (options as written, what they mean for the size check, expected format)
    ("width=300", {"width": "300"}, "src"),
    ("width=80,quality=75", {"width": "80"}, "src"),
    ("w=300,h=300,fit=cover", {"width": "300", "height": "300", "fit": "cover"}, "src"),
    ("width=300,height=300,fit=contain", {"width": "300", "height": "300", "fit": "contain"}, "src"),
    ("width=2000,fit=scale-down", {"width": "2000", "fit": "scale-down"}, "src"),
    ("width=2000,height=2000,fit=crop", {"width": "2000", "height": "2000", "fit": "crop"}, "src"),
    ("width=300,height=100,fit=crop", {"width": "300", "height": "100", "fit": "crop"}, "src"),
    ("width=300,height=300,fit=pad,background=red", {"width": "300", "height": "300", "fit": "pad"}, "src"),
    ("width=300,height=100,fit=squeeze", {"width": "300", "height": "100", "fit": "squeeze"}, "src"),
    ("width=300,height=300,fit=cover,gravity=left", {"width": "300", "height": "300", "fit": "cover"}, "src"),
    ("width=300,height=300,fit=cover,gravity=0.2x0.8", {"width": "300", "height": "300", "fit": "cover"}, "src"),
    ("width=300,height=300,fit=cover,gravity=auto", {"width": "300", "height": "300", "fit": "cover"}, "src"),
    ("width=200,dpr=2", {"width": "200", "dpr": "2"}, "src"),
    ("width=200,rotate=90", {"width": "200", "rotate": "90"}, "src"),
    ("width=200,blur=20,sharpen=3,flip=h", {"width": "200"}, "src"),
    ("width=200,format=auto", {"width": "200"}, "avif"),
    ("width=200,f=webp", {"width": "200"}, "webp"),
    ("width=200,format=avif", {"width": "200"}, "avif"),
    ("width=200,format=jpeg,quality=low", {"width": "200"}, "jpg"),
    ("width=200,format=png", {"width": "200"}, "png"),
]


@pytest.mark.parametrize("layout", ["id", "name", "generate"])
async def test_cloudflare_urls_from_their_docs_render_as_cloudflare_documents(
    client: AsyncTestClient, settings: Settings, layouts: dict[str, tuple[str, dict[str, str]]], layout: str
) -> None:
    path, base = layouts[layout]
    source = SOURCE
    if layout == "generate":  # draw the master once through /g itself, so every row below is a variant of it
        await _fetch(client, f"{path}?prompt={quote(PROMPT)}&ar=3%3A2&key={base['key']}")
        source = await _generated_size(settings, "3:2")
    tail = f"?prompt={quote(PROMPT)}&ar=3%3A2&key={base['key']}" if layout == "generate" else ""
    for options, meaning, wanted in CLOUDFLARE_TABLE:
        image, fmt, response = await _fetch(client, f"/cdn-cgi/image/{options}{path}{tail}")
        got, expected = (image.width, image.height), cloudflare_size(source, meaning)
        assert abs(got[0] - expected[0]) <= 1 and abs(got[1] - expected[1]) <= 1, (layout, options, got, expected)
        if wanted == "src":
            assert fmt in ("jpg", "png"), (options, fmt)
        else:
            assert fmt == wanted, (options, fmt)
        assert not response.history, options
        policy = "public, max-age=31536000, immutable" if layout != "name" else "public, max-age=60, stale-while-revalidate=86400"
        assert response.headers["cache-control"] == policy
        assert response.headers["etag"].startswith('"')


UNPIC_CLOUDFLARE_PROPS: list[dict[str, Any]] = [
    {"layout": "constrained", "width": 800, "height": 600},
    {"layout": "fixed", "width": 300, "height": 200},
    {"layout": "fullWidth"},
    {"layout": "fixed", "width": 320, "height": 180, "operations": {"cloudflare": {"fit": "pad", "background": "red"}}},
    {"layout": "constrained", "width": 500, "height": 500, "operations": {"cloudflare": {"fit": "scale-down", "gravity": "left"}}},
]


@pytest.mark.parametrize("layout", ["id", "name", "generate"])
async def test_unpic_cloudflare_urls_decode_to_the_sizes_the_component_expects(
    client: AsyncTestClient, settings: Settings, layouts: dict[str, tuple[str, dict[str, str]]], layout: str
) -> None:
    path, base = layouts[layout]
    src = path + ("?" + "&".join(f"{k}={quote(v)}" for k, v in base.items()) if base else "")
    cases = [{"cdn": "cloudflare", "props": {"src": src, **props, "options": {"cloudflare": {"domain": "testserver.local"}}}} for props in UNPIC_CLOUDFLARE_PROPS]
    rendered = _unpic(cases)
    fetched = 0
    for out in rendered:
        for url, _ in _srcset(out):
            parts = urlsplit(url)
            assert parts.path.startswith("/cdn-cgi/image/") and not parts.query  # a /g source's query rides in the path as %3F
            options = dict(item.split("=", 1) for item in parts.path.split("/")[3].split(","))
            assert options["f"] == "auto"
            image, fmt, response = await _fetch(client, url)
            assert not response.history, url  # unpic writes only options this service reads: no redirect
            assert fmt == "avif"
            source = await _generated_size(settings, "3:2") if layout == "generate" else SOURCE
            expected = cloudflare_size(source, options)
            assert abs(image.width - expected[0]) <= 1 and abs(image.height - expected[1]) <= 1, (url, image.width, image.height, expected)
            fetched += 1
    assert fetched > 15


async def test_cloudflare_ignored_options_redirect_to_one_spelling(client: AsyncTestClient, layouts: dict[str, tuple[str, dict[str, str]]]) -> None:
    path, _ = layouts["id"]
    response = await client.get(f"/cdn-cgi/image/width=300,metadata=none,,anim=false,height=200/{path.lstrip('/')}", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == f"/cdn-cgi/image/width=300,height=200{path}"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    only_ignored = await client.get(f"/cdn-cgi/image/onerror=redirect{path}", follow_redirects=False)
    assert only_ignored.status_code == 301 and only_ignored.headers["location"] == path
    absolute = await client.get(f"/cdn-cgi/image/width=100/http://testserver.local{path}")
    assert absolute.status_code == 200 and decode(absolute.content)[0].width == 100
    folded = await client.get(f"/cdn-cgi/image/width=100/https:/testserver.local{path}")
    assert folded.status_code == 200 and decode(folded.content)[0].width == 100
    head = await client.head(f"/cdn-cgi/image/width=100{path}")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) == len(absolute.content)
    assert head.headers["etag"] == absolute.headers["etag"]


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/cdn-cgi/image/width=0/i/{id}", 400, "`width` must be from 1 to 8192"),
        ("/cdn-cgi/image/width=100,w=200/i/{id}", 400, "`width` is given more than once"),
        ("/cdn-cgi/image/fit=outside/i/{id}", 400, "`fit` must be one of"),
        ("/cdn-cgi/image/gravity=2x2/i/{id}", 400, "`gravity` must be"),
        ("/cdn-cgi/image/rotate=45/i/{id}", 400, "`rotate` must be 90, 180 or 270"),
        ("/cdn-cgi/image/width=100/https://elsewhere.example/i/{id}", 404, "the source is not an image URL of this service"),
        ("/cdn-cgi/image/width=100/v1/assets", 404, "the source is not an image URL of this service"),
        ("/cdn-cgi/image/width=100/i/" + "0" * 32, 404, "asset not found"),
    ],
)
async def test_cloudflare_bad_options_and_sources_are_clear_errors(
    client: AsyncTestClient, layouts: dict[str, tuple[str, dict[str, str]]], url: str, status: int, message: str
) -> None:
    asset_path, _ = layouts["id"]
    response = await client.get(url.replace("/i/{id}", asset_path), headers={"accept": "image/*"})
    assert response.status_code == status, response.headers.get("x-error")
    assert message in response.headers["x-error"]
    assert response.headers["cache-control"] == "no-store"
    assert decode(response.content)[1] == "png"


# fm=json (and Cloudflare's format=json): the asset's metadata, with the image's cache headers.


@pytest.mark.parametrize("layout", ["id", "name", "generate"])
async def test_fm_json_is_the_assets_metadata_with_the_images_cache_headers(
    client: AsyncTestClient, settings: Settings, layouts: dict[str, tuple[str, dict[str, str]]], layout: str
) -> None:
    path, base = layouts[layout]
    query = "&".join(f"{k}={quote(v)}" for k, v in {**base, "w": "300", "fm": "json"}.items())
    response = await client.get(f"{path}?{query}")
    assert response.status_code == 200, response.headers.get("x-error")
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    document = response.json()
    if layout == "generate":
        width, height = await _generated_size(settings, "3:2")
        assert response.headers["x-cache-status"] == "GENERATED"  # a miss draws the master first: it is a generation
        assert document["Content-Type"] == "image/png"
        generation = document["promptpix"]["generation"]
        assert generation["prompt"] == PROMPT and generation["offline"] is True and generation["provider"]
        assert document["promptpix"]["source"] == "generated"
    else:
        width, height = SOURCE
        assert document["Content-Type"] == "image/jpeg"
        assert document["promptpix"]["focal_point"] == {"x": 0.6, "y": 0.4}
        assert document["promptpix"]["source"] == "uploaded" and "generation" not in document["promptpix"]
    assert (document["PixelWidth"], document["PixelHeight"]) == (width, height)
    assert int(document["Content-Length"]) > 0
    assert {"alt_text", "tags", "colors", "format", "id"} <= set(document["promptpix"])
    policy = "public, max-age=60, stale-while-revalidate=86400" if layout == "name" else "public, max-age=31536000, immutable"
    assert response.headers["cache-control"] == policy
    assert "vary" not in response.headers
    again = await client.get(f"{path}?{query}", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304 and again.headers["etag"] == response.headers["etag"]
    head = await client.head(f"{path}?{query}")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == response.headers["content-length"]
    if layout != "generate":
        cloudflare = await client.get(f"/cdn-cgi/image/format=json{path}")
        assert cloudflare.status_code == 200 and cloudflare.json() == document


# OpenAPI: every query parameter of /i and /g, from the parser's own table.


def _in_range(parse: Any, value: float, kind: str) -> bool:
    text = str(int(value)) if kind == "integer" else str(float(value))
    try:
        parse(text)
    except InvalidParam:
        return False
    return True


async def test_openapi_documents_every_query_parameter_as_the_parser_reads_it(client: AsyncTestClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    transform_names = set(TRANSFORM_PARSERS) | {"preset"}
    expected = {
        "/i/{asset_id}": transform_names,
        "/i/{project}/{alias}": transform_names,
        "/g/{project}": transform_names | GENERATE_NAMES,
    }
    by_name = {p.name: p for p in (*PARAMS, *GENERATE_PARAMS)}
    for path, names in expected.items():
        for method in ("get", "head"):
            parameters = [p for p in paths[path][method]["parameters"] if p["in"] == "query"]
            assert {p["name"] for p in parameters} == names, (path, method)
            for documented in parameters:
                if documented["name"] == "preset":
                    continue
                param, schema = by_name[documented["name"]], documented["schema"]
                assert documented["description"] and schema["type"] == param.kind
                assert documented["required"] == (documented["name"] == "prompt" and path == "/g/{project}")
                low, high = schema.get("minimum"), schema.get("maximum")
                if low is not None and documented["name"] not in ("w", "h"):  # sides: 0 itself is out, fractions above it in
                    assert _in_range(param.parse, low, param.kind) and _in_range(param.parse, high, param.kind), param.name
                    assert not _in_range(param.parse, high + 1, param.kind), param.name
                    assert not _in_range(param.parse, low - 1, param.kind), param.name
                for choice in schema.get("enum") or ():
                    param.parse(str(choice))  # every documented choice parses
                if "default" in schema:
                    param.parse(str(schema["default"]).lower())
    # The parser reads nothing the table does not list.
    assert set(TRANSFORM_PARSERS) == {p.name for p in PARAMS}
    with pytest.raises(InvalidParam):
        by_name["fm"].parse("gif")  # refused: not in the documented enum
    assert "gif" not in paths["/i/{asset_id}"]["get"]["parameters"][[p["name"] for p in paths["/i/{asset_id}"]["get"]["parameters"]].index("fm")]["schema"]["enum"]
    cloudflare = paths["/cdn-cgi/image/{rest}"]["get"]
    assert all(f"`{option.names[0]}`" in cloudflare["description"] for option in CLOUDFLARE_OPTIONS)
