"""The SSRF guard: webhook URLs must reach the public internet, not the deployment's own networks.

A URL is checked when an endpoint is saved and again before each delivery
(DNS can change between the two): every address its host resolves to must be
a global unicast address. The delivery then connects to an address that check
vetted (`Pinned`), with the host name in `Host` and in TLS (SNI and the
certificate check), so a name that resolves elsewhere a moment later (DNS
rebinding) cannot steer the request inside. Loopback, private (RFC 1918, unique-local),
link-local (cloud metadata at 169.254.169.254 among them), shared, reserved,
multicast and unspecified addresses are refused unless they fall in a network
PROMPTPIX_WEBHOOK_ALLOWED_NETWORKS names.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit, urlunsplit

import msgspec

from delivery.errors import WebhookUrlRefused

__all__ = ["Pinned", "allowed_networks", "check_url"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_MAX_URL = 2000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Pinned(msgspec.Struct, frozen=True):
    """Where a delivery goes: `url` with the vetted address for its host; `host` for the `Host` header; `sni` for TLS."""

    url: str
    host: str
    sni: str | None


def allowed_networks(text: str) -> list[Network]:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


def _refusal(address: Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in _METADATA:
        return "a cloud metadata address"
    for kind, flag in (  # the most specific first: Python counts loopback and 0.0.0.0 as private too
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a reserved", address.is_reserved),
        ("a private", address.is_private),
    ):
        if flag:
            return f"{kind} address"
    return None if address.is_global else "a non-public address"


async def check_url(url: str, allowed: list[Network]) -> Pinned:
    """`url` pinned to the first address its host resolves to, if every one may be delivered to; WebhookUrlRefused (422) naming why otherwise."""
    if len(url) > _MAX_URL:
        raise WebhookUrlRefused(f"the webhook URL is longer than {_MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlRefused("the webhook URL must be an http or https URL with a host")
    if parts.username or parts.password:
        raise WebhookUrlRefused("the webhook URL must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookUrlRefused("the webhook URL has an invalid port") from None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        raise WebhookUrlRefused(f"the webhook host {parts.hostname} does not resolve") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        reason = _refusal(address)
        if reason is not None and not any(address in network for network in allowed):
            raise WebhookUrlRefused(f"the webhook host {parts.hostname} resolves to {reason} ({address})")
    if not addresses:
        raise WebhookUrlRefused(f"the webhook host {parts.hostname} does not resolve")
    return _pinned(parts, addresses[0], port)


def _pinned(parts: SplitResult, address: Address, port: int) -> Pinned:
    literal = f"[{address}]" if address.version == 6 else str(address)
    return Pinned(
        url=urlunsplit(parts._replace(netloc=f"{literal}:{port}")),
        host=parts.netloc,  # as the URL wrote it, port included when given (credentials are refused above)
        sni=parts.hostname if parts.scheme == "https" else None,
    )
