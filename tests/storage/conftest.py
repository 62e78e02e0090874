"""An S3-compatible server for the storage tests: moto's standalone server (``moto_server``,
from the dev extras), started here on a free port of this machine, so boto3 talks the real
protocol over HTTP to it. Each test gets a prefix of its own in one bucket."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from portal.storage import S3Settings, S3Storage

BUCKET = "portal-test"
CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing-secret"}
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _moto_server() -> str | None:
    beside = Path(sys.executable).with_name("moto_server")
    return str(beside) if beside.exists() else shutil.which("moto_server")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = _moto_server()
    if server is None:
        pytest.skip("moto_server not found: install the dev extras (pip install -e '.[dev]', "
                    "which brings moto[server]) to run the S3 storage tests")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        raw_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def raw_client(endpoint: str) -> Any:
    """A plain boto3 client, to look at the bucket behind the store's back."""
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=CREDENTIALS["access_key_id"],
                        aws_secret_access_key=CREDENTIALS["secret_access_key"])


def s3_store(endpoint: str, prefix: str, **options: Any) -> S3Storage:
    return S3Storage(S3Settings(bucket=BUCKET, prefix=prefix, endpoint_url=endpoint,
                                region=REGION, **CREDENTIALS, **options))


@pytest.fixture
def s3_prefix() -> str:
    return f"t-{uuid.uuid4().hex[:12]}/"


@pytest.fixture
def bucket_store(s3_endpoint: str, s3_prefix: str) -> S3Storage:
    return s3_store(s3_endpoint, s3_prefix)
