"""A hung database answers the Chinese 503 page before gunicorn's worker timeout: a statement
stuck behind a lock or running too long is cancelled by PostgreSQL, a connection that never
completes gives up, the request is not run a second time when that could outlast the worker,
and under gunicorn no worker is killed. The hang is a held lock or a silent socket; the shared
server is never stopped."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from bench.http import Server
from portal import config, create_app
from portal.config import ROOT, ConfigError, load_settings
from portal.db import get_session, make_engine
from tests.conftest import TEST_SECRET, separate_database

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="statement and lock timeouts are PostgreSQL's (SQLite waits "
    "PRAGMA busy_timeout, tests/test_config.py); set TEST_DATABASE_URL to a PostgreSQL database")
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


def test_database_timeouts_must_be_shorter_than_the_worker_timeout() -> None:
    env = {"PORTAL_WORKER_TIMEOUT": "10", "PORTAL_DATABASE_STATEMENT_TIMEOUT_MS": "8000"}
    with pytest.raises(ConfigError, match="PORTAL_WORKER_TIMEOUT"):
        config.worker_settings(env)  # gunicorn's config file refuses to start
    with pytest.raises(ConfigError, match="PORTAL_WORKER_TIMEOUT"):
        load_settings({"ENV": "testing", "SECRET_KEY": TEST_SECRET}, environ=env)
    with pytest.raises(ConfigError, match="PORTAL_DATABASE_STATEMENT_TIMEOUT_MS"):
        config.worker_settings({"PORTAL_DATABASE_STATEMENT_TIMEOUT_MS": "0"})
    assert config.worker_settings({})["WORKER_TIMEOUT"] == 30


def test_gunicorn_takes_its_timeouts_from_the_settings(tmp_path) -> None:
    # gunicorn loads the app to print its settings: a testing one, on a file of its own.
    env = {**os.environ, "PORTAL_ENV": "testing", "PORTAL_SECRET_KEY": TEST_SECRET,
           "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'conf.db'}",
           "PORTAL_WORKERS": "3", "PORTAL_WORKER_TIMEOUT": "18",
           "PORTAL_GRACEFUL_TIMEOUT": "9", "PORTAL_DATABASE_CONNECT_RETRY_SECONDS": "2"}
    out = subprocess.run([str(Path(sys.executable).with_name("gunicorn")), "--config",
                          str(GUNICORN_CONF), "--print-config"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    printed = {key.strip(): value.strip() for key, _, value in
               (line.partition(" = ") for line in out.splitlines()) if value}
    assert printed["workers"] == "3"
    assert printed["timeout"] == "18"
    assert printed["graceful_timeout"] == "9"
    bad = {**env, "PORTAL_WORKER_TIMEOUT": "5"}
    refused = subprocess.run([str(Path(sys.executable).with_name("gunicorn")), "--config",
                              str(GUNICORN_CONF), "--check-config"], cwd=ROOT, env=bad,
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "PORTAL_WORKER_TIMEOUT" in refused.stderr


@contextlib.contextmanager
def held_lock(url: str, seconds: float) -> Iterator[None]:
    """Another connection holds ACCESS EXCLUSIVE on tips (every read of tips waits); the server
    ends that session after ``seconds`` idle, so even code with no timeout gets unstuck."""
    engine = make_engine(url)
    conn = engine.connect()
    conn.execute(text(f"SET idle_in_transaction_session_timeout = {int(seconds * 1000)}"))
    conn.execute(text("LOCK TABLE tips IN ACCESS EXCLUSIVE MODE"))
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            conn.rollback()
        with contextlib.suppress(Exception):
            conn.close()
        engine.dispose()


def _app(url: str, tmp_path: Path, **overrides: object) -> Flask:
    return create_app({"ENV": "testing", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": url,
                       "UPLOAD_DIR": str(tmp_path / "uploads"), "PUBLIC_CACHE_SECONDS": 0,
                       **overrides})


def _assert_503_page(response) -> None:
    assert response.status_code == 503
    assert response.headers.get("Retry-After") == "5"
    assert "服务暂不可用" in response.text and "Traceback" not in response.text


@postgres_only
def test_a_page_behind_a_held_lock_answers_503_within_the_lock_timeout(tmp_path) -> None:
    with separate_database(tmp_path, "hang_lock") as seeded:
        url = seeded.config["DATABASE_URL"]
        app = _app(url, tmp_path, DATABASE_LOCK_TIMEOUT_MS=1500,
                   DATABASE_STATEMENT_TIMEOUT_MS=2000)
        client = app.test_client()
        assert client.get("/").status_code == 200
        with held_lock(url, seconds=6):
            started = time.monotonic()
            response = client.get("/")
            elapsed = time.monotonic() - started
        _assert_503_page(response)
        # Once, not twice: a second run would wait for the same lock as long again.
        assert 1.4 < elapsed < 2.5, elapsed
        assert client.get("/").status_code == 200  # the pooled connection still serves


@postgres_only
def test_a_statement_past_the_statement_timeout_answers_503_and_is_not_run_again(
        tmp_path) -> None:
    with separate_database(tmp_path, "hang_statement") as seeded:
        app = _app(seeded.config["DATABASE_URL"], tmp_path, DATABASE_LOCK_TIMEOUT_MS=1000,
                   DATABASE_STATEMENT_TIMEOUT_MS=1000)
        runs: list[float] = []

        @app.get("/slow")
        def slow():
            runs.append(time.monotonic())
            get_session().execute(text("SELECT pg_sleep(4)"))
            return "done"

        started = time.monotonic()
        response = app.test_client().get("/slow")
        elapsed = time.monotonic() - started
        _assert_503_page(response)
        assert len(runs) == 1
        assert elapsed < 2.0, elapsed


def test_a_database_that_accepts_but_never_answers_gives_up_before_the_worker(
        tmp_path) -> None:
    """A server that completes the TCP handshake and then says nothing (a hung host or a
    proxy that stopped forwarding): the connect timeout, not the worker timeout, ends it."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # never accepted: the kernel completes handshakes, nobody answers
    port = silent.getsockname()[1]
    unstick = threading.Timer(15, silent.close)  # old code would otherwise wait for ever
    unstick.start()
    try:
        app = _app(f"postgresql://portal@127.0.0.1:{port}/portal", tmp_path,
                   DATABASE_CONNECT_TIMEOUT=2, DATABASE_CONNECT_RETRY_SECONDS=0,
                   DATABASE_STATEMENT_TIMEOUT_MS=2000, DATABASE_LOCK_TIMEOUT_MS=2000,
                   WORKER_TIMEOUT=8)
        started = time.monotonic()
        response = app.test_client().get("/")
        elapsed = time.monotonic() - started
    finally:
        unstick.cancel()
        silent.close()
    _assert_503_page(response)
    assert elapsed < 8, f"{elapsed:.1f} s: gunicorn would have killed the worker"


def _get(port: int, path: str) -> tuple[int | str, dict[str, str], float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=40)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, dict(response.getheaders()), time.monotonic() - started
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__, {}, time.monotonic() - started
    finally:
        conn.close()


def _worker_pids(server: Server) -> set[int]:
    assert server.process is not None
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.process.pid)],
                         capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


@postgres_only
def test_under_gunicorn_concurrent_requests_get_503s_and_no_worker_is_killed(
        tmp_path) -> None:
    with separate_database(tmp_path, "hang_gunicorn") as seeded:
        url = seeded.config["DATABASE_URL"]
        server = Server(url, tmp_path)
        server.env.update({
            "PORTAL_WORKERS": "2", "PORTAL_WORKER_TIMEOUT": "6",
            "PORTAL_DATABASE_STATEMENT_TIMEOUT_MS": "2000",
            "PORTAL_DATABASE_LOCK_TIMEOUT_MS": "2000",
            "PORTAL_DATABASE_CONNECT_TIMEOUT": "2",
            "PORTAL_DATABASE_CONNECT_RETRY_SECONDS": "1",
            "PORTAL_PUBLIC_CACHE_SECONDS": "0",
        })
        start_gunicorn(server)
        try:
            assert _get(server.port, "/")[0] == 200  # both workers may serve it
            before = _worker_pids(server)
            results: list[tuple[int | str, dict[str, str], float]] = []
            with held_lock(url, seconds=20):
                threads = [threading.Thread(target=lambda: results.append(
                    _get(server.port, "/"))) for _ in range(6)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            after = _worker_pids(server)
        finally:
            server.stop()
        log = server.log_path.read_text()
    statuses = sorted(str(status) for status, _headers, _elapsed in results)
    print("statuses", statuses, "seconds", sorted(round(e, 1) for *_, e in results))
    assert statuses == ["503"] * 6, statuses
    assert all(headers.get("Retry-After") == "5" for _status, headers, _ in results)
    assert "WORKER TIMEOUT" not in log
    assert before == after, "a worker was killed and replaced"


def start_gunicorn(server: Server) -> None:
    """gunicorn with the shipped config file, on the server's free port."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = server.log_path.open("ab")
    server.process = subprocess.Popen(
        [str(gunicorn), "--config", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{server.port}"],
        cwd=ROOT, env=server.env, stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {server.log_path.read_text()[-2000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if _get(server.port, "/livez")[0] == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")
