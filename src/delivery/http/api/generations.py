"""`POST /v1/generations`: draw (or find) an image and answer with every URL it can be served at."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody

from delivery.access.idempotency import fingerprint, idempotent
from delivery.errors import InvalidParam
from delivery.http.api.headers import IdempotencyKey
from delivery.http.api.job_views import JobView, job_view
from delivery.http.api.principal import Principal
from delivery.http.api.views import AssetView, asset_views
from delivery.http.openapi import problems
from delivery.jobs import submit_job
from delivery.prompts.orders import GenerationOrder, generate_for_api
from delivery.services import Services

__all__ = ["StepRef", "create_generation"]

class StepRef(msgspec.Struct, frozen=True):
    flow: int
    position: int
    """This step is `@step{position}` to later steps of the flow."""


class GenerationView(msgspec.Struct, frozen=True):
    asset: AssetView
    generated: bool
    """False when an equal generation existed already: nothing was drawn or charged."""
    link: str | None
    """A signed `/g/` URL showing the same image; None inside a flow, with extra `references`,
    or when the project has no publishable key to sign with."""
    step: StepRef | None


class _JobUrl(msgspec.Struct, frozen=True):
    url: str


def _job_location(body: bytes) -> dict[str, str]:
    """A 202 points at the job it made (RFC 9110 §15.3.3), so clients that follow `Location` poll it."""
    return {"Location": msgspec.json.decode(body, type=_JobUrl).url}


def _respond_async(request: Request) -> bool:
    """`Prefer: respond-async` (RFC 7240), among any other preferences."""
    prefer = request.headers.get("prefer", "")
    return any(part.split("=")[0].strip().lower() == "respond-async" for part in prefer.replace(";", ",").split(","))


@post(
    "/generations",
    opt={"scope": "generate"},
    summary="Generate an image (or find the equal one) and get its URLs; with `\"wait\": false`, a job (202)",
    responses={
        **problems(402, 409, 422, 429),
        202: ResponseSpec(
            data_container=JobView,
            description='A job, when the body says `"wait": false` or the request `Prefer: respond-async`; `Location` is its URL',
        ),
    },
)
async def create_generation(
    request: Request, principal: NamedDependency[Principal], data: JSONBody[GenerationOrder], idempotency_key: IdempotencyKey = None
) -> Response[GenerationView]:
    services: Services = request.app.state.services
    if not data.wait or _respond_async(request):

        async def queue() -> JobView:
            job = await submit_job(services, principal.project, principal.key, data)
            return job_view(job, services.settings.resolved_public_url)

        print_ = fingerprint("POST", "/v1/generations#job", data)
        queued: Any = await idempotent(
            services, project_id=principal.project.id, key=idempotency_key, fingerprint=print_, run=queue, status=202, headers=_job_location
        )
        return queued
    if data.count > 1:
        raise InvalidParam('`count` above 1 makes a job: send it with `"wait": false`')

    async def run() -> GenerationView:
        made = await generate_for_api(services, request.app.state.keyring, principal.project, principal.key, data)
        async with services.pool.acquire() as conn:
            [view] = await asset_views(conn, services.settings.resolved_public_url, principal.project.id, [made.asset])
        step = StepRef(flow=made.step.flow_id, position=made.step.position) if made.step else None
        return GenerationView(asset=view, generated=made.generated, link=made.link, step=step)

    print_ = fingerprint("POST", "/v1/generations", data)
    result: Any = await idempotent(services, project_id=principal.project.id, key=idempotency_key, fingerprint=print_, run=run)
    return result
