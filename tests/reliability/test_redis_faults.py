"""Issue 17: the rate-limit storage (Redis) down, or dying mid-request, and the upload store
unwritable. Reporting, tracking and sign-in never depend on Redis; a report that committed is
answered with its receipt; /healthz names what is down."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.enums import Role
from portal.domain.models import Tip
from portal.extensions import limiter
from portal.public import report
from portal.storage import DirectoryStorage
from tests.admin.conftest import login, make_user
from tests.conftest import csrf_token
from tests.public.test_report import RECEIPT_RE, _form, _post


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def limiter_storage(app: Flask, uri: str) -> Iterator[None]:
    """The app's limiter on ``uri`` for the block, then back on the suite's memory storage
    (the extension is one object for every app in the process)."""
    saved = app.config["RATELIMIT_STORAGE_URI"]
    app.config["RATELIMIT_STORAGE_URI"] = uri
    limiter.init_app(app)
    try:
        yield
    finally:
        app.config["RATELIMIT_STORAGE_URI"] = saved
        limiter.init_app(app)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A private redis-server, no persistence; killed by the test or at teardown."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=0.5)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield proc, port
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _tips(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Tip)) or 0)


def _warned(caplog: pytest.LogCaptureFixture) -> bool:
    return any(r.levelno == logging.WARNING and "storage unreachable" in r.getMessage().lower()
               for r in caplog.records)


def test_with_the_limit_storage_unreachable_every_door_still_works(
    app: Flask, client: FlaskClient, db_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    make_user(db_session, "mod1", Role.MODERATOR)
    caplog.set_level(logging.WARNING)
    with limiter_storage(app, f"redis://127.0.0.1:{_free_port()}/0"):  # nothing listens there
        response = _post(client, _form(client, db_session))
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        match = RECEIPT_RE.search(response.get_data(as_text=True))
        assert match, "the report is answered with its receipt"
        assert _tips(db_session) == 1

        found = client.post("/track", data={"csrf_token": csrf_token(client, "/track"),
                                            "code": match.group(1)})
        assert found.status_code == 303

        signed_in = login(client, "mod1")
        assert signed_in.status_code == 302, signed_in.get_data(as_text=True)[:500]
        assert "/admin/login" not in signed_in.headers["Location"]

        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json["status"] == "degraded"
        assert health.json["database"] == "ok"
        assert health.json["down"] == ["ratelimit_storage"]
        assert health.json["ratelimit_storage"] == "unreachable"
        assert client.get("/livez").status_code == 200

    assert _warned(caplog), "falling back to memory is logged as a warning"


def test_limits_still_hold_in_memory_while_the_storage_is_down(
    app: Flask, client: FlaskClient, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "REPORT_RATE_LIMIT", "1 per hour")
    with limiter_storage(app, f"redis://127.0.0.1:{_free_port()}/0"):
        assert _post(client, _form(client, db_session)).status_code == 200
        assert _post(client, _form(client, db_session)).status_code == 429
    assert _tips(db_session) == 1


def test_redis_dying_after_the_commit_still_answers_with_the_receipt(
    app: Flask, client: FlaskClient, db_session: Session, redis_server,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    proc, port = redis_server
    caplog.set_level(logging.WARNING)
    confirm = report._confirmation
    used_redis: list[bool] = []

    def kill_then_confirm(result):
        # The tip is committed; the limiter's deferred deduction has not run yet.
        probe = redis.Redis(port=port, socket_timeout=0.5)
        used_redis.append(bool(probe.keys("LIMITS*")))
        probe.close()
        proc.kill()
        proc.wait(timeout=10)
        return confirm(result)

    with limiter_storage(app, f"redis://127.0.0.1:{port}/0"):
        form = _form(client, db_session)
        monkeypatch.setattr(report, "_confirmation", kill_then_confirm)
        response = _post(client, form)
        monkeypatch.setattr(report, "_confirmation", confirm)

        assert used_redis == [True], "the limits were counted in Redis until it died"
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        code = RECEIPT_RE.search(response.get_data(as_text=True)).group(1)
        assert _tips(db_session) == 1

        again = _post(client, form)
        assert again.status_code == 200
        assert RECEIPT_RE.search(again.get_data(as_text=True)).group(1) == code
        assert "重复提交已自动忽略" in again.get_data(as_text=True)
        assert _tips(db_session) == 1, "the resubmit stored nothing"

        assert client.get("/healthz").json["down"] == ["ratelimit_storage"]
    assert _warned(caplog)


def test_healthz_is_ok_with_redis_up(app: Flask, client: FlaskClient, redis_server) -> None:
    _proc, port = redis_server
    with limiter_storage(app, f"redis://127.0.0.1:{port}/0"):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_stays_quick_when_redis_does_not_answer(app: Flask, client: FlaskClient) -> None:
    # Accepts connections and never replies, like a hung server or a dropped route.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with limiter_storage(app, f"redis://127.0.0.1:{port}/0"):
            started = time.monotonic()
            response = client.get("/healthz")
            elapsed = time.monotonic() - started
    assert response.json["down"] == ["ratelimit_storage"]
    assert elapsed < 2 * app.config["RATELIMIT_STORAGE_TIMEOUT"] + 0.5


@pytest.mark.parametrize("breakage, problem", [
    ("removed", "missing"),
    ("read_only", "not writable"),
    ("full", "low on space"),
])
def test_healthz_is_degraded_when_photos_cannot_be_stored(
    app: Flask, client: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    breakage: str, problem: str,
) -> None:
    uploads = tmp_path / "uploads"
    monkeypatch.setitem(app.extensions, "portal.storage", DirectoryStorage(uploads))
    if breakage == "removed":
        uploads.rmdir()
    elif breakage == "read_only":
        if os.geteuid() == 0:
            pytest.skip("root may write to a read-only directory")
        uploads.chmod(0o500)
    else:
        monkeypatch.setitem(app.config, "UPLOAD_MIN_FREE_MB", 1 << 40)
    try:
        response = client.get("/healthz")
    finally:
        if uploads.exists():
            uploads.chmod(0o700)
    assert response.status_code == 200
    assert response.json["status"] == "degraded"
    assert response.json["down"] == ["uploads"]
    assert response.json["uploads"] == problem
    assert client.get("/livez").status_code == 200


def test_healthz_still_answers_503_when_the_database_is_down_and_names_the_rest(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sqlalchemy.exc import OperationalError

    def broken(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("gone"))

    monkeypatch.setattr(Session, "execute", broken)
    monkeypatch.setitem(app.extensions, "portal.storage", DirectoryStorage(tmp_path / "up"))
    (tmp_path / "up").rmdir()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "error"
    assert response.json["down"] == ["database", "uploads"]
