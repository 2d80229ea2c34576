"""Schemathesis against `/schema/openapi.json` on a real `promptpix serve`: no 5xx, nothing the schema does not say.

The run is deterministic (fixed seed, deterministic generation) and small
(a few examples per operation), and covers every `/v1` operation with a real
secret key, so the fuzzer reaches the handlers rather than stopping at 401.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from harness.processes import Serve, start_serve
from tests.tenancy import make_tenant

ST = str(Path(sys.executable).with_name("st"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Serve]:
    running = start_serve(data_dir=tmp_path / "data", database_url=database_url, env={"PROMPTPIX_KEY_MISSES_PER_MINUTE": "1000"})
    try:
        yield running
    finally:
        running.stop()


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(server: Serve, database_url: str, tmp_path: Path) -> None:
    tenant = await make_tenant(database_url, slug="fuzz", credits=100_000, operator=True)  # every /v1 operation, the operator's too
    command = [
        ST, "run", f"{server.base}/schema/openapi.json",
        "--checks", CHECKS,
        "--include-path-regex", "^/v1/",
        "--header", f"Authorization: Bearer {tenant.secret_key}",
        "--max-examples", "6",
        "--generation-deterministic",
        # One thread: CPython 3.11 (3.11.7 here) can fail `ast.parse` run in two threads at once with a spurious
        # "AST constructor recursion depth mismatch" (gh-106905), and hypothesis parses its lambdas' source.
        "--workers", "1",
        "--request-timeout", "30",
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)  # its cache stays out of the repo
    output = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, output

    [junit] = (tmp_path / "report").glob("junit-*.xml")
    suites = ET.parse(junit).getroot()
    assert (suites.get("failures"), suites.get("errors")) == ("0", "0"), output
    tested = {case.get("name") for case in suites.iter("testcase")}
    with urllib.request.urlopen(f"{server.base}/schema/openapi.json", timeout=30) as response:
        paths = json.load(response)["paths"]
    operations = {f"{method.upper()} {path}" for path, item in paths.items() if path.startswith("/v1/") for method in item}
    assert operations <= tested, operations - tested
    conn = await asyncpg.connect(database_url)
    try:  # the fuzzer got past authentication and validation into the handlers
        assert await conn.fetchval("SELECT count(*) FROM assets WHERE source = 'generated'") > 0
    finally:
        await conn.close()
