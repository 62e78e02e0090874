"""The short form of bench/instances.py (issue 18): two gunicorn instances behind nginx share
PostgreSQL, Redis and the upload store; a resident's and a staff member's journeys hold with
every step on the other instance, and load with one instance SIGKILLed loses nothing
acknowledged, answers no 5xx, and keeps being answered by the other."""

from __future__ import annotations

import os
import random
import socket
from argparse import Namespace

import pytest

from bench import instances, seed
from tests.conftest import own_postgres_database

DATABASE = "portal_two_instances"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def database_url():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("two instances share PostgreSQL; SQLite is one machine's file "
                    "(set TEST_DATABASE_URL)")
    if instances.nginx_binary() is None:
        pytest.skip("nginx is not installed (.ci/run installs it: apt-get install -y nginx)")
    if not _redis_answers():
        pytest.skip("no Redis on 127.0.0.1:6379 to share the rate limits")
    with own_postgres_database(url, DATABASE) as own:
        yield own


def test_two_instances_behind_nginx_keep_every_promise(database_url, tmp_path) -> None:
    engine = seed.prepare(database_url, fresh=False)
    seed.seed(engine, 40, random.Random(7))
    engine.dispose()
    result = instances.run(Namespace(
        database_url=database_url, seconds=6, clients=4, prepare=False, figure_lag=False,
        no_restart=False, tmp=str(tmp_path / "run")))
    load = result["load"]
    print(instances.summary(load))
    failed = [f"{c['name']}: {c['detail']}" for c in result["journeys"] if not c["ok"]]
    assert not failed, failed
    assert load["acknowledged"] > 0
    assert load["found"] == load["acknowledged"], "an acknowledged report was lost"
    assert load["duplicates"] == 0
    assert load["five_xx"] == 0 and load["proxy_5xx"] == 0, "a request was answered 5xx"
    assert load["crossed"] > 0, "no request crossed instances"
    assert load["by_instance"].get("b", 0) > 0, "the surviving instance answered nothing"
    assert instances.kept_promises(load), load
