"""The short form of bench/slow_clients.py (issue 19): behind nginx (deploy/nginx.conf's proxy
rules), phones uploading photos slowly and slow downloads of the public dump never hold one of
the two sync workers: every upload gets its receipt and is stored, gunicorn kills no worker at
its (short) timeout, and /livez stays fast meanwhile."""

from __future__ import annotations

import os
import random

import pytest

from bench import instances, seed, slow_clients
from tests.conftest import own_postgres_database

DATABASE = "portal_slow_clients"


@pytest.fixture
def database_url(tmp_path):
    if instances.nginx_binary() is None:
        pytest.skip("nginx is not installed (.ci/run installs it: apt-get install -y nginx)")
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'slow.db'}"
        return
    with own_postgres_database(url, DATABASE) as own:
        yield own


def test_slow_clients_behind_nginx_hold_no_worker(database_url, tmp_path) -> None:
    engine = seed.prepare(database_url, fresh=database_url.startswith("sqlite"))
    seed.seed(engine, 150, random.Random(7))
    engine.dispose()
    settings = slow_clients.Settings(uploaders=8, downloaders=4, photo_bytes=150 * 1024,
                                     upload_rate=30 * 1024, download_rate=4 * 1024,
                                     workers=2, worker_timeout=6)
    outcome = slow_clients.run_once(database_url, tmp_path / "run", settings,
                                    behind_nginx=True)
    figures = outcome.figures()
    assert figures["sent"] == 8
    assert figures["acknowledged"] == 8, figures["upload_statuses"]
    assert figures["found"] == 8, "an acknowledged report is not in the database"
    assert figures["worker_timeouts"] == 0, "gunicorn killed a worker held by a slow client"
    assert all(s.startswith("200") for s in figures["download_statuses"]), figures
    assert figures["livez"] > 50
    assert not slow_clients.kept_promises(figures, livez_p99_ms=200), figures
