"""The open data dumps behind a real nginx (deploy/nginx.conf's proxy rules and its internal
``/_opendata/`` location): with PORTAL_ACCEL_REDIRECT_PREFIX set, the app answers the checks
and nginx sends the file. A Range gets 206 with the file's bytes and the app's ETag, If-Range
with that ETag is honoured, a matching If-None-Match is the app's 304, and nginx's log shows
the app's answer carried no body: the worker never held the transfer."""

from __future__ import annotations

import http.client
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import instances, seed
from portal.config import ROOT
from tests.conftest import own_postgres_database

DATABASE = "portal_dump_proxy"
SHIPPED_ALIAS = "/var/lib/portal/uploads/opendata/"
LOG_LINE = re.compile(r"^(\S+) (\d+) (\S+) (\d+)$")


class DumpProxy(instances.Proxy):
    """The shipped rules, the internal location aliased to this run's upload directory, and
    a log of what the app sent (``$upstream_response_length``) beside what nginx sent."""

    def __init__(self, tmp: Path, upstreams: list[int], uploads: Path) -> None:
        super().__init__(tmp, upstreams, uploads=uploads)
        self.dump_log = tmp / "dumps.log"

    def config(self) -> str:
        assert SHIPPED_ALIAS in instances.NGINX_CONF.read_text(), \
            "deploy/nginx.conf has no internal opendata location"
        conf = super().config()
        assert f"{self.uploads / 'opendata'}/" in conf
        log = ("    log_format dumps '$request_uri $status $upstream_response_length "
               "$body_bytes_sent';\n"
               f"    access_log {self.dump_log} dumps;\n")
        return conf.replace("    log_format bench", log + "    log_format bench", 1)

    def logged(self) -> list[tuple[str, int, str, int]]:
        lines = self.dump_log.read_text().splitlines() if self.dump_log.exists() else []
        return [(m[1], int(m[2]), m[3], int(m[4])) for line in lines
                if (m := LOG_LINE.match(line))]


@pytest.fixture
def database_url(tmp_path) -> Iterator[str]:
    if instances.nginx_binary() is None:
        pytest.skip("nginx is not installed (.ci/run installs it: apt-get install -y nginx)")
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'dumps.db'}"
        return
    with own_postgres_database(url, DATABASE) as own:
        yield own


def _get(port: int, path: str, headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1", **(headers or {})})
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def test_nginx_sends_the_dump_and_the_app_only_answers_the_checks(database_url,
                                                                  tmp_path) -> None:
    engine = seed.prepare(database_url, fresh=database_url.startswith("sqlite"))
    seed.seed(engine, 120, random.Random(7), townships=3)
    engine.dispose()
    uploads = tmp_path / "uploads"
    app = instances.Instance("a", database_url, tmp_path, {
        "PORTAL_UPLOAD_DIR": str(uploads), "PORTAL_PROXY_COUNT": "1", "PORTAL_WORKERS": "1",
        "PORTAL_ACCEL_REDIRECT_PREFIX": "/_opendata/"})
    built = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "opendata", "build",
         "--base-url", "https://127.0.0.1"], cwd=ROOT, env=app.env, capture_output=True,
        text=True)
    assert built.returncode == 0, built.stderr
    proxy = DumpProxy(tmp_path / "nginx", [app.port], uploads)
    app.start()
    try:
        proxy.start()
        for path, folder in (("/disclosures.csv", "opendata"),
                             ("/t/beishe/disclosures.csv", "opendata/beishe")):
            stored = (uploads / folder / "disclosures.csv").read_bytes()
            assert len(stored) > 200, "the seed disclosed nothing here"
            status, headers, body = _get(proxy.port, path)
            assert status == 200 and body == stored
            etag = headers["etag"]
            assert headers["content-disposition"] == "attachment; filename=disclosures.csv"
            assert headers["access-control-allow-origin"] == "*"
            assert 'rel="license"' in headers["link"]
            assert "x-accel-redirect" not in headers, "the internal name stays inside"

            status, headers, part = _get(proxy.port, path, {"Range": "bytes=10-99"})
            assert status == 206 and part == stored[10:100]
            assert headers["content-range"] == f"bytes 10-99/{len(stored)}"
            assert headers["etag"] == etag
            status, _, part = _get(proxy.port, path, {"Range": "bytes=0-4", "If-Range": etag})
            assert status == 206 and part == stored[:5]
            status, _, part = _get(proxy.port, path, {"Range": "bytes=0-4",
                                                      "If-Range": headers["last-modified"]})
            assert status == 206 and part == stored[:5], "If-Range by the build time"
            status, _, part = _get(proxy.port, path, {"Range": "bytes=0-4",
                                                      "If-Range": '"an-old-build"'})
            assert status == 200 and part == stored, "If-Range of another build: the whole"
            status, _, _ = _get(proxy.port, path, {"Range": f"bytes={len(stored) + 9}-"})
            assert status == 416
            status, _, body = _get(proxy.port, path, {"If-None-Match": etag})
            assert status == 304 and body == b""
        assert _get(proxy.port, "/_opendata/disclosures.csv")[0] == 404, "internal only"
        assert _get(proxy.port, "/open-data")[0] == 200
    finally:
        proxy.stop()
        app.stop()
    sent = [line for line in proxy.logged()
            if line[0].endswith("/disclosures.csv") and not line[0].startswith("/_opendata/")]
    assert sent and all(upstream == "0" for _, _, upstream, _ in sent), \
        f"the app sent a body: {sent}"
    assert any(status == 206 and nginx > 0 for _, status, _, nginx in sent)
    shutil.rmtree(uploads, ignore_errors=True)
