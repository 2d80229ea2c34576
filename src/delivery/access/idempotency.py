"""`Idempotency-Key` on `/v1` POSTs: a retry gets the first response, never a second effect.

The first request with a key (per project) runs; its response — a success, or
a client error that the same request would meet again — is stored in
PostgreSQL for `PROMPTPIX_IDEMPOTENCY_TTL` seconds and replayed, byte for byte,
to every retry with the same request. The same key with another request is a
422. Failures worth retrying (402, 429, 5xx) forget the key, so a retry runs
again. Concurrent retries in one process share one run (single-flight); a
retry in another process waits for the stored response, polling the row.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from litestar import Response

from delivery.db.idempotency import begin, finish, release
from delivery.errors import IdempotencyKeyBusy, IdempotencyKeyReused, ServiceError, problem_details, public_error
from delivery.services import Services
from generation import GenerationError

__all__ = ["fingerprint", "idempotent"]

log = logging.getLogger("promptpix.idempotency")

_FINAL_ERRORS = frozenset({400, 404, 413, 415, 422})
"""Client errors the same request would meet again: stored and replayed like a success."""
_JSON, _PROBLEM = "application/json", "application/problem+json"


class _Outcome(msgspec.Struct, frozen=True):
    status: int
    body: bytes
    replayed: bool


def fingerprint(method: str, path: str, *parts: Any) -> bytes:
    """What makes two requests the same: method, path and the decoded body (not its spelling)."""
    return hashlib.sha256(msgspec.json.encode([method, path, *parts])).digest()


async def _claim(services: Services, project_id: int, key: str, print_: bytes) -> _Outcome | None:
    """None: this request leads; an outcome: replay it. Waits while another process runs it."""
    settings = services.settings
    give_up = time.monotonic() + settings.claim_timeout
    delay = 0.05
    while True:
        async with services.pool.acquire() as conn:
            claim = await begin(
                conn,
                project_id=project_id,
                key=key,
                fingerprint=print_,
                now=dt.datetime.now(dt.UTC),
                lease=dt.timedelta(seconds=settings.idempotency_lease),
                ttl=dt.timedelta(seconds=settings.idempotency_ttl),
            )
        if claim.state == "lead":
            return None
        if claim.state == "mismatch":
            raise IdempotencyKeyReused()
        if claim.state == "done":
            assert claim.status is not None and claim.response is not None
            return _Outcome(claim.status, claim.response, replayed=True)
        if time.monotonic() > give_up:
            raise IdempotencyKeyBusy(retry_after=5)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def _store(services: Services, project_id: int, key: str, status: int, body: bytes) -> None:
    async with services.pool.acquire() as conn:
        await finish(conn, project_id=project_id, key=key, status=status, response=body)


async def _forget(services: Services, project_id: int, key: str) -> None:
    """Best effort, on the way out of a failure: if the database is gone too, the lease runs out instead."""
    try:
        async with services.pool.acquire() as conn:
            await release(conn, project_id=project_id, key=key)
    except Exception as exc:
        log.warning("idempotency key not released", extra={"key": key, "error": f"{type(exc).__name__}: {exc}"})


async def _run_once(
    services: Services, project_id: int, key: str, print_: bytes, run: Callable[[], Awaitable[Any]], status: int
) -> _Outcome:
    replay = await _claim(services, project_id, key, print_)
    if replay is not None:
        return replay
    try:
        result = await run()
    except (ServiceError, GenerationError) as exc:
        public = public_error(exc)
        if public.status in _FINAL_ERRORS:
            body = msgspec.json.encode(problem_details(public.status, public.title, public.message))
            await _store(services, project_id, key, public.status, body)
        else:
            await _forget(services, project_id, key)
        raise
    except BaseException:
        await _forget(services, project_id, key)
        raise
    body = msgspec.json.encode(result)
    await _store(services, project_id, key, status, body)
    return _Outcome(status, body, replayed=False)


async def idempotent(
    services: Services,
    *,
    project_id: int,
    key: str | None,
    fingerprint: bytes,
    run: Callable[[], Awaitable[Any]],
    status: int = 201,
    headers: Callable[[bytes], Mapping[str, str]] | None = None,
) -> Response[Any]:
    """Run `run` (returning a Struct) once per key; without a key, just run it.

    `headers` makes a success's headers from its JSON body: only the body is stored, so a replay
    derives the same headers again from it.
    """
    if key is None:
        body = msgspec.json.encode(await run())
        return Response(body, status_code=status, media_type=_JSON, headers=dict(headers(body)) if headers else {})
    flight = f"idempotency:{project_id}:{key}:{fingerprint.hex()}"
    outcome = await services.request_flights.run(flight, lambda: _run_once(services, project_id, key, fingerprint, run, status))
    answer = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    if headers is not None and outcome.status < 400:
        answer.update(headers(outcome.body))
    media_type = _PROBLEM if outcome.status >= 400 else _JSON
    return Response(outcome.body, status_code=outcome.status, media_type=media_type, headers=answer)
