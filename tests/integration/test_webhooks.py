"""Webhooks end to end: a real receiver on loopback, deliveries by a real `promptpix worker`,
signatures checked by the `standardwebhooks` reference library."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from standardwebhooks.webhooks import Webhook

from delivery.settings import Settings
from delivery.webhooks.delivery import post_signed
from harness.fake_gemini import API_KEY, FakeGemini
from harness.local_server import LocalServer
from harness.processes import Serve, start_serve
from tests.integration.test_jobs import WORKER_ENV, Workers, bearer, wait_for
from tests.tenancy import Tenant, make_tenant
from tests.waiting import until


class Received:
    def __init__(self, body: bytes, headers: dict[str, str], at: float) -> None:
        self.body, self.headers, self.at = body, headers, at


class Receiver(LocalServer):
    """Records every POST; answers 500 to the first `failures` attempts of each message, then 204."""

    def __init__(self, failures: int = 0) -> None:
        self.received: list[Received] = []
        self.failures = failures
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.received.append(Received(body, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()))
                    tries = sum(1 for r in receiver.received if r.headers.get("webhook-id") == self.headers.get("webhook-id"))
                self.send_response(500 if tries <= receiver.failures else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler, "webhook-receiver")

    def events(self, secret: str) -> list[dict[str, Any]]:
        """Each distinct message once (a retry repeats its webhook-id), verified as Standard Webhooks says."""
        verifier = Webhook(secret)
        seen: dict[str, dict[str, Any]] = {}
        for r in list(self.received):
            seen.setdefault(r.headers["webhook-id"], verifier.verify(r.body, r.headers))
        return list(seen.values())


@pytest.fixture
def env(fake_gemini: FakeGemini) -> dict[str, str]:
    return {
        "PROMPTPIX_GENERATOR": "gemini", "GEMINI_API_KEY": API_KEY, "PROMPTPIX_GEMINI_BASE_URL": fake_gemini.url, **WORKER_ENV,
        "PROMPTPIX_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",  # the receiver is on loopback, refused by default
        "PROMPTPIX_WEBHOOK_RETRY_SCHEDULE": "0.5,1",
    }  # fmt: skip


@pytest.fixture
def api(tmp_path: Path, database_url: str, env: dict[str, str]) -> Iterator[Serve]:
    served = start_serve(data_dir=tmp_path / "data", database_url=database_url, env=env)
    yield served
    served.stop()


@pytest.fixture
def workers(tmp_path: Path, database_url: str, env: dict[str, str], api: Serve) -> Iterator[Workers]:
    pool = Workers(tmp_path / "data", database_url, env)
    pool.start("w1")
    yield pool
    for worker in pool.started:
        worker.kill()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(failures=2) as server:
        yield server


async def test_each_event_arrives_once_signed_and_failed_attempts_are_retried_with_backoff(
    api: Serve, workers: Workers, receiver: Receiver, database_url: str
) -> None:
    tenant = await make_tenant(database_url, credits=1000, warning_threshold=999)  # a credit each: the first job crosses it, the second stays below
    async with httpx.AsyncClient(base_url=api.base, headers=bearer(tenant), timeout=30) as http:
        made = await http.post("/v1/webhooks", json={"url": receiver.origin + "/hook", "events": ["generation.succeeded", "asset.created", "balance.low"]})
        assert made.status_code == 201, made.text
        endpoint = made.json()
        secret = endpoint["secret"]
        assert secret.startswith("whsec_")
        assert (await http.get(f"/v1/webhooks/{endpoint['id']}")).json()["secret"] is None  # shown once

        job = (await http.post("/v1/generations", json={"prompt": "a kite", "wait": False})).json()
        done = await wait_for(http, f"/v1/jobs/{job['id']}", "succeeded")
        second = (await http.post("/v1/generations", json={"prompt": "a second kite", "wait": False})).json()
        await wait_for(http, f"/v1/jobs/{second['id']}", "succeeded")

        # 2 jobs: 2 asset.created, 2 generation.succeeded, 1 balance.low (one crossing), each answered 500, 500, 204.
        await until(lambda: len(receiver.received) == 5 * 3, "every message is delivered on its third attempt", timeout=60, interval=0.1)
        events = receiver.events(secret)
        assert sorted(e["type"] for e in events) == ["asset.created"] * 2 + ["balance.low"] + ["generation.succeeded"] * 2
        succeeded = next(e for e in events if e["type"] == "generation.succeeded" and e["data"]["job"]["id"] == job["id"])
        assert succeeded["data"]["job"]["asset_ids"] == done["asset_ids"]
        low = next(e for e in events if e["type"] == "balance.low")
        assert low["data"]["remaining"] == 999

        # Backoff: each message's attempts are spaced by the schedule (0.5 s, then 1 s).
        by_id: dict[str, list[float]] = {}
        for r in receiver.received:
            by_id.setdefault(r.headers["webhook-id"], []).append(r.at)
        for times in by_id.values():
            assert times[1] - times[0] >= 0.45 and times[2] - times[1] >= 0.95

        log = (await http.get(f"/v1/webhooks/{endpoint['id']}/deliveries")).json()
        assert len(log) == 5 and {d["status"] for d in log} == {"delivered"}
        assert all([a["status_code"] for a in d["attempts"]] == [500, 500, 204] for d in log)

        # Manual redelivery: one more attempt now, marked manual, with the same webhook-id.
        message = log[0]
        again = await http.post(f"/v1/webhooks/{endpoint['id']}/deliveries/{message['id']}/redeliver")
        assert again.status_code == 202 and again.json()["attempt"] == 4
        await until(lambda: len(receiver.received) == 16, "the redelivery arrives", timeout=30, interval=0.1)
        assert receiver.received[-1].headers["webhook-id"] == message["id"]
        Webhook(secret).verify(receiver.received[-1].body, receiver.received[-1].headers)
        log = (await http.get(f"/v1/webhooks/{endpoint['id']}/deliveries")).json()
        attempts = next(d for d in log if d["id"] == message["id"])["attempts"]
        assert [(a["attempt"], a["manual"]) for a in attempts][-1] == (4, True)


async def test_a_refused_reservation_sends_balance_exhausted(api: Serve, workers: Workers, receiver: Receiver, database_url: str) -> None:
    tenant = await make_tenant(database_url, credits=0)
    receiver.failures = 0
    async with httpx.AsyncClient(base_url=api.base, headers=bearer(tenant), timeout=30) as http:
        made = (await http.post("/v1/webhooks", json={"url": receiver.origin, "events": ["balance.exhausted"]})).json()
        refused = await http.post("/v1/generations", json={"prompt": "an unpaid kite", "wait": False})
        assert refused.status_code == 402
        assert (await http.get("/v1/jobs")).json() == []  # nothing was queued
        await until(lambda: len(receiver.received) == 1, "balance.exhausted is delivered", timeout=30, interval=0.1)
        [event] = receiver.events(made["secret"])
        assert event["type"] == "balance.exhausted" and event["data"]["organization_id"] == tenant.org


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00:ec2::254]/",
        "ftp://example.com/hook",
        "http://user:pw@93.184.215.14/hook",
    ],
)
async def test_endpoints_resolving_to_private_addresses_are_refused_by_default(client: AsyncTestClient, database_url: str, url: str) -> None:
    tenant: Tenant = await make_tenant(database_url)
    answer = await client.post("/v1/webhooks", json={"url": url, "events": ["asset.created"]}, headers=bearer(tenant))
    assert answer.status_code == 422, answer.text
    assert "webhook" in answer.json()["detail"]
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM webhook_endpoints") == 0
    finally:
        await conn.close()


async def test_unknown_events_are_a_400(client: AsyncTestClient, database_url: str) -> None:
    tenant = await make_tenant(database_url)
    answer = await client.post("/v1/webhooks", json={"url": "http://93.184.215.14/", "events": ["asset.exploded"]}, headers=bearer(tenant))
    assert answer.status_code == 400 and "asset.exploded" in answer.json()["detail"]


async def test_a_delivery_goes_to_the_address_the_guard_vetted(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """DNS rebinding: a name that resolves to an allowed address for the check and elsewhere a moment later.

    The first lookup of `hooks.rebind.test` gives the receiver's loopback address, every later one 127.0.0.2,
    where nothing listens: the POST reaches the receiver only if it goes to the address the guard checked.
    """
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    lookups: list[str] = []

    async def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "hooks.rebind.test":
            return await real(host, port, *args, **kwargs)
        lookups.append(host)
        return await real("127.0.0.1" if len(lookups) == 1 else "127.0.0.2", port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    allowed = msgspec.structs.replace(settings, webhook_allowed_networks="127.0.0.0/8")
    with Receiver() as receiver:
        port = receiver.origin.rsplit(":", 1)[1]
        status, error = await post_signed(allowed, f"http://hooks.rebind.test:{port}/in", b"{}", {"webhook-id": "msg_1"})
    assert (status, error) == (204, None) and lookups == ["hooks.rebind.test"]
    assert [(r.headers["host"], r.headers["webhook-id"]) for r in receiver.received] == [(f"hooks.rebind.test:{port}", "msg_1")]
