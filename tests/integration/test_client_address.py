"""The committed nginx config in front of a real `promptpix serve`: the app sees each client's own address.

A `/g/` miss passes nginx's rate-limit gate (a loopback server) on its way to
the app; the app limits unsigned misses per client address. Two clients
(127.0.0.1 and 127.0.0.2) each get their own bucket, so one client spending its
allowance does not refuse the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.processes import Nginx, Serve, find_nginx, start_nginx, start_serve
from harness.urls import urlencode
from tests.conftest import require


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Serve]:
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url, env={"PROMPTPIX_IP_MISSES_PER_MINUTE": "1"})
    yield served
    served.stop()


@pytest.fixture
def edge(app: Serve, tmp_path: Path) -> Iterator[Nginx]:
    binary = find_nginx()
    require(binary is not None, "nginx and libnginx-mod-http-cache-purge (Debian packages)")
    assert binary is not None
    nginx = start_nginx(binary, tmp_path / "nginx", [app.port])
    yield nginx
    nginx.stop()


def from_address(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60)


def test_each_client_address_has_its_own_generation_bucket_behind_nginx(app: Serve, edge: Nginx) -> None:
    key = next(line.split("key=")[1].split("&")[0] for line in app.lines if "/g/demo?" in line)

    def new_image(prompt: str) -> str:
        return f"{edge.base}/g/demo?" + urlencode({"prompt": prompt, "w": 32, "fm": "png", "key": key})

    with from_address("127.0.0.1") as first, from_address("127.0.0.2") as second:
        assert first.get(new_image("a red fox")).status_code == 200
        refused = first.get(new_image("a blue fox"))
        assert refused.status_code == 429  # the app's per-address limit of 1 a minute
        assert "this client" in refused.headers.get("x-error", "") or "client" in refused.text
        other = second.get(new_image("a green fox"))
        assert other.status_code == 200, (other.status_code, other.headers.get("x-error"))  # a bucket of its own
        assert other.headers["content-type"] == "image/png"
