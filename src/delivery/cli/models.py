"""`promptpix models …`: the model catalogue, and which models a project may use.

    promptpix models put flux-schnell --provider replicate --version black-forest-labs/flux-schnell:5599… --price 1 --family flux
    promptpix models list
    promptpix models disable flux-schnell
    promptpix models project acme --default flux-schnell --allow flux-schnell --allow imagen
    promptpix models margin --since 2026-01
"""

from __future__ import annotations

import argparse
import datetime as dt

from delivery.cli.common import project_by_slug, run_with_connection
from delivery.db.connection import Conn
from delivery.db.models import PROVIDERS, CatalogueModel, get_model, list_models, set_model_enabled, set_project_models
from delivery.errors import InvalidParam, UnknownModel
from delivery.prompts.billing import margin_report, month_start, this_year
from delivery.prompts.models import put_catalogue_model
from delivery.settings import Settings

__all__ = ["register"]


def _line(model: CatalogueModel) -> str:
    abilities = [a for a, on in (("text-to-image", model.text_to_image), ("edit", model.edit)) if on]
    refs = f", {model.max_references} reference(s)" if model.max_references else ""
    family = f" family {model.family} #{model.fallback_rank}" if model.family else ""
    state = "" if model.enabled else " (disabled)"
    return f"{model.name}: {model.provider} {model.version}, {model.price} credits, {'/'.join(abilities) or 'no abilities'}{refs}{family}{state}"


def cmd_put(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        model = CatalogueModel(
            name=args.name,
            provider=args.provider,
            version=args.version,
            family=args.family,
            text_to_image=not args.no_text_to_image,
            edit=args.edit,
            max_references=args.references,
            price=args.price,
            fallback_rank=args.rank,
            enabled=not args.disabled,
        )
        print(_line(await put_catalogue_model(conn, model)))

    return run_with_connection(settings, work)


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        models = await list_models(conn)
        for model in models:
            print(_line(model))
        if not models:
            print("no models in the catalogue: every generation uses the deployment's default model")

    return run_with_connection(settings, work)


def cmd_enable(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        model = await set_model_enabled(conn, name=args.name, enabled=args.enabled)
        if model is None:
            raise UnknownModel(f"unknown model `{args.name}`")
        print(_line(model))

    return run_with_connection(settings, work)


def cmd_project(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        project = await project_by_slug(conn, args.slug)
        allowed = list(dict.fromkeys(n.lower() for n in args.allow))
        default = args.default.lower() if args.default else None
        for name in [*allowed, *([default] if default else [])]:
            if await get_model(conn, name=name) is None:
                raise UnknownModel(f"unknown model `{name}`")
        if default and allowed and default not in allowed:
            raise InvalidParam(f"the default model `{default}` must be one of the allowed models")
        await set_project_models(conn, project_id=project.id, default=default, allowed=allowed)
        print(f"project {project.slug!r}: default model {default or 'the deployment default'}; allowed {', '.join(allowed) or 'every enabled model'}")

    return run_with_connection(settings, work)


def cmd_margin(settings: Settings, args: argparse.Namespace) -> int:
    """Operators: what every organisation was charged against what the providers cost, per month."""

    async def work(conn: Conn) -> None:
        since, until = this_year(dt.datetime.now(dt.UTC))
        since = month_start(args.since, field="--since") if args.since else since
        until = month_start(args.until, field="--until") if args.until else until
        value = args.credit_value if args.credit_value is not None else 1 / settings.credits_per_cost_unit
        report = await margin_report(conn, since=since, until=until, credit_value=value)
        width = max([len(line.model) for line in report.lines] + [5])
        print(f"month    provider   {'model':<{width}}  generations  credits  provider cost  margin")
        for line in report.lines:
            print(
                f"{line.month}  {line.provider:<9}  {line.model:<{width}}  {line.generations:>11}  {line.credits:>7}"
                f"  {line.cost:>13.4f}  {line.margin:>6.4f}"
            )
        if not report.lines:
            print("no generations in that period")

    return run_with_connection(settings, work)


def register(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="the model catalogue").add_subparsers(dest="models_command", required=True)
    put = models.add_parser("put", help="add or redefine a catalogue model")
    put.add_argument("name", help="what `model=` says: lowercase letters, digits, `.`, `_`, `-`")
    put.add_argument("--provider", required=True, choices=PROVIDERS)
    put.add_argument("--version", required=True, help="pinned: a Gemini model name, or a Replicate owner/name:version")
    put.add_argument("--price", type=int, required=True, help="credits reserved per generation")
    put.add_argument("--family", default="", help="models of one family stand in for each other when a provider is down")
    put.add_argument("--rank", type=int, default=0, help="order within the family (lowest first)")
    put.add_argument("--references", type=int, default=0, help="most reference images the model takes")
    put.add_argument("--edit", action="store_true", help="the model can edit or extend an image")
    put.add_argument("--no-text-to-image", action="store_true")
    put.add_argument("--disabled", action="store_true")
    put.set_defaults(run=cmd_put)
    models.add_parser("list", help="every catalogue model").set_defaults(run=cmd_list)
    for verb, enabled in (("enable", True), ("disable", False)):
        toggle = models.add_parser(verb, help=f"{verb} a model for every project")
        toggle.add_argument("name")
        toggle.set_defaults(run=cmd_enable, enabled=enabled)
    project = models.add_parser("project", help="a project's default model and allow-list")
    project.add_argument("slug")
    project.add_argument("--default", default=None, help="used when `model=` is absent; unset: the deployment's default")
    project.add_argument("--allow", action="append", default=[], help="a model the project may name (repeatable); none: every enabled model")
    project.set_defaults(run=cmd_project)
    margin = models.add_parser("margin", help="credits charged vs provider cost, per month, provider and model (every organisation)")
    margin.add_argument("--since", default=None, help="YYYY-MM (UTC); default: January of this year")
    margin.add_argument("--until", default=None, help="YYYY-MM (UTC), exclusive; default: next month")
    margin.add_argument(
        "--credit-value", type=float, default=None, help="what one credit is worth in the providers' currency; default: 1 / PROMPTPIX_CREDITS_PER_COST_UNIT"
    )
    margin.set_defaults(run=cmd_margin)
