"""Real processes for tests and bench: `promptpix serve` and nginx, on free ports.

Everything runs on free loopback ports under a temporary directory; nginx runs
the committed production `nginx/nginx.conf` with only its addresses and paths
rewritten by `render_nginx_conf`.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
NGINX_DIR = REPO / "nginx"
PROMPTPIX = str(Path(sys.executable).with_name("promptpix"))


def find_program(name: str, *extra_paths: str) -> str | None:
    """`name` on PATH, else the first of `extra_paths` that is executable."""
    found = shutil.which(name)
    if found:
        return found
    return next((p for p in extra_paths if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Process:
    """A child process of ours: `stop` asks it to shut down (SIGTERM), `kill` does what a crashed machine does."""

    process: subprocess.Popen[Any]

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def kill(self) -> None:
        """SIGKILL: no shutdown, no unlock, no heartbeat any more."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


class Serve(_Process):
    """A `promptpix serve` process and what it printed."""

    def __init__(self, process: subprocess.Popen[str], port: int, lines: list[str], database_url: str | None) -> None:
        self.process = process
        self.port = port
        self.lines = lines
        self.database_url = database_url

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def generate_url(self) -> str:
        return next(line for line in self.lines if line.startswith("http") and "/g/" in line)

    @property
    def key_id(self) -> str:
        return self.generate_url.rsplit("key=", 1)[1]


def start_serve(
    *, data_dir: Path, database_url: str | None, workers: int = 1, port: int | None = None, env: dict[str, str] | None = None
) -> Serve:
    """Start `promptpix serve` (embedded PostgreSQL when `database_url` is None) and return once it
    printed its URLs (a worker answers by then)."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    environ = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "PROMPTPIX_DATA_DIR": str(data_dir),
        "PROMPTPIX_PORT": str(port),
        "PROMPTPIX_LOG_LEVEL": "WARNING",
        **({"PROMPTPIX_DATABASE_URL": database_url} if database_url else {}),
        **(env or {}),
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(data_dir / f"serve-{port}.log", "w") as stderr:
        process = subprocess.Popen(
            [PROMPTPIX, "serve", "--workers", str(workers)], env=environ, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if line.startswith("API docs"):
            lines.append(process.stdout.readline().strip())
            return Serve(process, port, lines, database_url)
    process.kill()
    raise AssertionError(f"serve did not print its URLs: {lines}; log: {(data_dir / f'serve-{port}.log').read_text()[-2000:]}")


def metric(base: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`, read from `/metrics`."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def render_nginx_conf(text: str, *, root: Path, port: int, gate_port: int, upstreams: list[int]) -> str:
    """The production config with local addresses and paths; every rewritten line must exist."""
    servers = "".join(f"server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n        " for p in upstreams).rstrip()
    replacements = [
        ("user nginx;", f"user {getpass.getuser()};"),
        ("pid /var/run/nginx.pid;", f"pid {root}/nginx.pid;"),
        ("/var/log/nginx/", f"{root}/"),
        ("/var/cache/nginx/", f"{root}/cache/"),
        ("listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;"),
        ("127.0.0.1:8081", f"127.0.0.1:{gate_port}"),
        ("server app:8080 max_fails=3 fail_timeout=10s;", servers),
    ]
    for old, new in replacements:
        assert old in text, f"nginx.conf no longer contains {old!r}: update render_nginx_conf"
        text = text.replace(old, new)
    return text


class Nginx:
    def __init__(self, process: subprocess.Popen[bytes], port: int, root: Path) -> None:
        self.process = process
        self.port = port
        self.root = root

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


PURGE_MODULE = Path("/usr/lib/nginx/modules/ngx_http_cache_purge_module.so")
"""nginx.conf loads it (Debian's libnginx-mod-http-cache-purge, scripts/test-deps.sh)."""


def find_nginx() -> str | None:
    """nginx with the cache-purge module the committed config loads; None when either is missing."""
    return find_program("nginx", "/usr/sbin/nginx") if PURGE_MODULE.exists() else None


def start_nginx(binary: str, root: Path, upstreams: list[int]) -> Nginx:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cache").mkdir(exist_ok=True)
    port, gate = free_port(), free_port()
    for include in NGINX_DIR.glob("*.conf"):
        if include.name != "nginx.conf":
            shutil.copy(include, root / include.name)
    conf = root / "nginx.conf"
    conf.write_text(render_nginx_conf((NGINX_DIR / "nginx.conf").read_text(), root=root, port=port, gate_port=gate, upstreams=upstreams))
    check = subprocess.run([binary, "-t", "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [binary, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return Nginx(process, port, root)
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"nginx did not start: {(root / 'error.log').read_text() if (root / 'error.log').exists() else ''}")


class Worker(_Process):
    """A `promptpix worker` process."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log


def start_worker(*, data_dir: Path, database_url: str, env: dict[str, str] | None = None, name: str = "worker") -> Worker:
    """Start `promptpix worker` on the same data dir and database as a `serve`; it registers within a second or two."""
    data_dir.mkdir(parents=True, exist_ok=True)
    environ = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "PROMPTPIX_DATA_DIR": str(data_dir),
        "PROMPTPIX_DATABASE_URL": database_url,
        "PROMPTPIX_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = data_dir / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([PROMPTPIX, "worker", "--name", name], env=environ, stdout=out, stderr=subprocess.STDOUT)
    return Worker(process, log)
