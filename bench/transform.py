"""One command, one run: promptpix against raw libraries, thumbor and ipx on this machine.

    make bench                      # or: python -m bench.transform [--seconds 10] [--workers 2]

Measures requests/s and p50/p99 for cold transforms (1024², 2048x1536 and
4000x3000 JPEG masters -> 400x300 JPEG, WebP and AVIF) through the real HTTP server
(uvicorn and granian, `--workers N`, app factory `delivery.app:app_from_env`)
under wrk, against raw pyvips and raw Pillow doing the same work in N
processes, and thumbor and ipx (sharp), each as N single-process servers
behind an nginx round-robin balancer; then variant-cache hits, peak RSS at
concurrency 64 with the 4000x3000 master, and the in-process cost of a hit.
Cold means a new cache key per request (see bench/wrk.lua), so every request
is a full decode + resize + encode; the master itself comes from the
service's master cache after the first request, as it does when a page asks
for several variants of one image (`PROMPTPIX_MASTER_CACHE_BYTES=0` in the
environment turns that off).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from bench import raw
from bench.hotpath import hit_cost
from bench.seed import MASTERS, make_masters, register
from bench.servers import Load, balanced, install_ipx, install_thumbor, serve, wrk
from delivery.ops.embedded import start_embedded_postgres
from delivery.settings import Settings
from harness.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
FORMATS = ("jpg", "webp", "avif")
AVIF_QUALITY = raw.AVIF_QUALITY
COLD_CONNECTIONS = 8
HIT_CONNECTIONS = 64


def _app_env(database_url: str, data: Path) -> dict[str, str]:
    return {
        "PROMPTPIX_DATABASE_URL": database_url,
        "PROMPTPIX_DATA_DIR": str(data),
        "PROMPTPIX_STORAGE_URL": f"file://{data / 'objects'}",
        # Room for all 64 connections of the memory row in one worker (uvicorn's workers share one
        # listening socket and rarely split connections evenly), so that row measures memory, not shedding.
        "PROMPTPIX_TRANSFORM_QUEUE": "64",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }


def _server_command(kind: str, port: int, workers: int) -> list[str]:
    binary = Path(sys.executable).parent
    if kind == "uvicorn":
        return [str(binary / "uvicorn"), "--factory", "delivery.app:app_from_env", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    return [str(binary / "granian"), "--interface", "asgi", "--factory", "delivery.app:app_from_env", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--log-level", "warning"]


def _thumbor_conf(masters: Path) -> Path:
    conf = WORK / "thumbor.conf"
    conf.write_text(
        "LOADER = 'thumbor.loaders.file_loader'\n"
        f"FILE_LOADER_ROOT_PATH = '{masters}'\n"
        "STORAGE = 'thumbor.storages.no_storage'\n"
        "RESULT_STORAGE = None\n"
        "ALLOW_UNSAFE_URL = True\n"
        "QUALITY = 80\nWEBP_QUALITY = 80\nPROGRESSIVE_JPEG = True\nAUTO_WEBP = False\n"
        # AVIF through Pillow's own (libavif + aom) at the service's quality and aom speed (9 - effort).
        f"AVIF_QUALITY = {AVIF_QUALITY}\nAVIF_SPEED = {9 - raw.AVIF_EFFORT}\nAVIF_CODEC = 'aom'\n"
    )
    return conf


CONTENDERS = ("pyvips", "pillow", "thumbor", "ipx", "uvicorn", "granian")
PEERS = ("thumbor", "ipx")


def _peer_commands(kind: str, ports: list[int], masters: Path) -> tuple[list[list[str]], str]:
    """One single-process server per port (they go behind a balancer), and the path that says it is up."""
    if kind == "thumbor":
        conf, binary = _thumbor_conf(masters), install_thumbor(WORK)
        return [[str(binary), "-p", str(p), "-c", str(conf), "--processes", "1", "-l", "warning"] for p in ports], "/healthcheck"
    binary = install_ipx(WORK)
    return [[str(binary), "serve", "--dir", str(masters), "--host", "127.0.0.1", "--port", str(p)] for p in ports], "/_/m1024x1024.jpg"


def _start_all(stack: ExitStack, env: dict[str, str], masters: dict[str, Path], args: argparse.Namespace) -> dict[str, tuple[str, int]]:
    """Every server up at once (idle ones cost nothing), so each row measures its contenders back to back."""
    bases = {}
    for kind in ("uvicorn", "granian"):
        if kind not in args.skip:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            server = stack.enter_context(serve(_server_command(kind, port, args.workers), env=env, ready_url=f"{base}/healthz", log=WORK / f"{kind}.log"))
            bases[kind] = (base, server.pid)
    for kind in PEERS:
        if kind not in args.skip:
            ports = [free_port() for _ in range(args.workers)]
            commands, ready = _peer_commands(kind, ports, masters["1024x1024"].parent)
            bases[kind] = stack.enter_context(balanced(kind, commands, ports, env={}, ready_path=ready, work=WORK))
    return bases


def _peer_path(kind: str, name: str, fmt: str) -> str:
    """The same 400x300 centre crop. Neither peer has a result cache here, so a fixed URL is a full transform every time.
    ipx passes only the quality to sharp, so its AVIF is sharp's default effort (4) and chroma (4:4:4)."""
    if kind == "thumbor":
        return f"/unsafe/400x300/filters:format({'jpeg' if fmt == 'jpg' else fmt})/m{name}.jpg"
    return f"/s_400x300,f_{'jpeg' if fmt == 'jpg' else fmt},q_{AVIF_QUALITY if fmt == 'avif' else 80}/m{name}.jpg"


def _cold(kind: str, name: str, fmt: str, masters: dict[str, Path], ids: dict[str, str], bases: dict[str, tuple[str, int]], seconds: float, workers: int) -> Load:
    if kind in ("pyvips", "pillow"):
        rps, latencies = raw.measure(kind, masters[name].read_bytes(), fmt, processes=workers, seconds=seconds)
        latencies.sort()

        def pick(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

        return Load(rps=rps, p50_ms=pick(0.5), p99_ms=pick(0.99), requests=len(latencies), errors=0)
    base, pid = bases[kind]
    if kind in PEERS:
        return wrk(base, _peer_path(kind, name, fmt), connections=COLD_CONNECTIONS, seconds=seconds)
    return wrk(base, f"/i/{ids[name]}?w=400&h=300&fit=crop&fm={fmt}", connections=COLD_CONNECTIONS, seconds=seconds, unique=True, watch=pid)


def measure_all(env: dict[str, str], masters: dict[str, Path], ids: dict[str, str], args: argparse.Namespace) -> dict[str, dict[str, Load]]:
    """Best of `--rounds` per cell: on a shared machine the best run is the one least disturbed."""
    results: dict[str, dict[str, Load]] = {kind: {} for kind in CONTENDERS if kind not in args.skip}
    with ExitStack() as stack:
        bases = _start_all(stack, env, masters, args)
        for kind, (base, _) in bases.items():  # warm every worker
            path = _peer_path(kind, "1024x1024", "jpg") if kind in PEERS else f"/i/{ids['1024x1024']}?w=400&h=300&fit=crop&fm=jpg"
            wrk(base, path, connections=COLD_CONNECTIONS, seconds=2, unique=kind not in PEERS)
        for _ in range(args.rounds):
            for name in MASTERS:
                for fmt in args.formats:
                    for kind in results:
                        load = _cold(kind, name, fmt, masters, ids, bases, args.seconds, args.workers)
                        best = results[kind].get(f"{name} {fmt}")
                        results[kind][f"{name} {fmt}"] = load if best is None or load.rps > best.rps else best
                        print(f"  {kind} {name} -> {fmt}: {load.rps:.0f}/s", file=sys.stderr)
        for kind in ("uvicorn", "granian"):
            if kind in bases:
                base, pid = bases[kind]
                hit = f"/i/{ids['1024x1024']}?w=400&h=300&fit=crop&fm=webp"
                wrk(base, hit, connections=HIT_CONNECTIONS, seconds=2)
                results[kind]["hits"] = wrk(base, hit, connections=HIT_CONNECTIONS, seconds=args.seconds, watch=pid)
                path = f"/i/{ids['4000x3000']}?w=400&h=300&fit=crop&fm=webp"
                results[kind]["rss64"] = wrk(base, path, connections=64, seconds=args.seconds, unique=True, watch=pid)
                print(f"  {kind} hits: {results[kind]['hits'].rps:.0f}/s", file=sys.stderr)
    return results


def _cell(load: Load | None) -> str:
    if load is None:
        return "-"
    flag = f" !{load.errors}err" if load.errors else ""
    return f"{load.rps:,.0f} ({load.p50_ms:.0f}/{load.p99_ms:.0f}){flag}"


def _server_table(results: dict[str, dict[str, Load]], key: str, title: str) -> None:
    print(f"\n## {title}\n")
    print("| server | req/s | p50 ms | p99 ms | shed (503) + errors | peak RSS of all workers MiB |\n|---|---|---|---|---|---|")
    for server in ("uvicorn", "granian"):
        load = results.get(server, {}).get(key)
        if load:
            print(f"| {server} | {load.rps:,.0f} | {load.p50_ms:.1f} | {load.p99_ms:.1f} | {load.errors} | {load.peak_rss_mb:.0f} |")


def report(results: dict[str, dict[str, Load]], hot: dict[str, float], args: argparse.Namespace) -> None:
    n = args.workers
    columns = list(CONTENDERS)
    print(f"\n## Cold transforms -> 400x300, req/s (p50/p99 ms); {n} processes each, wrk -c{COLD_CONNECTIONS}, best of {args.rounds} x {args.seconds:g}s\n")
    print(
        f"| master -> fmt | raw pyvips x{n} | raw Pillow x{n} | thumbor x{n} behind nginx | ipx x{n} behind nginx "
        f"| promptpix uvicorn x{n} | promptpix granian x{n} | uvicorn / best raw | granian / best raw | best app / thumbor | best app / ipx |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in MASTERS:
        for fmt in args.formats:
            key = f"{name} {fmt}"
            cells = {c: results.get(c, {}).get(key) for c in columns}
            best_raw = max((c.rps for c in (cells["pyvips"], cells["pillow"]) if c), default=0.0)
            apps = [cells["uvicorn"], cells["granian"]]
            ratios = [f"{c.rps / best_raw:.2f}" if c and best_raw else "-" for c in apps]
            app = max((c.rps for c in apps if c), default=0.0)
            ratios += [f"{app / peer.rps:.2f}" if peer and peer.rps and app else "-" for peer in (cells["thumbor"], cells["ipx"])]
            print(f"| {name} -> {fmt} | " + " | ".join(_cell(c) for c in cells.values()) + " | " + " | ".join(ratios) + " |")
    _server_table(results, "hits", f"Variant-cache hits (1024² -> 400x300 webp), wrk -c{HIT_CONNECTIONS}, {n} workers")
    _server_table(results, "rss64", f"Memory under load: 4000x3000 -> 400x300 webp, cold, wrk -c64, {n} workers")
    print("\n## In-process cost of a cache hit (ASGI app called directly, no server)\n")
    for label, micros in hot.items():
        print(f"- {label}: {micros:.0f} µs/request ({1e6 / micros:,.0f} req/s on one core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per cell")
    parser.add_argument("--workers", type=int, default=2, help="server workers and raw-library processes")
    parser.add_argument("--rounds", type=int, default=2, help="repeat every cell, keep the best (shared machines are noisy)")
    parser.add_argument("--skip", nargs="*", default=[], choices=[*CONTENDERS, "hot"])
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=FORMATS, help="output formats of the cold rows")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    masters = make_masters(WORK / "masters")
    data = WORK / "data"
    database_url = start_embedded_postgres(data)
    ids = asyncio.run(register(database_url, data / "objects", masters))
    env = _app_env(database_url, data)
    results = measure_all(env, masters, ids, args)
    hot: dict[str, float] = {}
    if "hot" not in args.skip:
        settings = Settings(database_url=database_url, data_dir=str(data), storage_url=f"file://{data / 'objects'}")
        hot = asyncio.run(hit_cost(settings, f"/i/{ids['1024x1024']}", "w=400&h=300&fm=webp", log=WORK / "hotpath.log"))
    report(results, hot, args)


if __name__ == "__main__":
    main()
