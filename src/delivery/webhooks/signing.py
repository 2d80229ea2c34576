"""Standard Webhooks signatures (https://www.standardwebhooks.com): what its verifier libraries check.

The secret is `whsec_` + base64 of random bytes; the signed content is
`{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 with the decoded secret,
sent as `webhook-signature: v1,<base64>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["PREFIX", "headers", "new_secret", "sign"]

PREFIX = "whsec_"
_SECRET_BYTES = 24


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, *, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id=message_id, timestamp=timestamp, body=body),
        "content-type": "application/json",
    }
