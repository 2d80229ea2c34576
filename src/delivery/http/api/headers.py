"""Request headers several `/v1` routes read, declared once for validation and OpenAPI."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter

__all__ = ["IdempotencyKey"]

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retries with the same key get the first response; another request with it is a 422",
    ),
]
