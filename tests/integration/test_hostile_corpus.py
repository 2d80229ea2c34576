"""The generated hostile corpus (tests/hostile.py) against a real `promptpix serve` process.

Every file is uploaded through `POST /v1/assets` and every accepted one served
in three variants. The bounds: no 5xx (a deadline 503 included), no request
over the transform deadline, and the server process's peak RSS (`VmHWM`)
under a fixed budget.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from harness.processes import start_serve
from tests import hostile
from tests.images import decode
from tests.tenancy import make_tenant

DEADLINE = 10.0
RSS_BUDGET = 896 * 1024 * 1024
"""Peak resident memory allowed for the server process over the whole run, in bytes."""
VARIANTS = (
    ("w=300&fm=webp", "webp"),
    ("w=200&h=200&fit=crop&fm=avif", "avif"),
    ("w=4000&dpr=2&fm=jpg&upscale=1", "jpg"),
)
"""Small, cropped, and as large as a URL may ask (enlarged, at the most the deployment allows)."""


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


async def test_the_hostile_corpus_is_refused_or_served_within_bounds(database_url: str, tmp_path: Path) -> None:
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url, env={"PROMPTPIX_TRANSFORM_DEADLINE": str(DEADLINE)})
    try:
        tenant = await make_tenant(database_url)
        headers = {"Authorization": f"Bearer {tenant.secret_key}"}
        failures: list[str] = []
        slowest = (0.0, "")
        served_ok = 0
        async with httpx.AsyncClient(base_url=served.base, timeout=DEADLINE * 6) as http:

            async def request(method: str, url: str, **kwargs: object) -> httpx.Response:
                nonlocal slowest
                started = time.perf_counter()
                response = await http.request(method, url, **kwargs)  # type: ignore[arg-type]  # httpx's keyword arguments, passed through
                took = time.perf_counter() - started
                slowest = max(slowest, (took, f"{method} {url} -> {response.status_code}"))
                if response.status_code >= 500:
                    failures.append(f"{method} {url}: {response.status_code} {response.headers.get('x-error') or response.text[:200]}")
                if took > DEADLINE:
                    failures.append(f"{method} {url}: {took:.1f} s")
                return response

            for name, data, statuses in hostile.corpus():
                filename = "photo.png" if "as-png" in name or "named" in name else f"{name}.jpg"  # names never decide
                upload = await request("POST", "/v1/assets", files={"file": (filename, data, "image/png")}, headers=headers)
                if upload.status_code not in statuses:
                    failures.append(f"upload {name}: {upload.status_code} not in {statuses}: {upload.text[:200]}")
                if upload.status_code != 201:
                    assert upload.json()["detail"], name  # a clear message, never an empty one
                    continue
                asset = upload.json()
                for query, fmt in VARIANTS:
                    response = await request("GET", f"/i/{asset['id']}?{query}")
                    if response.status_code == 200:
                        image, got = decode(response.content)
                        assert got == fmt, (name, query)
                        assert image.width <= max(asset["width"] * 4, 1) and image.width * image.height <= 40_000_000, (name, query)
                        served_ok += 1
                    elif response.status_code != 422:  # an output no encoder writes (1x100000 as WebP) is the one refusal
                        failures.append(f"{name} {query}: {response.status_code} {response.headers.get('x-error')}")
        rss = peak_rss(served.process.pid)
    finally:
        served.stop()
    print(f"slowest: {slowest[0]:.2f} s ({slowest[1]}); peak RSS {rss / 2**20:.0f} MiB; {served_ok} variants served")
    assert not failures, "\n".join(failures)
    assert served_ok >= 40
    assert rss < RSS_BUDGET, f"peak RSS {rss / 2**20:.0f} MiB"
