"""What the OpenAPI document says about errors: one problem-details schema, the statuses each route can answer.

`/v1` routes answer problem details; image routes (`/i`, `/g`) answer a small PNG
when the client accepts images (an `<img>` cannot show JSON), problem details otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.enums import ParamType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, OpenAPIType, Operation, Parameter, Schema, SecurityScheme

from delivery.images.formats import PNG
from delivery.images.params import Param

__all__ = ["BEARER", "COMPONENTS", "ProblemDetails", "image_problems", "problems", "query_operation"]


class ProblemDetails(msgspec.Struct, frozen=True):
    """RFC 9457 problem details, the body of every `/v1` error."""

    type: str
    title: str
    status: int
    detail: str


_MEANINGS = {
    400: "A parameter or body field is malformed or out of range",
    401: "No live secret key in `Authorization: Bearer pp_sk_…`",
    402: "The organisation cannot pay for a new generation",
    403: "The key lacks the scope, or the path names another project",
    404: "Not found in this project",
    409: "A request with this Idempotency-Key is still running",
    413: "The upload is larger than the configured limit",
    415: "The upload is not an image format the service reads",
    422: "Well-formed but not possible: unknown name, style or flow; reused Idempotency-Key",
    429: "Too many new generations a minute; see Retry-After",
    503: "Storage, database or the image provider is unavailable; see Retry-After",
}
_ALWAYS = (400, 401, 403, 503)
"""Every `/v1` route authenticates, validates its input, and needs the database."""

BEARER = "bearer"
COMPONENTS = Components(
    security_schemes={
        BEARER: SecurityScheme(type="http", scheme="bearer", description="A secret key, `pp_sk_…` (docs/security.md)")
    }
)


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for 400, 401, 403, 503 and `statuses`, all with the problem-details body."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails, description=_MEANINGS[status], media_type="application/problem+json", generate_examples=False
        )
        for status in sorted({*_ALWAYS, *statuses})
    }


_IMAGE_MEANINGS = {
    400: "A parameter is unknown, repeated, malformed or out of range (the message names it)",
    401: "A generation link without `key`",
    402: "The organisation cannot pay for a new generation",
    403: "The link's key, signature, expiry or origin is not accepted",
    404: "No such asset, name or project",
    413: "The master is larger than the configured byte limit",
    415: "The master is not a format the service reads",
    422: "The master is truncated or over the pixel/frame limits; or the prompt was refused, or names an unknown @name or style",
    429: "Too many new generations a minute; see Retry-After",
    503: "Busy, or storage, database or the image provider is unavailable; see Retry-After",
}


def image_problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Error responses of an image route: a PNG with the status (the message in `X-Error`), `no-store`."""
    return {
        status: ResponseSpec(
            data_container=bytes,
            description=f"{_IMAGE_MEANINGS[status]}. Body: a small PNG showing the status when the request accepts "
            "images, else problem details (application/problem+json). Always `Cache-Control: no-store`.",
            media_type=PNG.mime,
            generate_examples=False,
        )
        for status in sorted({400, 404, 503, *statuses})
    }


_TYPES = {"integer": OpenAPIType.INTEGER, "number": OpenAPIType.NUMBER, "string": OpenAPIType.STRING, "boolean": OpenAPIType.BOOLEAN}


def _typed(param: Param, value: str) -> Any:
    if param.kind == "integer":
        return int(value)
    if param.kind == "number":
        return float(value)
    if param.kind == "boolean":
        return value in ("1", "true")
    return value


def _parameter(param: Param) -> Parameter:
    schema = Schema(
        type=_TYPES[param.kind],
        minimum=param.minimum,
        maximum=param.maximum,
        enum=[_typed(param, c) for c in param.choices] or None,
        default=_typed(param, param.default) if param.default is not None else None,
        pattern=param.pattern,
    )
    return Parameter(name=param.name, param_in=ParamType.QUERY, schema=schema, description=param.description, required=False)


def query_operation(*groups: Iterable[Param], required: frozenset[str] = frozenset()) -> type[Operation]:
    """An Operation class that lists `groups` as query parameters: the image routes read their query themselves
    (one parse, memoised), so Litestar cannot see these params in the handler's signature."""
    parameters = [_parameter(p) for group in groups for p in group]
    for parameter in parameters:
        parameter.required = parameter.name in required

    @dataclass
    class QueryOperation(Operation):
        def __post_init__(self) -> None:
            self.parameters = [*(self.parameters or []), *parameters]

    return QueryOperation
