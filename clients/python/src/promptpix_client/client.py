"""The `/v1` REST client, sync (`Client`) and async (`AsyncClient`), over httpx.

Both build their requests with the same functions (`_Call`s below) and differ
only in how they send them. Every POST carries an `Idempotency-Key` (a random
one unless the caller gives theirs), kept across retries, so a retried
request never makes a second flow step or upload. 429 and 503 are retried up
to `max_retries` times, after the `Retry-After` the service sent (capped by
`max_retry_wait`), else after an exponential backoff.

Jobs (`submit_generation`, `wait_for_job`) are polled the same way by both
clients: `_Waiting` holds the schedule, the clients only sleep.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

import httpx
import msgspec

from promptpix_client.models import (
    Asset,
    AssetPage,
    Balance,
    CreatedKey,
    Flow,
    Generation,
    Job,
    JobStatus,
    Key,
    LedgerEntry,
    Name,
    Preset,
    SignedLink,
    SigningSecret,
    Style,
    Usage,
)

__all__ = ["AsyncClient", "Client", "JobFailed", "PromptpixError"]

T = TypeVar("T")
RETRIED = (429, 503)


class PromptpixError(Exception):
    """A problem-details answer: `status`, `title`, `detail` (the service's public message), `retry_after`."""

    def __init__(self, status: int, title: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.title, self.detail, self.retry_after = status, title, detail, retry_after


class JobFailed(PromptpixError):
    """`wait_for_job` saw the job fail or be cancelled: `job` is its last state, `detail` its error.

    `status` is the HTTP status of the poll that saw it (200): the request worked, the job did not.
    """

    def __init__(self, job: Job) -> None:
        title = "Job failed" if job.status == "failed" else "Job cancelled"
        super().__init__(200, title, job.error or f"the job was {job.status}")
        self.job = job


@dataclass(frozen=True)
class _Call(Generic[T]):
    method: str
    path: str
    type: Any
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    files: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    idempotency_key: str | None = None

    def key(self) -> str | None:
        """The `Idempotency-Key` of every attempt of this call: the caller's, or a random one for a POST."""
        return self.idempotency_key or (str(uuid.uuid4()) if self.method == "POST" else None)

    def request(self, client: httpx.Client | httpx.AsyncClient, key: str | None) -> httpx.Request:
        headers = {"Idempotency-Key": key} if key else {}
        content = msgspec.json.encode(self.json) if self.json is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        params = {k: v for k, v in self.params.items() if v is not None}
        return client.build_request(self.method, self.path, params=params, content=content, files=self.files, data=self.data, headers=headers)

    def result(self, response: httpx.Response) -> T:
        if response.status_code >= 400:
            raise _error(response)
        if self.type is None:
            return None  # type: ignore[return-value]  # `_Call[None]`: the answer has no body (204)
        decoded: T = msgspec.json.decode(response.content, type=self.type)
        return decoded


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())


def _error(response: httpx.Response) -> PromptpixError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = str(body.get("detail") or response.text[:200] or response.reason_phrase)
    return PromptpixError(response.status_code, str(body.get("title") or response.reason_phrase), detail, _retry_after(response))


def _strip(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _file(file: bytes | str | Path, filename: str | None) -> tuple[str, bytes]:
    if isinstance(file, bytes):
        return filename or "image", file
    path = Path(file)
    return filename or path.name, path.read_bytes()


class _Waiting:
    """The polling schedule of `wait_for_job`: `poll` seconds at first, 1.5 times longer after each poll up to
    `max_poll`, or what `Retry-After` says when the service sends it, never past `timeout` seconds in all."""

    def __init__(self, job_id: str, timeout: float, poll: float, max_poll: float) -> None:
        if timeout <= 0 or poll <= 0 or max_poll < poll:
            raise ValueError("timeout and poll must be positive, and max_poll at least poll")
        self.job_id, self.interval, self.max_poll = job_id, poll, max_poll
        self.timeout, self.deadline = timeout, time.monotonic() + timeout

    @staticmethod
    def outcome(job: Job) -> Job | None:
        """The job when it succeeded; None while it may still change; `JobFailed` when it failed or was cancelled."""
        if job.status == "succeeded":
            return job
        if job.done:
            raise JobFailed(job)
        return None

    def delay(self, job: Job, response: httpx.Response) -> float:
        """Seconds to sleep before the next poll; `TimeoutError` when the deadline comes first."""
        hinted = _retry_after(response)
        wait = hinted if hinted is not None else self.interval
        self.interval = min(self.max_poll, self.interval * 1.5)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"job {self.job_id} is still {job.status} after {self.timeout:g} s")
        return min(wait, left)


def _job_id(job: str | Job) -> str:
    return job if isinstance(job, str) else job.id


class _Calls:
    """Every `/v1` operation as a request description; the clients send them."""

    @staticmethod
    def create_generation(prompt: str, *, idempotency_key: str | None = None, **options: Any) -> _Call[Generation]:
        return _Call("POST", "/v1/generations", Generation, json={"prompt": prompt, **_strip(options)}, idempotency_key=idempotency_key)

    @staticmethod
    def submit_generation(prompt: str, *, count: int, idempotency_key: str | None = None, **options: Any) -> _Call[Job]:
        body = {"prompt": prompt, **_strip(options), "wait": False, "count": count}
        return _Call("POST", "/v1/generations", Job, json=body, idempotency_key=idempotency_key)

    @staticmethod
    def list_jobs(*, status: str | None, limit: int | None, before: dt.datetime | None) -> _Call[list[Job]]:
        return _Call("GET", "/v1/jobs", list[Job], params={"status": status, "limit": limit, "before": before.isoformat() if before else None})

    @staticmethod
    def get_job(job: str | Job) -> _Call[Job]:
        return _Call("GET", f"/v1/jobs/{_job_id(job)}", Job)

    @staticmethod
    def cancel_job(job: str | Job) -> _Call[Job]:
        return _Call("DELETE", f"/v1/jobs/{_job_id(job)}", Job)

    @staticmethod
    def upload_asset(
        file: bytes | str | Path, *, filename: str | None, name: str | None, alt_text: str | None, idempotency_key: str | None
    ) -> _Call[Asset]:
        return _Call(
            "POST", "/v1/assets", Asset, files={"file": _file(file, filename)}, data=_strip({"name": name, "alt_text": alt_text}), idempotency_key=idempotency_key
        )

    @staticmethod
    def list_assets(**filters: Any) -> _Call[AssetPage]:
        return _Call("GET", "/v1/assets", AssetPage, params=filters)

    @staticmethod
    def get_asset(asset_id: str) -> _Call[Asset]:
        return _Call("GET", f"/v1/assets/{asset_id}", Asset)

    @staticmethod
    def update_asset(asset_id: str, *, focal_point: tuple[float, float] | None, alt_text: str | None, name: str | None) -> _Call[Asset]:
        body = _strip({"focal_point": {"x": focal_point[0], "y": focal_point[1]} if focal_point else None, "alt_text": alt_text, "name": name})
        return _Call("PATCH", f"/v1/assets/{asset_id}", Asset, json=body)

    @staticmethod
    def delete(path: str) -> _Call[None]:
        return _Call("DELETE", path, None)

    @staticmethod
    def get(path: str, type: type[T], **params: Any) -> _Call[T]:
        return _Call("GET", path, type, params=params)

    @staticmethod
    def put(path: str, type: type[T], body: Any) -> _Call[T]:
        return _Call("PUT", path, type, json=body)

    @staticmethod
    def post(path: str, type: type[T], body: Any, idempotency_key: str | None = None) -> _Call[T]:
        return _Call("POST", path, type, json=body, idempotency_key=idempotency_key)


class _Base:
    def __init__(self, base_url: str, api_key: str, *, max_retries: int = 3, max_retry_wait: float = 60.0, timeout: float = 300.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "promptpix-client-python/0.1"}
        self._timeout = timeout

    def _wait(self, attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying `response`, or None to give up."""
        if response.status_code not in RETRIED or attempt >= self.max_retries:
            return None
        hinted = _retry_after(response)
        return min(self.max_retry_wait, hinted if hinted is not None else 0.5 * 2**attempt)


class Client(_Base):
    """`Client(base_url, "pp_sk_…")`; use as a context manager or call `close()`."""

    def __init__(self, base_url: str, api_key: str, **options: Any) -> None:
        super().__init__(base_url, api_key, **{k: v for k, v in options.items() if k != "transport"})
        self._http = httpx.Client(base_url=self.base_url, headers=self._headers, timeout=self._timeout, transport=options.get("transport"))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: _Call[T]) -> T:
        return call.result(self._answer(call))

    def _answer(self, call: _Call[T]) -> httpx.Response:
        """The last answer to `call`, after the retries of 429 and 503."""
        key, attempt = call.key(), 0  # one Idempotency-Key for every attempt
        while True:
            response = self._http.send(call.request(self._http, key))
            wait = self._wait(attempt, response)
            if wait is None:
                return response
            time.sleep(wait)
            attempt += 1

    # generations
    def create_generation(self, prompt: str, *, idempotency_key: str | None = None, **options: Any) -> Generation:
        """`style`, `aspect_ratio`, `seed`, `model`, `references`, `flow`, `name` as in `POST /v1/generations`."""
        return self.send(_Calls.create_generation(prompt, idempotency_key=idempotency_key, **options))

    # jobs
    def submit_generation(self, prompt: str, *, count: int = 1, idempotency_key: str | None = None, **options: Any) -> Job:
        """Queue a generation of `count` (1–4) candidates and return its job at once (`"wait": false`);
        the other options are `create_generation`'s."""
        return self.send(_Calls.submit_generation(prompt, count=count, idempotency_key=idempotency_key, **options))

    def get_job(self, job: str | Job) -> Job:
        return self.send(_Calls.get_job(job))

    def list_jobs(
        self, *, status: JobStatus | None = None, limit: int | None = None,
        before: dt.datetime | None = None,
    ) -> list[Job]:  # fmt: skip
        """The project's jobs, newest first; `before` is the last item's `created_at` for the next page."""
        return self.send(_Calls.list_jobs(status=status, limit=limit, before=before))

    def cancel_job(self, job: str | Job) -> Job:
        """Cancel a job no worker has taken (its reservations are refunded); a 409 `PromptpixError` once one has."""
        return self.send(_Calls.cancel_job(job))

    def wait_for_job(self, job: str | Job, *, timeout: float = 300.0, poll: float = 0.5, max_poll: float = 5.0) -> Job:
        """Poll until the job succeeds and return it; `JobFailed` when it fails or is cancelled, `TimeoutError` after `timeout` s."""
        waiting, call = _Waiting(_job_id(job), timeout, poll, max_poll), _Calls.get_job(job)
        while True:
            response = self._answer(call)
            current = call.result(response)
            if (finished := waiting.outcome(current)) is not None:
                return finished
            time.sleep(waiting.delay(current, response))

    # assets
    def upload_asset(
        self, file: bytes | str | Path, *, filename: str | None = None, name: str | None = None, alt_text: str | None = None, idempotency_key: str | None = None
    ) -> Asset:
        return self.send(_Calls.upload_asset(file, filename=filename, name=name, alt_text=alt_text, idempotency_key=idempotency_key))

    def list_assets(
        self, *, limit: int | None = None, cursor: str | None = None, name: str | None = None, tag: str | None = None,
        source: Literal["generated", "uploaded"] | None = None, flow: int | None = None, parent: str | None = None,
        q: str | None = None,
    ) -> AssetPage:  # fmt: skip
        return self.send(_Calls.list_assets(limit=limit, cursor=cursor, name=name, tag=tag, source=source, flow=flow, parent=parent, q=q))

    def iter_assets(self, **filters: Any) -> Iterator[Asset]:
        """Every asset matching `filters`, page after page."""
        cursor = None
        while True:
            page = self.list_assets(cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get_asset(self, asset_id: str) -> Asset:
        return self.send(_Calls.get_asset(asset_id))

    def update_asset(self, asset_id: str, *, focal_point: tuple[float, float] | None = None, alt_text: str | None = None, name: str | None = None) -> Asset:
        return self.send(_Calls.update_asset(asset_id, focal_point=focal_point, alt_text=alt_text, name=name))

    def delete_asset(self, asset_id: str) -> None:
        self.send(_Calls.delete(f"/v1/assets/{asset_id}"))

    # names
    def list_names(self) -> list[Name]:
        return self.send(_Calls.get("/v1/names", list[Name]))

    def put_name(self, name: str, asset_id: str) -> Name:
        return self.send(_Calls.put(f"/v1/names/{name}", Name, {"asset_id": asset_id}))

    def delete_name(self, name: str) -> None:
        self.send(_Calls.delete(f"/v1/names/{name}"))

    # styles
    def list_styles(self) -> list[Style]:
        return self.send(_Calls.get("/v1/styles", list[Style]))

    def get_style(self, name: str) -> Style:
        return self.send(_Calls.get(f"/v1/styles/{name}", Style))

    def put_style(self, name: str, prompt: str, *, aspect_ratio: str | None = None, default: bool = False) -> Style:
        return self.send(_Calls.put(f"/v1/styles/{name}", Style, _strip({"prompt": prompt, "aspect_ratio": aspect_ratio, "default": default})))

    def delete_style(self, name: str) -> None:
        self.send(_Calls.delete(f"/v1/styles/{name}"))

    # presets
    def list_presets(self) -> list[Preset]:
        return self.send(_Calls.get("/v1/presets", list[Preset]))

    def get_preset(self, name: str) -> Preset:
        return self.send(_Calls.get(f"/v1/presets/{name}", Preset))

    def put_preset(self, name: str, params: Mapping[str, str | int | float]) -> Preset:
        return self.send(_Calls.put(f"/v1/presets/{name}", Preset, {"params": {k: str(v) for k, v in params.items()}}))

    def delete_preset(self, name: str) -> None:
        self.send(_Calls.delete(f"/v1/presets/{name}"))

    # flows
    def create_flow(self, title: str = "", *, idempotency_key: str | None = None) -> Flow:
        return self.send(_Calls.post("/v1/flows", Flow, {"title": title}, idempotency_key))

    def get_flow(self, flow_id: int) -> Flow:
        return self.send(_Calls.get(f"/v1/flows/{flow_id}", Flow))

    # keys and links
    def create_key(self, project: str, kind: Literal["publishable", "secret"], **options: Any) -> CreatedKey:
        """`name`, `scopes`, `expires_in`, `allowed_origins`, `rate_limit` as in `POST /v1/projects/{p}/keys`."""
        return self.send(_Calls.post(f"/v1/projects/{project}/keys", CreatedKey, {"kind": kind, **_strip(options)}))

    def list_keys(self, project: str) -> list[Key]:
        return self.send(_Calls.get(f"/v1/projects/{project}/keys", list[Key]))

    def revoke_key(self, project: str, key_id: str) -> Key:
        return self.send(_Call("DELETE", f"/v1/projects/{project}/keys/{key_id}", Key))

    def rotate_key(self, project: str, key_id: str, *, grace_seconds: int | None = None) -> CreatedKey:
        return self.send(_Calls.post(f"/v1/projects/{project}/keys/{key_id}/rotate", CreatedKey, _strip({"grace_seconds": grace_seconds})))

    def rotate_signing_secret(self, project: str, key_id: str, *, grace_seconds: int | None = None) -> SigningSecret:
        path = f"/v1/projects/{project}/keys/{key_id}/signing-secrets"
        return self.send(_Calls.post(path, SigningSecret, _strip({"grace_seconds": grace_seconds})))

    def sign_link(self, project: str, params: Mapping[str, str | int | float], *, key_id: str | None = None, expires_in: int | None = None) -> SignedLink:
        body = _strip({"params": {k: str(v) for k, v in params.items()}, "key_id": key_id, "expires_in": expires_in})
        return self.send(_Calls.post(f"/v1/projects/{project}/links", SignedLink, body))

    # billing
    def balance(self) -> Balance:
        return self.send(_Calls.get("/v1/billing/balance", Balance))

    def ledger(self, *, limit: int | None = None, before: int | None = None) -> list[LedgerEntry]:
        return self.send(_Calls.get("/v1/billing/ledger", list[LedgerEntry], limit=limit, before=before))

    def usage(self, *, per: Literal["day", "month"] = "day", since: str | None = None, until: str | None = None) -> Usage:
        return self.send(_Calls.get("/v1/billing/usage", Usage, per=per, since=since, until=until))


class AsyncClient(_Base):
    """The same operations as `Client`, awaited; `async with AsyncClient(…) as pp:`."""

    def __init__(self, base_url: str, api_key: str, **options: Any) -> None:
        super().__init__(base_url, api_key, **{k: v for k, v in options.items() if k != "transport"})
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=self._timeout, transport=options.get("transport"))

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, call: _Call[T]) -> T:
        return call.result(await self._answer(call))

    async def _answer(self, call: _Call[T]) -> httpx.Response:
        key, attempt = call.key(), 0
        while True:
            response = await self._http.send(call.request(self._http, key))
            wait = self._wait(attempt, response)
            if wait is None:
                return response
            await asyncio.sleep(wait)
            attempt += 1

    async def create_generation(self, prompt: str, *, idempotency_key: str | None = None, **options: Any) -> Generation:
        return await self.send(_Calls.create_generation(prompt, idempotency_key=idempotency_key, **options))

    async def submit_generation(self, prompt: str, *, count: int = 1, idempotency_key: str | None = None, **options: Any) -> Job:
        return await self.send(_Calls.submit_generation(prompt, count=count, idempotency_key=idempotency_key, **options))

    async def get_job(self, job: str | Job) -> Job:
        return await self.send(_Calls.get_job(job))

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int | None = None,
        before: dt.datetime | None = None,
    ) -> list[Job]:  # fmt: skip
        return await self.send(_Calls.list_jobs(status=status, limit=limit, before=before))

    async def cancel_job(self, job: str | Job) -> Job:
        return await self.send(_Calls.cancel_job(job))

    async def wait_for_job(self, job: str | Job, *, timeout: float = 300.0, poll: float = 0.5, max_poll: float = 5.0) -> Job:
        waiting, call = _Waiting(_job_id(job), timeout, poll, max_poll), _Calls.get_job(job)
        while True:
            response = await self._answer(call)
            current = call.result(response)
            if (finished := waiting.outcome(current)) is not None:
                return finished
            await asyncio.sleep(waiting.delay(current, response))

    async def upload_asset(
        self, file: bytes | str | Path, *, filename: str | None = None, name: str | None = None, alt_text: str | None = None, idempotency_key: str | None = None
    ) -> Asset:
        return await self.send(_Calls.upload_asset(file, filename=filename, name=name, alt_text=alt_text, idempotency_key=idempotency_key))

    async def list_assets(self, **filters: Any) -> AssetPage:
        """`limit`, `cursor`, `name`, `tag`, `source`, `flow`, `parent`, `q` as in `GET /v1/assets`."""
        return await self.send(_Calls.list_assets(**filters))

    async def iter_assets(self, **filters: Any) -> AsyncIterator[Asset]:
        cursor = None
        while True:
            page = await self.list_assets(cursor=cursor, **filters)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get_asset(self, asset_id: str) -> Asset:
        return await self.send(_Calls.get_asset(asset_id))

    async def update_asset(
        self, asset_id: str, *, focal_point: tuple[float, float] | None = None, alt_text: str | None = None, name: str | None = None
    ) -> Asset:
        return await self.send(_Calls.update_asset(asset_id, focal_point=focal_point, alt_text=alt_text, name=name))

    async def delete_asset(self, asset_id: str) -> None:
        await self.send(_Calls.delete(f"/v1/assets/{asset_id}"))

    async def list_names(self) -> list[Name]:
        return await self.send(_Calls.get("/v1/names", list[Name]))

    async def put_name(self, name: str, asset_id: str) -> Name:
        return await self.send(_Calls.put(f"/v1/names/{name}", Name, {"asset_id": asset_id}))

    async def delete_name(self, name: str) -> None:
        await self.send(_Calls.delete(f"/v1/names/{name}"))

    async def list_styles(self) -> list[Style]:
        return await self.send(_Calls.get("/v1/styles", list[Style]))

    async def get_style(self, name: str) -> Style:
        return await self.send(_Calls.get(f"/v1/styles/{name}", Style))

    async def put_style(self, name: str, prompt: str, *, aspect_ratio: str | None = None, default: bool = False) -> Style:
        return await self.send(_Calls.put(f"/v1/styles/{name}", Style, _strip({"prompt": prompt, "aspect_ratio": aspect_ratio, "default": default})))

    async def delete_style(self, name: str) -> None:
        await self.send(_Calls.delete(f"/v1/styles/{name}"))

    async def list_presets(self) -> list[Preset]:
        return await self.send(_Calls.get("/v1/presets", list[Preset]))

    async def get_preset(self, name: str) -> Preset:
        return await self.send(_Calls.get(f"/v1/presets/{name}", Preset))

    async def put_preset(self, name: str, params: Mapping[str, str | int | float]) -> Preset:
        return await self.send(_Calls.put(f"/v1/presets/{name}", Preset, {"params": {k: str(v) for k, v in params.items()}}))

    async def delete_preset(self, name: str) -> None:
        await self.send(_Calls.delete(f"/v1/presets/{name}"))

    async def create_flow(self, title: str = "", *, idempotency_key: str | None = None) -> Flow:
        return await self.send(_Calls.post("/v1/flows", Flow, {"title": title}, idempotency_key))

    async def get_flow(self, flow_id: int) -> Flow:
        return await self.send(_Calls.get(f"/v1/flows/{flow_id}", Flow))

    async def create_key(self, project: str, kind: Literal["publishable", "secret"], **options: Any) -> CreatedKey:
        return await self.send(_Calls.post(f"/v1/projects/{project}/keys", CreatedKey, {"kind": kind, **_strip(options)}))

    async def list_keys(self, project: str) -> list[Key]:
        return await self.send(_Calls.get(f"/v1/projects/{project}/keys", list[Key]))

    async def revoke_key(self, project: str, key_id: str) -> Key:
        return await self.send(_Call("DELETE", f"/v1/projects/{project}/keys/{key_id}", Key))

    async def rotate_key(self, project: str, key_id: str, *, grace_seconds: int | None = None) -> CreatedKey:
        return await self.send(_Calls.post(f"/v1/projects/{project}/keys/{key_id}/rotate", CreatedKey, _strip({"grace_seconds": grace_seconds})))

    async def rotate_signing_secret(self, project: str, key_id: str, *, grace_seconds: int | None = None) -> SigningSecret:
        path = f"/v1/projects/{project}/keys/{key_id}/signing-secrets"
        return await self.send(_Calls.post(path, SigningSecret, _strip({"grace_seconds": grace_seconds})))

    async def sign_link(
        self, project: str, params: Mapping[str, str | int | float], *, key_id: str | None = None, expires_in: int | None = None
    ) -> SignedLink:
        body = _strip({"params": {k: str(v) for k, v in params.items()}, "key_id": key_id, "expires_in": expires_in})
        return await self.send(_Calls.post(f"/v1/projects/{project}/links", SignedLink, body))

    async def balance(self) -> Balance:
        return await self.send(_Calls.get("/v1/billing/balance", Balance))

    async def ledger(self, *, limit: int | None = None, before: int | None = None) -> list[LedgerEntry]:
        return await self.send(_Calls.get("/v1/billing/ledger", list[LedgerEntry], limit=limit, before=before))

    async def usage(self, *, per: Literal["day", "month"] = "day", since: str | None = None, until: str | None = None) -> Usage:
        return await self.send(_Calls.get("/v1/billing/usage", Usage, per=per, since=since, until=until))
