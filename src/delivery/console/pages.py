"""The console's pages: server-rendered, every action through the same domain functions as `/v1`."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, FormMultiDict, UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from delivery.access.console import COOKIE_NAME, open_session, sign_out
from delivery.access.keys import GRANTABLE_SCOPES, KeySpec, create_key, rotate_key
from delivery.access.links import default_link_key, sign_link
from delivery.access.projects import NewProject, NewProjectStyle, ProjectChange, change_project, open_project
from delivery.assets.uploads import upload_asset
from delivery.console.charts import bar_chart
from delivery.console.session import Console, checked_form
from delivery.console.snippets import snippets
from delivery.db.api_keys import get_api_key, list_api_keys, retire_api_key
from delivery.db.asset_names import check_name, set_name
from delivery.db.assets import AssetFilter, delete_asset, get_project_asset, list_assets, names_of, restore_project_asset, update_asset
from delivery.db.billing import get_account, list_ledger, usage
from delivery.db.presets import delete_preset, list_presets, project_presets
from delivery.db.projects import get_project_by_slug
from delivery.db.styles import delete_style, list_styles
from delivery.errors import InvalidParam, ServiceError, UnknownApiKey, UnknownAsset, UnknownPreset, UnknownStyle
from delivery.images.presets import BUILTIN_PRESETS, save_preset
from delivery.images.urls import BUILTIN_PRESET_QUERIES, preset_queries
from delivery.images.variants import forget_asset
from delivery.ops.bootstrap import DEMO_SLUG
from delivery.prompts.orders import GenerationOrder, generate_for_api
from delivery.prompts.styles import MAX_STYLE_PROMPT, save_style
from delivery.services import Services
from generation import ASPECT_CLASSES

__all__ = ["HANDLERS"]

ASPECTS = ("1:1", "16:9", "4:3", "3:2", "2:3", "3:4", "4:5", "5:4", "9:16", "21:9")
FORMATS = ("webp", "avif", "jpg", "png")
_DAYS = 30


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _page(name: str, request: Request, console: Console | None, **context: Any) -> Template:
    return Template(template_name=name, context={"console": console, "path": request.url.path, **context})


def _text(form: FormMultiDict, name: str, *, limit: int = 2000) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > limit:
        raise InvalidParam(f"`{name}` is longer than {limit} characters")
    return text


def _int(form: FormMultiDict, name: str, *, low: int, high: int) -> int | None:
    text = _text(form, name, limit=20)
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InvalidParam(f"`{name}` must be a whole number") from None
    if not low <= value <= high:
        raise InvalidParam(f"`{name}` must be from {low} to {high}")
    return value


# Landing and sign-in ----------------------------------------------------------------------------


@get("/", include_in_schema=False, cache_control=None)
async def landing(request: Request) -> Template:
    services = _services(request)
    example = None
    async with services.pool.acquire() as conn:
        demo = await get_project_by_slug(conn, slug=DEMO_SLUG)
        if demo is not None and not services.settings.production:
            try:
                key = await default_link_key(conn, project=demo, now=dt.datetime.now(dt.UTC))
                params = {"prompt": "a red fox at dawn in a misty forest", "w": "800", "ar": "16:9", "fit": "crop", "fm": "webp"}
                example = await sign_link(conn, request.app.state.keyring, project=demo, key=key, params=params, expires=None, now=dt.datetime.now(dt.UTC))
            except ServiceError:
                example = None  # no live key to sign with: the page goes without its picture
    return _page("landing.html", request, None, example=example)


@get("/console/signin", include_in_schema=False)
async def signin(request: Request, token: FromQuery[str] = "") -> Response[Any]:
    services = _services(request)
    settings = services.settings
    async with services.pool.acquire() as conn:
        opened = await open_session(
            conn, request.app.state.keyring, token=token, lifetime=dt.timedelta(seconds=settings.console_session_seconds), now=dt.datetime.now(dt.UTC)
        )
    if opened is None:
        return Template(template_name="signin.html", context={"console": None, "path": request.url.path, "refused": bool(token)}, status_code=401 if token else 200)
    cookie = Cookie(
        key=COOKIE_NAME,
        value=opened.cookie,
        path="/",
        max_age=int(settings.console_session_seconds),
        httponly=True,
        samesite="lax",
        secure=settings.resolved_public_url.startswith("https://") or request.url.scheme == "https",
    )
    return Redirect("/console", cookies=[cookie], status_code=303)


@post("/console/signout", include_in_schema=False, status_code=303)
async def signout(request: Request, console: NamedDependency[Console]) -> Redirect:
    await checked_form(request, console)
    async with _services(request).pool.acquire() as conn:
        await sign_out(conn, request.app.state.keyring, cookie=request.cookies.get(COOKIE_NAME))
    return Redirect("/console/signin", status_code=303, cookies=[Cookie(key=COOKIE_NAME, value="", path="/", max_age=0, httponly=True, samesite="lax")])


# Projects ---------------------------------------------------------------------------------------


@get("/console", include_in_schema=False)
async def overview(request: Request, console: NamedDependency[Console]) -> Template:
    return _page("projects.html", request, console)


def _origins(form: FormMultiDict) -> list[str]:
    return [o for o in _text(form, "allowed_origins").replace(",", " ").split() if o]


@post("/console/projects", include_in_schema=False, status_code=303)
async def new_project(request: Request, console: NamedDependency[Console]) -> Redirect:
    form = await checked_form(request, console)
    style_name = _text(form, "style_name", limit=64).lower()
    style = NewProjectStyle(name=style_name, prompt=_text(form, "style_prompt", limit=MAX_STYLE_PROMPT)) if style_name else None
    spec = NewProject(slug=_text(form, "slug", limit=64).lower(), name=_text(form, "name", limit=200), allowed_origins=_origins(form), default_style=style)
    async with _services(request).pool.acquire() as conn:
        project = await open_project(conn, organization_id=console.organization.id, spec=spec)
    return Redirect(f"/console/p/{project.slug}/keys", status_code=303)


# Project settings: styles and presets -----------------------------------------------------------


@get("/console/p/{slug:str}/settings", include_in_schema=False)
async def settings_page(request: Request, console: NamedDependency[Console], slug: FromPath[str]) -> Template:
    project = console.project(slug)
    async with _services(request).pool.acquire() as conn:
        styles = await list_styles(conn, project_id=project.id)
        presets = await list_presets(conn, project_id=project.id)
    return _page(
        "settings.html", request, console, project=project, styles=styles, presets=presets, builtins=BUILTIN_PRESET_QUERIES, aspects=ASPECT_CLASSES
    )


def _back(slug: str, anchor: str) -> Redirect:
    return Redirect(f"/console/p/{slug}/settings#{anchor}", status_code=303)


@post("/console/p/{slug:str}/settings", include_in_schema=False, status_code=303)
async def edit_project(request: Request, console: NamedDependency[Console], slug: FromPath[str]) -> Redirect:
    form = await checked_form(request, console)
    project = console.project(slug)
    change = ProjectChange(
        name=_text(form, "name", limit=200),
        allowed_origins=_origins(form),
        allow_unsigned=form.get("allow_unsigned") == "on",
        default_style=_text(form, "default_style", limit=64) or None,
    )
    async with _services(request).pool.acquire() as conn:
        await change_project(conn, project=project, change=change)
    return _back(slug, "project")


@post("/console/p/{slug:str}/styles", include_in_schema=False, status_code=303)
async def edit_style(request: Request, console: NamedDependency[Console], slug: FromPath[str]) -> Redirect:
    form = await checked_form(request, console)
    project = console.project(slug)
    name = _text(form, "name", limit=64).lower()
    async with _services(request).pool.acquire() as conn:
        if _text(form, "action", limit=20) == "delete":
            if not await delete_style(conn, project_id=project.id, name=name):
                raise UnknownStyle(f"no style is named `{name}`")
        else:
            prompt = _text(form, "prompt", limit=MAX_STYLE_PROMPT)
            aspect = _text(form, "aspect_ratio", limit=10) or None
            await save_style(conn, project_id=project.id, name=name, prompt=prompt, aspect_ratio=aspect, default=form.get("default") == "on")
    return _back(slug, "styles")


def _preset_params(text: str) -> dict[str, str]:
    """`w=600&h=400&fm=webp` (or one per line) as the params `/v1/presets` takes."""
    pairs = parse_qsl(text.replace("\r", "").replace("\n", "&").replace(" ", ""), keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs):
        raise InvalidParam("a preset names each parameter once")
    return params


@post("/console/p/{slug:str}/presets", include_in_schema=False, status_code=303)
async def edit_preset(request: Request, console: NamedDependency[Console], slug: FromPath[str]) -> Redirect:
    form = await checked_form(request, console)
    project = console.project(slug)
    name = _text(form, "name", limit=64).lower()
    async with _services(request).pool.acquire() as conn:
        if _text(form, "action", limit=20) == "delete":
            if not await delete_preset(conn, project_id=project.id, name=name):
                raise UnknownPreset(f"no preset is named `{name}`")
        else:
            await save_preset(conn, project_id=project.id, name=name, params=_preset_params(_text(form, "params")))
    return _back(slug, "presets")


# Playground -------------------------------------------------------------------------------------


class PlaygroundForm(msgspec.Struct, frozen=True, kw_only=True):
    project: FromQuery[str] = ""
    prompt: str = ""
    style: str = ""
    aspect: str = "16:9"
    seed: str = ""
    preset: str = ""
    fm: str = "webp"
    width: str = "800"


async def _playground_context(request: Request, console: Console, form: PlaygroundForm) -> dict[str, Any]:
    styles: list[str] = []
    presets: list[str] = list(BUILTIN_PRESETS)
    if form.project:
        project = console.project(form.project)
        async with _services(request).pool.acquire() as conn:
            styles = [s.name for s in await list_styles(conn, project_id=project.id)]
            presets += sorted(await project_presets(conn, project.id))
    return {"form": form, "aspects": ASPECTS, "formats": FORMATS, "styles": styles, "presets": presets}


@get("/console/playground", include_in_schema=False)
async def playground(request: Request, console: NamedDependency[Console], project: FromQuery[str] = "") -> Template:
    form = PlaygroundForm(project=project or (console.projects[0].slug if console.projects else ""))
    return _page("playground.html", request, console, **await _playground_context(request, console, form))


@post("/console/playground", include_in_schema=False)
async def generate(request: Request, console: NamedDependency[Console]) -> Template:
    raw = await checked_form(request, console)
    form = PlaygroundForm(**{f: _text(raw, f) for f in PlaygroundForm.__struct_fields__})
    project = console.project(form.project)
    if form.aspect not in ASPECTS:
        raise InvalidParam(f"`aspect` must be one of {', '.join(ASPECTS)}")
    if form.fm not in FORMATS:
        raise InvalidParam(f"`format` must be one of {', '.join(FORMATS)}")
    width = _int(raw, "width", low=16, high=4096) or 800
    seed = _int(raw, "seed", low=0, high=2**31 - 1)
    if not form.prompt:
        raise InvalidParam("write a prompt")
    services = _services(request)
    keyring = request.app.state.keyring
    now = dt.datetime.now(dt.UTC)
    async with services.pool.acquire() as conn:
        key = await default_link_key(conn, project=project, now=now)
    order = GenerationOrder(prompt=form.prompt, style=form.style or None, aspect_ratio=form.aspect, seed=seed)
    result = await generate_for_api(services, keyring, project, key, order)
    a, b = (int(n) for n in form.aspect.split(":"))
    height = round(width * b / a)
    # `ar` cuts only with fit=crop (imgix semantics): the image is then exactly width × height.
    params = {"prompt": form.prompt, "ar": form.aspect, "fit": "crop", "w": str(width), "fm": form.fm}
    if form.style:
        params["style"] = form.style
    if seed is not None:
        params["seed"] = str(seed)
    if form.preset:
        params = {"prompt": form.prompt, "ar": form.aspect, "fit": "crop", "preset": form.preset, **({"style": form.style} if form.style else {})}
    async with services.pool.acquire() as conn:
        path = await sign_link(conn, keyring, project=project, key=key, params=dict(sorted(params.items())), expires=None, now=now)
    base = services.settings.resolved_public_url
    body: dict[str, object] = {"prompt": form.prompt, "aspect_ratio": form.aspect}
    if form.style:
        body["style"] = form.style
    if seed is not None:
        body["seed"] = seed
    asset = result.asset
    context = await _playground_context(request, console, form)
    context.update(
        asset=asset,
        link=base + path,
        width=width,
        height=height,
        cost=services.settings.generation_price if result.generated else 0,
        snippets=snippets(base=base, project=project.slug, asset_id=asset.id, link=base + path, width=width, height=height, fm=form.fm, alt=asset.alt_text, body=body),
    )
    return _page("playground.html", request, console, **context)


# Asset library ----------------------------------------------------------------------------------


@get("/console/p/{slug:str}/assets", include_in_schema=False)
async def library(
    request: Request,
    console: NamedDependency[Console],
    slug: FromPath[str],
    source: FromQuery[str] = "",
    tag: FromQuery[str] = "",
    name: FromQuery[str] = "",
    flow: FromQuery[str] = "",
    after: FromQuery[str] = "",
) -> Template:
    project = console.project(slug)
    services = _services(request)
    size = services.settings.console_page_size
    if source not in ("", "generated", "uploaded"):
        raise InvalidParam("`source` is generated or uploaded")
    flow_id = int(flow) if flow.isdigit() and 0 < int(flow) < 2**63 else None
    if flow and flow_id is None:
        raise InvalidParam("`flow` is a flow id")
    cursor = None
    if after:
        stamp, _, asset_id = after.partition("_")
        try:
            cursor = (dt.datetime.fromisoformat(stamp), asset_id)
        except ValueError:
            raise InvalidParam("`after` is not a page cursor") from None
    kind: Literal["generated", "uploaded"] | None = "generated" if source == "generated" else "uploaded" if source == "uploaded" else None
    where = AssetFilter(source=kind, tag=tag or None, name=name.lstrip("@").lower() or None, flow_id=flow_id)
    async with services.pool.acquire() as conn:
        found = await list_assets(conn, project_id=project.id, where=where, limit=size + 1, after=cursor)
        names = await names_of(conn, asset_ids=[a.id for a in found[:size]])
    filters = {"source": source, "tag": tag, "name": name, "flow": flow}
    next_page = None
    if len(found) > size:
        last = found[size - 1]
        next_page = "?" + urlencode({**{k: v for k, v in filters.items() if v}, "after": f"{last.created_at.isoformat()}_{last.id}"})
    return _page("library.html", request, console, project=project, assets=found[:size], names=names, filters=filters, next_page=next_page)


@post("/console/p/{slug:str}/assets", include_in_schema=False)
async def upload(request: Request, console: NamedDependency[Console], slug: FromPath[str]) -> dict[str, str]:
    form = await checked_form(request, console)
    project = console.project(slug)
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise InvalidParam("choose an image file")
    asset = await upload_asset(_services(request), project, await file.read())
    return {"id": asset.id, "page": f"/console/p/{slug}/assets/{asset.id}"}


@get("/console/p/{slug:str}/assets/{asset_id:str}", include_in_schema=False)
async def asset_page(request: Request, console: NamedDependency[Console], slug: FromPath[str], asset_id: FromPath[str]) -> Template:
    project = console.project(slug)
    async with _services(request).pool.acquire() as conn:
        asset = await get_project_asset(conn, project_id=project.id, id=asset_id)
        if asset is None:
            raise UnknownAsset()
        names = (await names_of(conn, asset_ids=[asset.id])).get(asset.id, [])
        crops = preset_queries(await project_presets(conn, project.id))
        steps = await conn.fetch(
            """SELECT s.flow_id, s.position, s.prompt, s.asset_id FROM flow_steps s
               WHERE s.flow_id IN (SELECT flow_id FROM flow_steps WHERE asset_id = $1) ORDER BY s.flow_id, s.position""",
            asset.id,
        )
    return _page("asset.html", request, console, project=project, asset=asset, names=names, crops=crops, steps=steps)


@post("/console/p/{slug:str}/assets/{asset_id:str}", include_in_schema=False, status_code=303)
async def edit_asset(request: Request, console: NamedDependency[Console], slug: FromPath[str], asset_id: FromPath[str]) -> Redirect:
    form = await checked_form(request, console)
    project = console.project(slug)
    action = _text(form, "action", limit=20)
    services = _services(request)
    try:  # after the commit, this process's caches drop the asset at once (the others on the trigger's NOTIFY)
        async with services.pool.acquire() as conn, conn.transaction():
            if action == "delete":
                if not await delete_asset(conn, project_id=project.id, id=asset_id):
                    raise UnknownAsset()
                return Redirect(f"/console/p/{slug}/assets/{asset_id}/deleted", status_code=303)
            if action == "restore":
                if await restore_project_asset(conn, project_id=project.id, id=asset_id) is None:
                    raise UnknownAsset()
                return Redirect(f"/console/p/{slug}/assets/{asset_id}", status_code=303)
            focal = None
            if _text(form, "focal_x", limit=20):
                try:
                    focal = (float(_text(form, "focal_x", limit=20)), float(_text(form, "focal_y", limit=20)))
                except ValueError:
                    raise InvalidParam("the focal point is two fractions from 0 to 1") from None
                if not all(0.0 <= f <= 1.0 for f in focal):
                    raise InvalidParam("the focal point is two fractions from 0 to 1")
            tags = [t for t in (t.strip().lower() for t in _text(form, "tags").split(",")) if t]
            asset = await update_asset(conn, project_id=project.id, id=asset_id, focal=focal, alt_text=_text(form, "alt_text", limit=1000), tags=tags[:50])
            if asset is None:
                raise UnknownAsset()
            if name := _text(form, "name", limit=100).lstrip("@").lower():
                check_name(name)
                await set_name(conn, project_id=project.id, name=name, asset_id=asset.id)
    finally:
        forget_asset(services, asset_id)
    return Redirect(f"/console/p/{slug}/assets/{asset_id}", status_code=303)


@get("/console/p/{slug:str}/assets/{asset_id:str}/deleted", include_in_schema=False)
async def deleted_page(request: Request, console: NamedDependency[Console], slug: FromPath[str], asset_id: FromPath[str]) -> Template:
    return _page("deleted.html", request, console, project=console.project(slug), asset_id=asset_id)


# Keys -------------------------------------------------------------------------------------------


@get("/console/p/{slug:str}/keys", include_in_schema=False)
async def keys_page(request: Request, console: NamedDependency[Console], slug: FromPath[str]) -> Template:
    project = console.project(slug)
    async with _services(request).pool.acquire() as conn:
        keys = await list_api_keys(conn, project_id=project.id)
    return _page("keys.html", request, console, project=project, keys=keys, scopes=GRANTABLE_SCOPES, now=dt.datetime.now(dt.UTC), created=None)


@post("/console/p/{slug:str}/keys", include_in_schema=False)
async def new_key(request: Request, console: NamedDependency[Console], slug: FromPath[str]) -> Template:
    form = await checked_form(request, console)
    project = console.project(slug)
    kind = _text(form, "kind", limit=20)
    scopes = [s for s in form.getall("scope", []) if isinstance(s, str)]
    spec = KeySpec(kind=kind, name=_text(form, "name", limit=200), scopes=scopes or None)
    async with _services(request).pool.acquire() as conn:
        created = await create_key(conn, project_id=project.id, spec=spec)
        keys = await list_api_keys(conn, project_id=project.id)
    return _page("keys.html", request, console, project=project, keys=keys, scopes=GRANTABLE_SCOPES, now=dt.datetime.now(dt.UTC), created=created)


@post("/console/p/{slug:str}/keys/{key_id:str}", include_in_schema=False, status_code=200)
async def change_key(request: Request, console: NamedDependency[Console], slug: FromPath[str], key_id: FromPath[str]) -> Response[Any]:
    form = await checked_form(request, console)
    project = console.project(slug)
    action: Literal["revoke", "rotate"] | str = _text(form, "action", limit=20)
    now = dt.datetime.now(dt.UTC)
    async with _services(request).pool.acquire() as conn:
        key = await get_api_key(conn, id=key_id)
        if key is None or key.project_id != project.id:
            raise UnknownApiKey()
        if action == "rotate":
            created = await rotate_key(conn, key=key, grace=dt.timedelta(days=1), now=now)
            keys = await list_api_keys(conn, project_id=project.id)
            return _page("keys.html", request, console, project=project, keys=keys, scopes=GRANTABLE_SCOPES, now=now, created=created)
        if action != "revoke":
            raise InvalidParam("`action` is revoke or rotate")
        await retire_api_key(conn, id=key.id, project_id=project.id, revoke=True)
    return Redirect(f"/console/p/{slug}/keys", status_code=303)


# Usage ------------------------------------------------------------------------------------------


@get("/console/usage", include_in_schema=False)
async def usage_page(request: Request, console: NamedDependency[Console]) -> Template:
    org = console.organization.id
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    since = dt.datetime.combine(today - dt.timedelta(days=_DAYS - 1), dt.time(), dt.UTC)
    until = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
    async with _services(request).pool.acquire() as conn:
        account = await get_account(conn, organization_id=org, now=now)
        ledger = await list_ledger(conn, organization_id=org, limit=50)
        per_day = {r.group: r for r in await usage(conn, organization_id=org, by="day", since=since, until=until)}
        groups = {by: await usage(conn, organization_id=org, by=by, since=since, until=until) for by in ("project", "model", "key")}
    days = [(today - dt.timedelta(days=_DAYS - 1 - i)).isoformat() for i in range(_DAYS)]
    charts = [
        (title, bar_chart([(d, getattr(per_day[d], field) if d in per_day else 0) for d in days], title=f"{title}, last {_DAYS} days"))
        for title, field in (("Generations per day", "generations"), ("Credits per day", "credits"))
    ]
    return _page("usage.html", request, console, account=account, ledger=ledger, charts=charts, groups=groups)


HANDLERS = [
    landing,
    signin,
    signout,
    overview,
    new_project,
    settings_page,
    edit_project,
    edit_style,
    edit_preset,
    playground,
    generate,
    library,
    upload,
    asset_page,
    edit_asset,
    deleted_page,
    keys_page,
    new_key,
    change_key,
    usage_page,
]
