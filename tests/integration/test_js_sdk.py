"""The TypeScript SDK (clients/js, `@promptpix/client`): types compile, `npm pack` makes a working package,
and its `node --test` suite passes against a live `promptpix serve`, using the packed package.

npm installs the SDK's only dev dependency (TypeScript, pinned by package-lock.json) into
clients/js/node_modules, which git ignores. Every image the node tests fetched is decoded here too.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.fake_gemini import FakeGemini, Reply
from harness.processes import REPO, Serve, Worker, find_program
from tests.conftest import require
from tests.images import decode
from tests.tenancy import Tenant, make_tenant

JS = REPO / "clients" / "js"


@pytest.fixture(scope="module")
def clients_js() -> Iterator[None]:
    """`npm ci` and `npm pack` rewrite clients/js/node_modules and dist/ in place: one xdist worker at a time."""
    with open(Path(tempfile.gettempdir()) / "promptpix-clients-js.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="module")
def npm(clients_js: None) -> str:
    node, npm = find_program("node"), find_program("npm")
    require(node is not None and npm is not None, "node and npm (apt install nodejs npm; scripts/test-deps.sh)")
    assert npm is not None
    run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS)
    return npm


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture
async def tenant(live: Serve, database_url: str) -> Tenant:
    return await make_tenant(database_url, credits=10)


def packed(npm: str, into: Path) -> Path:
    """`npm pack` (its prepack builds dist/), unpacked where `import` would find it; the path of its entry module."""
    into.mkdir(parents=True)
    name = json.loads(run([npm, "pack", "--json", "--pack-destination", str(into)], cwd=JS))[0]["filename"]
    root = into / "node_modules" / "@promptpix" / "client"
    with tarfile.open(into / name) as tar:
        tar.extractall(root.parent, filter="data")
    (root.parent / "package").rename(root)
    manifest = json.loads((root / "package.json").read_text())
    assert "dependencies" not in manifest  # no runtime dependencies
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {"package.json", "dist/index.js", "dist/index.d.ts", "dist/sign.js", "dist/urls.d.ts"} <= files
    assert not any(f.startswith(("src/", "test/", "node_modules/")) for f in files)
    return root / manifest["exports"]["."]["import"]


def test_types_compile_and_misuse_does_not(npm: str) -> None:
    run([npm, "run", "typecheck", "--silent"], cwd=JS)  # test/types.ts holds @ts-expect-error lines: they must stay errors


def test_the_packed_package_passes_its_tests_against_a_live_server(
    npm: str, live: Serve, live_worker: Callable[..., Worker], tenant: Tenant, tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    # The jobs test needs a job that stays queued: one worker running one job at a time, whose first job's first
    # draw (the second draw of the run, after `before`'s) takes long enough to cancel the job queued behind it.
    live_worker(PROMPTPIX_WORKER_CONCURRENCY="1")
    fake_gemini.script("synthesize", Reply(), Reply.delayed(2))
    entry = packed(npm, tmp_path / "pack")
    out = tmp_path / "images"
    env = {
        "PATH": str(Path(npm).parent) + ":/usr/bin:/bin",
        "PROMPTPIX_URL": live.base,
        "PROMPTPIX_API_KEY": tenant.secret_key,
        "PROMPTPIX_PROJECT": tenant.project.slug,
        "PROMPTPIX_KEY_ID": tenant.publishable_id,
        "PROMPTPIX_CLIENT_MODULE": str(entry),
        "PROMPTPIX_OUT": str(out),
    }
    report = run(["node", "--test", "--test-reporter=spec", "test/"], cwd=JS, env=env)
    assert "fail 0" in report and "pass 6" in report, report
    fetched = sorted(out.iterdir())
    assert len(fetched) >= 12
    for path in fetched:
        image, fmt = decode(path.read_bytes())
        size, ext = path.name.split("-", 1)[1].split(".")
        assert (f"{image.width}x{image.height}", fmt) == (size, ext), path.name
