"""`POST /v1/generations`: the `/g/` path (targets, ondemand, billing, limits) plus names and flow steps.

There is one way to make a master: `targets.resolve_target` then
`ondemand.master_for_prompt`, so an API generation and a `/g/` link with the
same inputs share one generation key, one asset and one charge.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import asyncpg
import msgspec

from delivery.access.links import LinkGrant, default_link_key, sign_link
from delivery.access.ratelimit import admit_miss
from delivery.access.signing import Keyring
from delivery.db.api_keys import ApiKey
from delivery.db.asset_names import check_name, set_name
from delivery.db.assets import Asset
from delivery.db.flows import FlowStep, append_step
from delivery.db.projects import Project
from delivery.db.reads import Fresh
from delivery.errors import InvalidParam, LinkKeyUnusable, NoLinkKey, NoSigningSecret
from delivery.images.params import TransformParams, aspect_ratio, parse_generate, parse_transform
from delivery.prompts.flows import earlier_steps
from delivery.prompts.ondemand import master_for_prompt
from delivery.prompts.targets import prompt_names, resolve_target
from delivery.services import Services

__all__ = ["Generated", "GenerationOrder", "generate_for_api"]


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
    services: Services, keyring: Keyring, conn: asyncpg.Connection, project: Project, params: dict[str, str] | None
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


async def generate_for_api(services: Services, keyring: Keyring, project: Project, key: ApiKey, order: GenerationOrder) -> Generated:
    """Validate everything first (400/422 cost nothing), then find or draw the master, then name it and file it."""
    raw = {"prompt": order.prompt, "style": order.style or "", "model": order.model or ""}
    if order.seed is not None:
        raw["seed"] = str(order.seed)
    wanted = msgspec.structs.replace(parse_generate(raw, max_prompt_chars=services.settings.max_prompt_chars), key=key.id)
    transform = _aspect(order.aspect_ratio)
    if order.name is not None:
        check_name(order.name)
    async with services.pool.acquire() as conn:
        flow, earlier = await earlier_steps(conn, project, order.flow) if order.flow is not None else (None, None)
        target = await resolve_target(services, Fresh(conn), project, wanted, transform, also=order.references, earlier=earlier)

    async def admit(conn: asyncpg.Connection) -> None:
        grant = LinkGrant(key=key, signed=True, expires=None)  # a secret key: limited per key, never per IP
        await admit_miss(conn, settings=services.settings, grant=grant, client_ip=None, now=dt.datetime.now(dt.UTC))

    asset, generated = await master_for_prompt(services, target, admit=admit)
    async with services.pool.acquire() as conn:
        if order.name is not None:
            await set_name(conn, project_id=project.id, name=order.name, asset_id=asset.id)
        step = await append_step(conn, flow_id=flow.id, asset_id=asset.id, prompt=order.prompt) if flow else None
        link = await _signed_link(services, keyring, conn, project, _link_params(order, transform.ar))
    return Generated(asset=asset, generated=generated, step=step, link=link)
