"""Start the HTTP servers under test, drive them with wrk, and watch their memory."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import msgspec

from harness.processes import find_nginx, free_port

__all__ = ["Load", "balanced", "install_ipx", "install_thumbor", "serve", "tree_rss", "wrk"]

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "wrk.lua"
_RUNS = itertools.count(1)
"""Salt of each unique-key wrk run, so no run repeats another's cache keys."""


class Load(msgspec.Struct, frozen=True):
    rps: float
    """Successful responses per second: shed (503) and failed requests do not count."""
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    """Responses >= 400 (for the app: 503 load shedding) plus socket errors."""
    peak_rss_mb: float = 0.0


def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f}s")


@contextmanager
def serve(command: list[str], *, env: dict[str, str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in its own process group until the block ends, then stop the whole group."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_http(ready_url)
            yield process
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo.extend(children.get(current, []))
    return total


def wrk(base: str, path: str, *, connections: int, seconds: float, unique: bool = False, watch: int | None = None) -> Load:
    """wrk with 2 threads (one per core it shares with the server); peak RSS of `watch`'s process tree."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(LUA), base, "--", path]
    if unique:
        command += ["unique", str(next(_RUNS))]
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while watch is not None and not stop.is_set():
            peak[0] = max(peak[0], tree_rss(watch))
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        stop.set()
        sampler.join()
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    requests, duration_us, p50_us, p99_us, status_errors, socket_errors, hits = (int(v) for v in line.split()[1:])
    if unique and hits:
        raise RuntimeError(f"{hits} of {requests} 'cold' requests to {path} were cache hits: the unique keys collided")
    return Load(
        rps=(requests - status_errors) / (duration_us / 1e6),
        p50_ms=p50_us / 1000,
        p99_ms=p99_us / 1000,
        requests=requests,
        errors=status_errors + socket_errors,
        peak_rss_mb=peak[0] / 2**20,
    )


def install_thumbor(work: Path) -> Path:
    """thumbor in its own virtualenv under bench/.work (from PyPI), once."""
    venv = work / "thumbor-venv"
    binary = venv / "bin" / "thumbor"
    if not binary.exists():
        print("installing thumbor into", venv, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "thumbor"], check=True)
    return binary


def install_ipx(work: Path) -> Path:
    """ipx 3 (sharp, with its prebuilt libvips) from the npm registry under bench/.work, once; needs node and npm."""
    prefix = work / "ipx-node"
    binary = prefix / "node_modules" / ".bin" / "ipx"
    if not binary.exists():
        if shutil.which("npm") is None:
            raise SystemExit("bench: ipx needs node and npm (Debian: apt install nodejs npm), or pass --skip ipx")
        print("installing ipx into", prefix, file=sys.stderr)
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error", "ipx@3"], check=True)
    return binary


_NGINX_CONF = """
worker_processes 1;
error_log {work}/error.log warn;
pid {work}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    upstream peers {{
        {servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://peers;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


@contextmanager
def balanced(name: str, commands: list[list[str]], ports: list[int], *, env: dict[str, str], ready_path: str, work: Path) -> Iterator[tuple[str, int]]:
    """Each command a single-process server on its own port, behind nginx round-robin: (base URL, nginx pid).

    A peer started as N processes on one shared socket lets the kernel hand
    wrk's 8 keep-alive connections to one process more than the other (seen:
    thumbor at 32 or 66 req/s in two rounds of the same cell); a balancer
    spreads requests evenly, so the peer is measured at its best.
    """
    nginx = find_nginx()
    if nginx is None:
        raise SystemExit("bench: the peers' balancer needs nginx (scripts/test-deps.sh installs it)")
    folder = work / f"{name}-nginx"
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    servers = "\n        ".join(f"server 127.0.0.1:{p};" for p in ports)
    (folder / "nginx.conf").write_text(_NGINX_CONF.format(work=folder, servers=servers, port=port))
    with ExitStack() as stack:
        for i, (command, peer) in enumerate(zip(commands, ports, strict=True)):
            stack.enter_context(serve(command, env=env, ready_url=f"http://127.0.0.1:{peer}{ready_path}", log=work / f"{name}-{i}.log"))
        base = f"http://127.0.0.1:{port}"
        balancer = stack.enter_context(
            serve([nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"], env={}, ready_url=f"{base}{ready_path}", log=folder / "stdout.log")
        )
        yield base, balancer.pid
