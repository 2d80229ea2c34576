"""`promptpix keys create|list|show|revoke|sign`: a project's API keys, and signed links for pages."""

from __future__ import annotations

import argparse
import datetime as dt

from delivery.access.keys import SCOPES, KeySpec, create_key
from delivery.access.links import sign_link
from delivery.access.signing import Keyring, load_master_secret
from delivery.cli.common import INT4, bounded, key_by_id, project_by_id, project_by_slug, run_with_connection
from delivery.db.api_keys import list_api_keys, retire_api_key
from delivery.db.connection import Conn
from delivery.errors import ServiceError, UnknownApiKey
from delivery.images.params import MAX_EXP, check_link_params
from delivery.settings import Settings

__all__ = ["register"]


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=args.expires_in_days) if args.expires_in_days else None

    async def work(conn: Conn) -> None:
        project = await project_by_slug(conn, args.project)
        spec = KeySpec(
            kind=args.kind,
            name=args.name.strip(),
            scopes=args.scope or None,
            expires_at=expires_at,
            allowed_origins=args.origin,
            rate_limit=args.rate_limit,
        )
        created = await create_key(conn, project_id=project.id, spec=spec, operator=True)  # the operator's own tool: may grant `admin`
        key = created.key
        print(f"created {key.kind} key {key.id} for project {project.slug!r}, scopes {', '.join(key.scopes)}")
        print(f"the full key is shown once; store it now:\n{created.full_key}")

    return run_with_connection(settings, work)


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        project = await project_by_slug(conn, args.project)
        now = dt.datetime.now(dt.UTC)
        for key in await list_api_keys(conn, project_id=project.id):
            state = "live" if key.active(now) else "revoked" if key.revoked_at else "expired"
            used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
            print(f"{key.id}\t{key.kind}\t{state}\t{','.join(key.scopes)}\tlast used {used}\t{key.name}")

    return run_with_connection(settings, work)


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        key = await key_by_id(conn, args.key_id)
        project = await project_by_id(conn, key.project_id)
        now = dt.datetime.now(dt.UTC)
        state = "live" if key.active(now) else "revoked" if key.revoked_at else "expired"
        print(f"{key.kind} key {key.id} {key.name!r} of project {project.slug!r}: {state}")
        print(f"scopes: {', '.join(key.scopes)}")
        origins = ", ".join(key.allowed_origins) or "the project's"
        print(f"origins: {origins}; rate limit: {key.rate_limit or 'the setting'} a minute")
        when = {"created": key.created_at, "expires": key.expires_at, "revoked": key.revoked_at, "last used": key.last_used_at}
        print("; ".join(f"{label} {moment:%Y-%m-%d %H:%M}" for label, moment in when.items() if moment))

    return run_with_connection(settings, work)


def cmd_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        key = await key_by_id(conn, args.key_id)
        revoked = await retire_api_key(conn, id=key.id, project_id=key.project_id, revoke=True)
        if revoked is None:
            raise UnknownApiKey()
        print(f"revoked {revoked.kind} key {revoked.id}; links and requests using it are refused from now on")

    return run_with_connection(settings, work)


def cmd_sign(settings: Settings, args: argparse.Namespace) -> int:
    keyring = Keyring(load_master_secret(settings))
    params = dict(args.param)
    now = dt.datetime.now(dt.UTC)
    expires = int(now.timestamp()) + args.expires_in if args.expires_in else None
    try:  # the same refusal as the links API: never print a link /g/ would answer with a 400
        check_link_params(params, expires=expires, max_prompt_chars=settings.max_prompt_chars)
    except ServiceError as exc:
        raise SystemExit(f"promptpix: {exc.message}") from None

    async def work(conn: Conn) -> None:
        key = await key_by_id(conn, args.key_id)
        project = await project_by_id(conn, key.project_id)
        path = await sign_link(conn, keyring, project=project, key=key, params=params, expires=expires, now=now)
        print(settings.resolved_public_url + path)

    return run_with_connection(settings, work)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name, value


def register(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="API keys and signed links").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key; prints the full key once")
    create.add_argument("--project", required=True, help="project slug")
    create.add_argument("--kind", choices=("secret", "publishable"), required=True)
    create.add_argument("--name", default="")
    create.add_argument(
        "--scope", action="append", choices=SCOPES, help="repeatable; default: all the kind may hold except `admin` (the operator's: catalogue, margin report)"
    )
    create.add_argument("--origin", action="append", default=[], help="narrow the project's allowed origins (repeatable)")
    create.add_argument("--rate-limit", type=bounded(1, INT4), help="new generations per minute (default: setting)")
    create.add_argument("--expires-in-days", type=bounded(1, 36_600), help="days until the key stops working")
    create.set_defaults(run=cmd_create)
    listing = keys.add_parser("list", help="list a project's keys (never their secrets)")
    listing.add_argument("--project", required=True, help="project slug")
    listing.set_defaults(run=cmd_list)
    show = keys.add_parser("show", help="one key: project, state, scopes, limits (never its secret)")
    show.add_argument("key_id")
    show.set_defaults(run=cmd_show)
    revoke = keys.add_parser("revoke", help="revoke a key now")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=cmd_revoke)
    sign = keys.add_parser("sign", help="print a signed /g/ link")
    sign.add_argument("key_id", help="a publishable key id (pk_…)")
    sign.add_argument("param", nargs="+", type=_pair, help="name=value, e.g. prompt='a red fox' w=800")
    sign.add_argument("--expires-in", type=bounded(1, MAX_EXP), help="seconds the link stays valid")
    sign.set_defaults(run=cmd_sign)
