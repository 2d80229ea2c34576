"""`promptpix assets upload|name|list|show|embed`: put an image into a project, name it (`@logo`), see what is there, embed what has no vector."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from delivery.app import open_services
from delivery.assets.embeddings import embed_assets
from delivery.assets.uploads import upload_asset
from delivery.cli.common import bounded, project_by_id, project_by_slug, run_with_connection
from delivery.db.asset_names import set_name
from delivery.db.assets import Asset, AssetFilter, get_asset, list_assets, names_of
from delivery.db.connection import Conn
from delivery.db.embeddings import missing_embeddings
from delivery.errors import NoEmbedding, ServiceError, UnknownAsset
from delivery.settings import Settings
from generation import GenerationError

__all__ = ["register"]


async def _upload(settings: Settings, project_slug: str, path: Path, name: str | None) -> list[str]:
    data = await asyncio.to_thread(path.read_bytes)
    async with open_services(settings) as services:
        async with services.pool.acquire() as conn:
            project = await project_by_slug(conn, project_slug)
        asset = await upload_asset(services, project, data, name=name)
    base = settings.resolved_public_url
    lines = [
        f"asset {asset.id}: {asset.width}x{asset.height} {asset.mime}, focal point {asset.focal_x:.2f},{asset.focal_y:.2f}",
        f"{base}/i/{asset.id}",
    ]
    if name:
        lines.append(f"{base}/i/{project.slug}/@{name}  (use @{name} in prompts)")
    return lines


async def _name(settings: Settings, project_slug: str, name: str, asset_id: str) -> list[str]:
    async with open_services(settings) as services, services.pool.acquire() as conn:
        project = await project_by_slug(conn, project_slug)
        if await set_name(conn, project_id=project.id, name=name, asset_id=asset_id) is None:
            raise UnknownAsset("asset not found in this project")
    return [f"@{name} -> {asset_id}", f"{settings.resolved_public_url}/i/{project.slug}/@{name}"]


async def _embed(settings: Settings, project_slug: str | None) -> list[str]:
    """Embed every live asset (of one project, or all) that has no vector of the configured model yet."""
    async with open_services(settings) as services:
        embedder = services.embeddings.embedder
        if embedder is None:
            raise NoEmbedding("semantic search is off (PROMPTPIX_EMBEDDINGS): nothing to embed with")
        project_id = None
        if project_slug is not None:
            async with services.pool.acquire() as conn:
                project_id = (await project_by_slug(conn, project_slug)).id
        after, seen, embedded = "", 0, 0
        while True:
            async with services.pool.acquire() as conn:
                batch = await missing_embeddings(conn, project_id=project_id, model=embedder.model, after=after, limit=settings.embedding_batch)
            if not batch:
                break
            embedded += await embed_assets(services.pool, embedder, batch)
            seen, after = seen + len(batch), batch[-1].id
    return [f"{embedded} assets embedded with {embedder.model} ({seen - embedded} had nothing to embed)"]


def cmd_assets(settings: Settings, args: argparse.Namespace) -> int:
    if args.assets_command == "upload":
        work = _upload(settings, args.project, args.file, args.name)
    elif args.assets_command == "embed":
        work = _embed(settings, args.project)
    else:
        work = _name(settings, args.project, args.name, args.asset_id)
    try:
        lines = asyncio.run(work)
    except ServiceError as exc:
        print(f"promptpix: {exc.message}", file=sys.stderr)
        return 1
    except GenerationError as exc:
        print(f"promptpix: embedding failed: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"promptpix: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def _asset_line(asset: Asset, names: list[str]) -> str:
    label = " ".join(f"@{n}" for n in names)
    what = asset.prompt if asset.prompt is not None else asset.alt_text
    return f"{asset.id}\t{asset.source}\t{asset.width}x{asset.height} {asset.mime}\t{asset.created_at:%Y-%m-%d}\t{label}\t{what[:60]}"


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        project = await project_by_slug(conn, args.project)
        found = await list_assets(conn, project_id=project.id, where=AssetFilter(tag=args.tag), limit=args.limit)
        names = await names_of(conn, asset_ids=[a.id for a in found])
        for asset in found:
            print(_asset_line(asset, names.get(asset.id, [])))

    return run_with_connection(settings, work)


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: Conn) -> None:
        asset = await get_asset(conn, id=args.asset_id)
        if asset is None:
            raise UnknownAsset(f"no asset {args.asset_id}")
        project = await project_by_id(conn, asset.project_id)
        names = (await names_of(conn, asset_ids=[asset.id])).get(asset.id, [])
        base = settings.resolved_public_url
        print(f"asset {asset.id} of project {project.slug!r}: {asset.source}, {asset.width}x{asset.height} {asset.mime}, {asset.bytes} bytes")
        if asset.prompt is not None:
            print(f"prompt: {asset.prompt}")
            print(f"drawn by: {asset.provider} {asset.model}{' (offline preview)' if asset.offline else ''}")
        print(f"alt text: {asset.alt_text}")
        print(f"tags: {', '.join(asset.tags) or 'none'}; focal point {asset.focal_x:.2f},{asset.focal_y:.2f}")
        print(f"names: {' '.join('@' + n for n in names) or 'none'}")
        print(f"{base}/i/{asset.id}")

    return run_with_connection(settings, work)


def register(commands: argparse._SubParsersAction) -> None:
    assets = commands.add_parser("assets", help="upload, name and embed a project's assets")
    assets.set_defaults(run=cmd_assets)
    sub = assets.add_subparsers(dest="assets_command", required=True)
    upload = sub.add_parser("upload", help="validate, analyse and store an image as an asset")
    upload.add_argument("project", help="project slug")
    upload.add_argument("file", type=Path)
    upload.add_argument("--name", help="also name it, e.g. logo for @logo")
    name = sub.add_parser("name", help="point a name (@name) at an asset of the project")
    name.add_argument("project", help="project slug")
    name.add_argument("name")
    name.add_argument("asset_id")
    listing = sub.add_parser("list", help="a project's assets, newest first")
    listing.add_argument("project", help="project slug")
    listing.add_argument("--tag", help="only assets with this tag")
    listing.add_argument("--limit", type=bounded(1, 10_000), default=50, help="at most this many (default 50)")
    listing.set_defaults(run=cmd_list)
    show = sub.add_parser("show", help="one asset: what it is, its names and URL")
    show.add_argument("asset_id")
    show.set_defaults(run=cmd_show)
    embed = sub.add_parser("embed", help="embed live assets that have no vector of the configured model (semantic search)")
    embed.add_argument("project", nargs="?", help="project slug; every project without it")
