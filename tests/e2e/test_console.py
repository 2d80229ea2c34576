"""The web console in a real browser (Playwright driving Debian's Chromium) against `promptpix serve`.

One walk through the console, in the order a new user takes it, records every
request the pages make (all must go to the service), every console error (there
must be none), and a screenshot of each page in tests/artifacts/console/. On
each page it reads Chromium's accessibility tree (every control and link has a
name) and presses Tab through the page (the skip link comes first, then the
page's main actions are reached).
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvips

from harness.fake_gemini import API_KEY, FakeGemini
from harness.processes import Serve, find_program, start_serve
from tests.conftest import TESTS, require
from tests.images import decode, pixel, solid

ARTIFACTS = TESTS / "artifacts" / "console"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]



@pytest.fixture(scope="module")
def served() -> Iterator[Serve]:
    """`promptpix serve` generating through the real google-genai client against a local fake Gemini.

    Not the offline renderer: its placeholders are refunded, never charged, and
    the usage charts would have nothing to draw.
    """
    parent = Path(tempfile.mkdtemp(prefix="promptpix-console-"))
    with FakeGemini() as gemini:
        env = {"PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": API_KEY, "PROMPTPIX_GEMINI_BASE_URL": gemini.url}
        server = start_serve(data_dir=parent / "data", database_url=None, env=env)
        try:
            yield server
        finally:
            server.stop()
            shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    chromium = find_program("chromium", "/usr/bin/chromium")
    require(chromium is not None, "chromium (Debian package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright (pip install -e '.[test]')")
        raise
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def two_halves(path: Path) -> None:
    """A 600×300 PNG, red on the left half and blue on the right: a 1:1 crop shows which side the focal point is on."""
    red = (pyvips.Image.black(300, 300, bands=3) + [220, 30, 30]).cast("uchar")
    blue = (pyvips.Image.black(300, 300, bands=3) + [30, 30, 220]).cast("uchar")
    red.join(blue, "horizontal").write_to_file(str(path))


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Watch:
    """Every request a page makes, and every error it logs."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.requests: list[str] = []
        self.errors: list[str] = []

    def attach(self, page: object) -> None:
        page.on("request", lambda r: self.requests.append(r.url))  # type: ignore[attr-defined]
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: self.errors.append(str(e)))  # type: ignore[attr-defined]

    def check(self) -> None:
        foreign = [u for u in self.requests if not u.startswith((self.base + "/", "data:", "about:", "blob:"))]
        assert foreign == [], f"requests to other hosts: {foreign}"
        assert self.errors == [], f"console errors: {self.errors}"


NAMED_ROLES = {"textbox", "searchbox", "combobox", "checkbox", "radio", "button", "spinbutton", "slider", "listbox", "switch", "link", "image"}
"""Roles whose nodes must have an accessible name: every form control, link and image."""


def unnamed_nodes(page: object) -> list[str]:
    """Nodes of Chromium's own accessibility tree (the one screen readers get) that have one of NAMED_ROLES and no name."""
    cdp = page.context.new_cdp_session(page)  # type: ignore[attr-defined]
    try:
        missing = []
        for node in cdp.send("Accessibility.getFullAXTree")["nodes"]:
            role = node.get("role", {}).get("value")
            if node.get("ignored") or role not in NAMED_ROLES or (node.get("name", {}).get("value") or "").strip():
                continue
            described = cdp.send("DOM.describeNode", {"backendNodeId": node["backendDOMNodeId"]})["node"] if "backendDOMNodeId" in node else {}
            missing.append(f"{role}: <{described.get('localName', '?')} {' '.join(described.get('attributes', []))}>")
        return missing
    finally:
        cdp.detach()


def audit(page: object, reach: list[str], url: str | None = None) -> None:
    """Every control named; from a fresh load, Tab focuses the skip link first and then reaches each selector in `reach`."""
    assert unnamed_nodes(page) == [], f"{page.url}: unnamed controls"  # type: ignore[attr-defined]
    if url is None:
        return
    page.goto(url.split("#")[0])  # type: ignore[attr-defined]  # a fragment would start Tab at its target
    remaining, first = list(reach), None
    for step in range(400):
        page.keyboard.press("Tab")  # type: ignore[attr-defined]
        if step == 0:
            first = page.evaluate("() => document.activeElement.className")  # type: ignore[attr-defined]
        hit = page.evaluate("(selectors) => selectors.filter((s) => document.activeElement.matches(s))", remaining)  # type: ignore[attr-defined]
        remaining = [s for s in remaining if s not in hit]
        if not remaining:
            break
    assert first == "skip", f"{url}: the first Tab focuses {first!r}, not the skip link"
    assert remaining == [], f"{url}: Tab never reaches {remaining}"


def shoot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_console_walkthrough(served: Serve, browser: object, tmp_path: Path) -> None:
    base = served.base
    link = next(line for line in served.lines if "/console/signin?token=" in line)
    watch = Watch(base)
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    watch.attach(page)

    # Landing: what it is, a live example image, links.
    page.goto(base + "/")
    example = page.locator(".example img")
    example.wait_for()
    page.wait_for_function("() => document.querySelector('.example img').naturalWidth > 0", timeout=60_000)
    assert page.evaluate("() => document.querySelector('.example img').naturalWidth") == 800
    assert page.locator("a[href='/console']").count() >= 1 and page.locator("a[href='/schema']").count() >= 1
    shoot(page, "01-landing")

    # Sign in from the printed link: a session cookie, HttpOnly and SameSite=Lax.
    page.goto(link)
    assert page.url == base + "/console"
    [cookie] = [c for c in context.cookies() if c["name"] == "promptpix_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    shoot(page, "02-projects")
    audit(page, ["#slug", "#style-name", "form[action='/console/projects'] button[type=submit]", ".signout button"], url=base + "/console")
    page.goto(link)  # the link works once
    assert "already used" in page.locator(".alert").inner_text()
    assert watch.errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    watch.errors.clear()  # that refusal is the one error this walk expects

    # Playground: generate, see the image load at the requested size, with its metadata and snippets.
    audit(page, ["#prompt", "#aspect", "#generate-form button[type=submit]"], url=base + "/console/playground")
    page.fill("#prompt", "a lighthouse on a cliff at night")
    page.fill("#width", "640")
    page.select_option("#aspect", "16:9")
    page.select_option("#fm", "webp")
    page.click("#generate-form button[type=submit]")
    assert page.locator("#generate-progress").is_visible() or page.locator("#result-image").count() == 1
    page.wait_for_function("() => { const i = document.getElementById('result-image'); return i && i.complete && i.naturalWidth > 0 }", timeout=120_000)
    size = page.evaluate("() => { const i = document.getElementById('result-image'); return [i.naturalWidth, i.naturalHeight] }")
    assert size == [640, 360]
    assert "credit" in page.locator("#cost").inner_text()
    shoot(page, "03-playground")
    audit(page, [])  # the result and its snippets' copy buttons

    # Copy the <img> snippet and paste it into a blank page: it loads there too.
    page.click("button[data-copy='snippet-img']")
    snippet = page.evaluate("() => navigator.clipboard.readText()")
    assert snippet.startswith("<img src=\"" + base + "/g/demo?") and "sig=" in snippet and 'width="640"' in snippet
    # The blank page is served at a path of the service's origin by the browser itself (Chromium refuses
    # loopback images to the opaque origin of about:blank), so it holds nothing but the pasted snippet.
    blank = context.new_page()
    watch.attach(blank)
    blank.route(base + "/pasted.html", lambda route: route.fulfill(content_type="text/html", body=f"<!doctype html><html><body>{snippet}</body></html>"))
    blank.goto(base + "/pasted.html")
    blank.wait_for_function("() => document.images[0].complete && document.images[0].naturalWidth > 0", timeout=60_000)
    assert blank.evaluate("() => [document.images[0].naturalWidth, document.images[0].naturalHeight]") == [640, 360]
    blank.close()

    # Upload a file and find it in the library.
    upload = tmp_path / "halves.png"
    two_halves(upload)
    page.goto(base + "/console/p/demo/assets")
    before = page.locator("[data-asset]").count()
    with page.expect_navigation(timeout=60_000):
        page.set_input_files("#upload-file", str(upload))
    assert page.locator("[data-asset]").count() == before + 1
    page.select_option("#f-source", "uploaded")
    page.click(".filters button[type=submit]")
    uploaded = page.locator("[data-asset]")
    assert uploaded.count() == 1
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=60_000)

    # Drag and drop: a file dropped on the upload area (a DataTransfer carrying it, as a browser's drop has) is uploaded.
    page.goto(base + "/console/p/demo/assets")
    dropped = solid(240, 120, (20, 170, 60))
    transfer = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
            return transfer;
        }""",
        base64.b64encode(dropped).decode(),
    )
    tiles = "(tiles) => tiles.map((t) => t.dataset.asset)"
    known = set(page.locator("[data-asset]").evaluate_all(tiles))
    page.dispatch_event("#upload", "dragenter", {"dataTransfer": transfer})
    assert "over" in (page.get_attribute("#upload", "class") or "")  # the drop target shows it will take the file
    with page.expect_response(lambda r: r.url == base + "/console/p/demo/assets" and r.request.method == "POST") as answer, page.expect_navigation(timeout=60_000):
        page.dispatch_event("#upload", "drop", {"dataTransfer": transfer})
    assert answer.value.status == 201  # the body is gone with the reload: the new tile names the asset
    [dropped_id] = set(page.locator("[data-asset]").evaluate_all(tiles)) - known
    tile = page.locator(f"[data-asset='{dropped_id}']")
    assert tile.count() == 1 and page.locator("[data-asset]").count() == before + 2
    tile.locator("img").evaluate("(i) => i.complete || new Promise((ok) => i.addEventListener('load', ok))")
    status, body = fetch(f"{base}/i/{dropped_id}?fm=png")
    image, fmt = decode(body)
    assert status == 200 and fmt == "png" and (image.width, image.height) == (240, 120)
    green = pixel(image, 0.5, 0.5)
    assert green[1] > 140 and green[0] < 60 and green[2] < 100
    page.select_option("#f-source", "uploaded")
    page.click(".filters button[type=submit]")
    assert page.locator("[data-asset]").count() == 2
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=60_000)
    shoot(page, "04-library")
    audit(page, ["#f-source", ".filters button[type=submit]", "#upload-file", "[data-asset]"], url=page.url)
    [upload_id] = set(page.locator("[data-asset]").evaluate_all(tiles)) - {dropped_id}
    page.click(f"[data-asset='{upload_id}']")

    # Focal point: click near the right edge, then the left; the 1:1 crop follows (blue, then red).
    master = page.locator("#master")
    page.wait_for_function("() => document.getElementById('master').naturalWidth > 0", timeout=60_000)

    def square_after_click(fx: float) -> list[float]:
        box = master.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + 0.5 * box["height"])
        page.wait_for_function(
            "(fx) => { const c = document.getElementById('square-crop'); return c.src.includes('fp-x=' + fx.toFixed(3)) && c.complete && c.naturalWidth > 0 }",
            arg=round(fx, 3),
            timeout=60_000,
        )
        src = page.evaluate("() => document.getElementById('square-crop').src")
        status, body = fetch(src)
        assert status == 200
        image, _ = decode(body)
        assert (image.width, image.height) == (200, 200)
        return pixel(image, 0.5, 0.5)

    right = square_after_click(0.95)
    assert right[2] > 150 and right[0] < 80  # blue
    left = square_after_click(0.05)
    assert left[0] > 150 and left[2] < 80  # red
    assert float(page.input_value("#focal_x")) < 0.1
    shoot(page, "05-asset-focal")
    asset_url = page.url
    page.fill("#alt_text", "red and blue halves")
    page.fill("#tags", "test, halves")
    page.fill("#name", "halves")
    page.click("#asset-form button[type=submit]")
    assert float(page.input_value("#focal_x")) < 0.1  # saved: the page shows the stored point again
    assert page.input_value("#alt_text") == "red and blue halves"
    assert "@halves" in page.locator(".meta").first.inner_text()
    audit(page, ["#master", "#alt_text", "#asset-form button[type=submit]"], url=asset_url)

    # Styles and presets: make a style the default and a preset; the asset page then shows the preset's crop.
    page.goto(base + "/console/p/demo/settings")
    page.fill("#new-style-name", "ink")
    page.fill("#new-style-prompt", "ink wash, loose brush")
    page.select_option("#new-style-aspect", "4:3")
    page.check("#new-style input[name=default]")
    page.click("#new-style button[type=submit]")
    assert page.locator("[data-style='ink'] .tag").inner_text() == "default"
    assert page.input_value("#project-default-style") == "ink"
    page.fill("#new-preset-name", "banner")
    page.fill("#new-preset-params", "w=300&h=100&fit=crop&fm=webp")
    page.click("#new-preset button[type=submit]")
    assert page.input_value("#preset-banner-params") == "fit=crop&fm=webp&h=100&w=300"
    shoot(page, "06-settings")
    audit(page, ["#project-name", "#project button[type=submit]", "#new-style-name", "#new-style button[type=submit]", "#new-preset button[type=submit]"], url=page.url)
    page.goto(asset_url)
    banner = page.locator("img.crop[data-preset='banner']")
    banner.scroll_into_view_if_needed()
    page.wait_for_function("() => { const i = document.querySelector(\"img.crop[data-preset='banner']\"); return i.complete && i.naturalWidth > 0 }", timeout=60_000)
    assert banner.evaluate("(i) => [i.naturalWidth, i.naturalHeight]") == [300, 100]

    # Keys: create a secret key (shown once, with a copy button), use it, revoke it.
    page.goto(base + "/console/p/demo/keys")
    page.check("input[name=kind][value=secret]")
    page.fill("#key-name", "browser test")
    page.click("form[action='/console/p/demo/keys'] button[type=submit]")
    secret = page.locator("#secret-value").inner_text()
    assert secret.startswith("pp_sk_")
    shoot(page, "07-keys-created")
    page.click("#new-secret button[data-copy]")
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    auth = {"Authorization": f"Bearer {secret}"}
    status, body = fetch(base + "/v1/billing/balance", auth)
    assert status == 200 and json.loads(body)["account"]["plan"] == "unlimited"
    key_id = page.locator("#new-secret h2 code").inner_text()
    page.click(f"button[aria-label='Revoke {key_id}']")
    assert page.locator(f"tr[data-key='{key_id}'] .state").inner_text() == "revoked"
    assert fetch(base + "/v1/billing/balance", auth)[0] == 401
    shoot(page, "08-keys-revoked")
    audit(page, ["input[name=kind]", "#key-name", "form[action='/console/p/demo/keys'] button[type=submit]", "button[aria-label^='Revoke']"], url=page.url)

    # Usage: balance, the charts, the ledger.
    page.goto(base + "/console/usage")
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    bars = charts.first.locator("rect.bar")
    assert bars.count() == 30
    heights = [float(bars.nth(i).get_attribute("height") or 0) for i in range(30)]
    # Usage is what was billed: today's generations through the fake Gemini (the landing's example and the playground's).
    assert heights[-1] > 0 and sum(heights[:-1]) == 0
    assert charts.first.bounding_box()["width"] > 300  # type: ignore[index]
    shoot(page, "09-usage")
    audit(page, ["a[href='/schema']"], url=page.url)

    # API docs render offline, from the service's own files.
    page.goto(base + "/schema")
    page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
    assert "promptpix" in page.locator(".swagger-ui .info .title").inner_text()
    shoot(page, "10-schema")

    # A phone-sized screen.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=context.storage_state())  # type: ignore[attr-defined]
    small = phone.new_page()
    watch.attach(small)
    for name, path in (("11-phone-playground", "/console/playground"), ("12-phone-library", "/console/p/demo/assets"), ("13-phone-settings", "/console/p/demo/settings")):
        small.goto(base + path)
        small.wait_for_load_state("networkidle")
        shoot(small, name)
        assert small.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1, f"{path} scrolls sideways on a phone"
    phone.close()

    # Sign out: the cookie no longer opens the console.
    page.goto(base + "/console")
    page.click(".signout button")
    assert page.url == base + "/console/signin"
    page.goto(base + "/console")
    assert "Sign in" in page.locator("h1").inner_text()
    context.close()
    watch.check()
