"""`promptpix assets upload|name|embed`: put an image into a project, name it (`@logo`), embed what has no vector."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from delivery.app import open_services
from delivery.assets.embeddings import embed_assets
from delivery.assets.uploads import upload_asset
from delivery.cli.common import project_by_slug
from delivery.db.asset_names import set_name
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
    embed = sub.add_parser("embed", help="embed live assets that have no vector of the configured model (semantic search)")
    embed.add_argument("project", nargs="?", help="project slug; every project without it")
