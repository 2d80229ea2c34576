"""Webhook signatures as the Standard Webhooks reference verifier checks them; the SSRF guard's refusals; cron spacing."""

from __future__ import annotations

import base64
import ipaddress
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from delivery.errors import WebhookUrlRefused
from delivery.jobs.queue import every
from delivery.webhooks import check_url, new_secret
from delivery.webhooks.signing import headers


def test_signed_headers_verify_with_the_reference_library_and_a_changed_body_does_not() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    body = b'{"type":"asset.created","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    signed = headers(secret, message_id="msg_1", timestamp=int(time.time()), body=body)
    assert Webhook(secret).verify(body, signed)["type"] == "asset.created"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"created", b"deleted"), signed)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, signed)
    stale = headers(secret, message_id="msg_1", timestamp=int(time.time()) - 3600, body=body)
    with pytest.raises(WebhookVerificationError):  # verifiers refuse old timestamps: replays do not pass
        Webhook(secret).verify(body, stale)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://10.0.0.8/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://169.254.169.254/", "metadata"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://100.64.0.1/", "non-public"),
        ("gopher://example.com/", "http or https"),
        ("http://example.com:99999/", "port"),
    ],
)
async def test_the_guard_refuses_addresses_inside_the_deployment(url: str, reason: str) -> None:
    with pytest.raises(WebhookUrlRefused, match=reason):
        await check_url(url, [])


async def test_allowed_networks_let_a_local_receiver_through() -> None:
    await check_url("http://127.0.0.1:9/hook", [ipaddress.ip_network("127.0.0.0/8")])
    await check_url("http://93.184.215.14/hook", [])  # a public address needs nothing


async def test_a_checked_url_is_pinned_to_the_address_it_was_checked_at() -> None:
    loopback = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    plain = await check_url("http://127.0.0.1/hook?a=1", loopback)
    assert (plain.url, plain.host, plain.sni) == ("http://127.0.0.1:80/hook?a=1", "127.0.0.1", None)
    six = await check_url("http://[::1]:8080/hook", loopback)
    assert (six.url, six.host) == ("http://[::1]:8080/hook", "[::1]:8080")
    named = await check_url("https://localhost:8443/hooks/in", loopback)
    assert named.url in ("https://127.0.0.1:8443/hooks/in", "https://[::1]:8443/hooks/in")
    assert (named.host, named.sni) == ("localhost:8443", "localhost")  # Host, and the name TLS sends and checks


def test_periodic_schedules_fire_about_every_interval() -> None:
    assert every(1) == "* * * * * */1"
    assert every(15) == "* * * * * */15"
    assert every(900) == "*/15 * * * *"
    assert every(7200) == "0 */2 * * *"
