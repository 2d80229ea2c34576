"""`POST /v1/generations`: the `/g/` path (targets, ondemand, billing, limits) plus names and flow steps.

There is one way to make a master: `targets.resolve_target` then
`ondemand.master_for_prompt`, so an API generation and a `/g/` link with the
same inputs share one generation key, one asset and one charge.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from delivery.access.links import LinkGrant, default_link_key, sign_link
from delivery.access.ratelimit import admit_miss
from delivery.access.signing import Keyring
from delivery.db.api_keys import ApiKey
from delivery.db.asset_names import check_name, set_name
from delivery.db.assets import Asset, find_generated_assets
from delivery.db.connection import Conn
from delivery.db.flows import FlowStep, append_step
from delivery.db.projects import Project
from delivery.db.reads import Fresh
from delivery.errors import InvalidParam, LinkKeyUnusable, NoLinkKey, NoSigningSecret
from delivery.images.params import GenerateParams, TransformParams, aspect_ratio, parse_generate, parse_transform
from delivery.prompts.flows import earlier_steps
from delivery.prompts.ondemand import master_for_prompt, reserve_ahead, screen_target
from delivery.prompts.targets import GenerationTarget, prompt_names, resolve_target
from delivery.services import Services

__all__ = ["Generated", "GenerationOrder", "candidate", "generate_for_api", "reserve_order"]

_SEEDS = 2**31


class GenerationOrder(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of `POST /v1/generations`."""

    prompt: Annotated[str, msgspec.Meta(min_length=1)]
    """Text to draw, up to PROMPTPIX_MAX_PROMPT_CHARS; `@name` uses a project asset as a reference image (`@prev`, `@step1` … in a flow)."""
    style: str | None = None
    """A project style; None: the project's default style, if any."""
    aspect_ratio: str | None = None
    """`W:H`, snapped to the nearest supported aspect; None: the style's, else 1:1."""
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None
    model: str | None = None
    references: Annotated[list[str], msgspec.Meta(max_length=16)] = []
    """More asset names to use as references, beside the prompt's `@names`."""
    flow: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)] | None = None
    """Append this generation to a flow as its next step."""
    name: str | None = None
    """Point `@name` at the result."""
    wait: bool = True
    """False (or the header `Prefer: respond-async`): answer 202 with a job at once; a worker draws it."""
    count: Annotated[int, msgspec.Meta(ge=1, le=4)] = 1
    """Candidates to draw (jobs only): each is its own asset, with its own reservation; candidate i uses seed + i."""


class Generated(msgspec.Struct, frozen=True):
    asset: Asset
    generated: bool
    """False when the asset existed already (a cache hit: nothing was charged)."""
    step: FlowStep | None
    link: str | None
    """A signed `/g/` URL for the same image, when one can express it."""


def _link_params(order: GenerationOrder, ar: tuple[int, int] | None) -> dict[str, str] | None:
    """The `/g/` params with this generation's key, or None when a link cannot carry its inputs."""
    extra = {n.lower() for n in order.references} - set(prompt_names(order.prompt))
    if order.flow is not None or extra:
        return None
    params = {"prompt": order.prompt, "style": order.style, "model": order.model}
    params["seed"] = None if order.seed is None else str(order.seed)
    params["ar"] = None if ar is None else f"{ar[0]}:{ar[1]}"
    return {k: v for k, v in params.items() if v is not None}


async def _signed_link(
    services: Services, keyring: Keyring, conn: Conn, project: Project, params: dict[str, str] | None
) -> str | None:
    if params is None:
        return None
    now = dt.datetime.now(dt.UTC)
    try:
        key = await default_link_key(conn, project=project, now=now)
        path = await sign_link(conn, keyring, project=project, key=key, params=params, expires=None, now=now)
    except (NoLinkKey, LinkKeyUnusable, NoSigningSecret):  # nothing to sign with: the API answer stands without a link
        return None
    return services.settings.resolved_public_url + path


def _aspect(given: str | None) -> TransformParams:
    """`aspect_ratio` read by the URL parser of `ar`, so the API and `/g/` links agree on every ratio."""
    if given and aspect_ratio(given) is None:
        raise InvalidParam(f"`aspect_ratio` must look like 16:9 (between 1:100 and 100:1), got {given!r}")
    return parse_transform({"ar": given, "fit": "crop"} if given else {})  # ar is kept only beside a cutting fit


def candidate(order: GenerationOrder, position: int) -> GenerationOrder:
    """The order of a job's candidate `position`: the first is the order itself (the same key as its `/g/` link);
    the others add their position to the seed (no seed: seed `position`), so each is a distinct asset
    that a `/g/` link with that seed shows too."""
    if position == 0:
        return msgspec.structs.replace(order, count=1)
    return msgspec.structs.replace(order, count=1, seed=((order.seed or 0) + position) % _SEEDS)


def check_job_order(order: GenerationOrder) -> None:
    if order.count > 1 and (order.name is not None or order.flow is not None):
        raise InvalidParam("`name` and `flow` take one image: use them with `count` 1")


def _parsed(services: Services, key: ApiKey, order: GenerationOrder) -> tuple[GenerateParams, TransformParams]:
    """The order as a `/g` link's params would say it (the same checks), and the box its aspect names."""
    raw = {"prompt": order.prompt, "style": order.style or "", "model": order.model or ""}
    if order.seed is not None:
        raw["seed"] = str(order.seed)
    wanted = msgspec.structs.replace(parse_generate(raw, max_prompt_chars=services.settings.max_prompt_chars), key=key.id)
    if order.name is not None:
        check_name(order.name)
    return wanted, _aspect(order.aspect_ratio)


async def _target(services: Services, conn: Conn, project: Project, key: ApiKey, order: GenerationOrder) -> GenerationTarget:
    wanted, transform = _parsed(services, key, order)
    _, earlier = await earlier_steps(conn, project, order.flow) if order.flow is not None else (None, None)
    return await resolve_target(services, Fresh(conn), project, wanted, transform, also=order.references, earlier=earlier)


async def reserve_order(services: Services, conn: Conn, project: Project, key: ApiKey, order: GenerationOrder) -> list[int | None]:
    """Validate a job's order and reserve each candidate (in the caller's transaction): a generation id per candidate,
    None for one whose asset exists already. Errors (400, 402, 422, 429) are raised before the job exists."""
    check_job_order(order)
    reserved: list[int | None] = []
    for position in range(order.count):
        target = await _target(services, conn, project, key, candidate(order, position))
        if await find_generated_assets(conn, project_id=project.id, generation_keys=target.lookup_keys) is not None:
            reserved.append(None)
            continue
        await screen_target(services, target)
        grant = LinkGrant(key=key, signed=True, expires=None)
        await admit_miss(conn, settings=services.settings, grant=grant, client_ip=None, now=dt.datetime.now(dt.UTC))
        reserved.append(await reserve_ahead(services, conn, target))
    return reserved


async def generate_for_api(
    services: Services, keyring: Keyring, project: Project, key: ApiKey, order: GenerationOrder, *, reserved: int | None = None
) -> Generated:
    """Validate everything first (400/422 cost nothing), then find or draw the master, then name it and file it.

    `reserved`: a queued job's candidate, reserved when the job was accepted (and admitted then, so not again)."""
    wanted, transform = _parsed(services, key, order)
    async with services.pool.acquire() as conn:
        flow, earlier = await earlier_steps(conn, project, order.flow) if order.flow is not None else (None, None)
        target = await resolve_target(services, Fresh(conn), project, wanted, transform, also=order.references, earlier=earlier)

    async def admit(conn: Conn) -> None:
        grant = LinkGrant(key=key, signed=True, expires=None)  # a secret key: limited per key, never per IP
        await admit_miss(conn, settings=services.settings, grant=grant, client_ip=None, now=dt.datetime.now(dt.UTC))

    asset, generated = await master_for_prompt(services, target, admit=admit if reserved is None else None, reserved=reserved)
    async with services.pool.acquire() as conn:
        if order.name is not None:
            await set_name(conn, project_id=project.id, name=order.name, asset_id=asset.id)
        step = await append_step(conn, flow_id=flow.id, asset_id=asset.id, prompt=order.prompt) if flow else None
        link = await _signed_link(services, keyring, conn, project, _link_params(order, transform.ar))
    return Generated(asset=asset, generated=generated, step=step, link=link)
