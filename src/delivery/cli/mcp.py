"""`promptpix mcp`: the MCP server over stdio, for clients that start a local command (Claude Desktop, Cursor, …).

It is a bridge, not a second server: every list and call is forwarded to a
promptpix service's `/mcp` endpoint (http/mcp.py) with the secret key as
bearer, so the tools, their schemas, scopes and errors are the service's own.
The one thing done locally is reading the image of `upload_image` when it is
an http(s) URL or a file path: the machine the agent runs on can reach what
the agent means, and the service never fetches URLs for callers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import Server
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.stdio import stdio_server
from pydantic import AnyUrl

__all__ = ["register"]

URL_VARIABLE, KEY_VARIABLE = "PROMPTPIX_URL", "PROMPTPIX_API_KEY"
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
"""PROMPTPIX_MAX_SOURCE_BYTES' default: a larger file would be refused by the service anyway."""


class BridgeError(Exception):
    """Why the bridge cannot start, said to the person who configured it."""


def local_image(value: str, *, max_bytes: int, timeout: float) -> str:
    """`upload_image`'s argument as the service takes it: an http(s) URL or a file path becomes base64."""
    if value.startswith(("http://", "https://")):
        with httpx.stream("GET", value, follow_redirects=True, timeout=timeout) as response:
            response.raise_for_status()
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise ValueError(f"{value} is larger than {max_bytes} bytes")
        return base64.b64encode(bytes(data)).decode()
    if len(value) < 4096 and not value.startswith("data:"):
        path = Path(value).expanduser()
        if path.is_file():
            if path.stat().st_size > max_bytes:
                raise ValueError(f"{path} is larger than {max_bytes} bytes")
            return base64.b64encode(path.read_bytes()).decode()
    return value


def _refusal(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return f"{response.status_code} {detail or response.reason_phrase}"


async def preflight(endpoint: str, headers: dict[str, str], timeout: float) -> None:
    """Say clearly why the service refuses the key, before a client only sees the process end."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        try:
            # A notification: authenticated like any message, answered at once with no body (a GET would open a stream).
            ping = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            response = await client.post(endpoint, json=ping, headers={**headers, "Accept": "application/json, text/event-stream"})
        except httpx.HTTPError as exc:
            raise BridgeError(f"cannot reach {endpoint}: {exc}") from exc
    if response.status_code in (401, 403, 404):
        raise BridgeError(f"{endpoint} refused the key: {_refusal(response)}")


async def bridge(url: str, key: str, *, max_upload_bytes: int, timeout: float) -> None:
    endpoint = url.rstrip("/") + "/mcp"
    headers = {"Authorization": f"Bearer {key}"}
    await preflight(endpoint, headers, timeout)
    async with (
        httpx.AsyncClient(headers=headers, timeout=timeout) as http,
        streamable_http_client(endpoint, http_client=http) as (read, write, _),
        ClientSession(read, write) as remote,
    ):
        hello = await remote.initialize()
        server: Server[Any, Any] = Server(hello.serverInfo.name, version=hello.serverInfo.version, instructions=hello.instructions)

        @server.list_tools()
        async def list_tools() -> list[types.Tool]:
            return (await remote.list_tools()).tools

        @server.call_tool(validate_input=False)  # the service validates: one set of rules
        async def call_tool(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
            if name == "upload_image" and isinstance(arguments.get("image"), str):
                try:
                    image = await asyncio.to_thread(local_image, arguments["image"], max_bytes=max_upload_bytes, timeout=timeout)
                except (OSError, ValueError, httpx.HTTPError) as exc:
                    return types.CallToolResult(content=[types.TextContent(type="text", text=f"cannot read the image: {exc}")], isError=True)
                arguments = {**arguments, "image": image}
            return await remote.call_tool(name, arguments)

        @server.list_resources()
        async def list_resources() -> list[types.Resource]:
            return (await remote.list_resources()).resources

        @server.read_resource()
        async def read_resource(uri: AnyUrl) -> Iterable[ReadResourceContents]:
            found = await remote.read_resource(uri)
            return [
                ReadResourceContents(content=c.text if isinstance(c, types.TextResourceContents) else base64.b64decode(c.blob), mime_type=c.mimeType)
                for c in found.contents
            ]

        async with stdio_server() as (stdin, stdout):
            await server.run(stdin, stdout, server.create_initialization_options())


def cmd_mcp(args: argparse.Namespace) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)  # stdout carries the protocol
    url, key = args.url or os.environ.get(URL_VARIABLE), args.key or os.environ.get(KEY_VARIABLE)
    if not url or not key:
        print(f"promptpix mcp: give the service URL and a secret key (--url/--key or {URL_VARIABLE}/{KEY_VARIABLE})", file=sys.stderr)
        return 2
    try:
        asyncio.run(bridge(url, key, max_upload_bytes=args.max_upload_bytes, timeout=args.timeout))
    except BridgeError as exc:
        print(f"promptpix mcp: {exc}", file=sys.stderr)
        return 1
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("mcp", help="the MCP server on stdio, forwarding to a promptpix service's /mcp")
    parser.add_argument("--url", help=f"the service's base URL (default: {URL_VARIABLE})")
    parser.add_argument("--key", help=f"a secret key, pp_sk_… (default: {KEY_VARIABLE}; prefer it: arguments show in process lists)")
    parser.add_argument("--max-upload-bytes", type=int, default=DEFAULT_MAX_UPLOAD_BYTES, help="largest file or URL upload_image reads")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the service (a generation can take a while)")
    parser.set_defaults(run_without_settings=cmd_mcp)
