"""Fixtures: one migrated database per run, one rolled-back transaction per test.

``TEST_DATABASE_URL`` selects PostgreSQL; without it a SQLite file in a temp dir is used.
The schema is always built with ``alembic upgrade head``, never ``create_all``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from portal import create_app, migrate
from portal.config import ROOT
from portal.db import database
from portal.domain.administration import jurisdiction
from portal.domain.disclosure import search
from portal.domain.supervision import tallies
from portal.extensions import limiter
from portal.web.caching import figure_cache, forget_versions, page_cache

DEMO_JURISDICTION = ROOT / "portal" / "data" / "demo_jurisdiction.toml"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
TEST_FIELD_KEY = "pVaw5pRvMBnpZ7z1m0kq4l6n3mR9Q2yF0nXo8u5bT1c="


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``make test`` runs two workers) each worker gets a PostgreSQL
    database of its own beside ``TEST_DATABASE_URL``'s, so one worker's schema reset, scratch
    schemas and fixed-name databases never meet another's. SQLite runs are per worker
    already (a temporary file each)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("TEST_DATABASE_URL")
    if not worker or not url or re.search(r"_gw\d+$", url):
        return
    base, _, name = url.rpartition("/")
    own = f"{name}_{worker}"
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {own} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {own}"))
    admin.dispose()
    os.environ["TEST_DATABASE_URL"] = f"{base}/{own}"


def pytest_report_header() -> str:
    return f"database: {os.environ.get('TEST_DATABASE_URL') or 'sqlite (temporary file)'}"


@contextmanager
def own_postgres_database(url: str, name: str) -> Iterator[str]:
    """A PostgreSQL database of its own beside the one ``url`` names (created fresh,
    dropped afterwards): for tests that run servers, never the suite's own database. The
    admin engine pre-pings, as a test may restart PostgreSQL under it."""
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    base, _, _name = url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def reset_postgres_schema(url: str, schema: str = "public") -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        reset_postgres_schema(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    app = create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": database_url,
            "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
            # Never the developer's instance/ checkpoints: the suite's chain is its own.
            "AUDIT_CHECKPOINT_FILE": str(tmp_path_factory.mktemp("audit") / "checkpoints.log"),
            "FIELD_KEYS": TEST_FIELD_KEY,
            "RECEIPT_KEY": "test-receipt-key-long-enough-0123456789abcdef",
            # Tests change data and look at once; test_page_cache.py covers the lag.
            "PUBLIC_CACHE_SECONDS": 0,
        }
    )
    with app.app_context():
        session = database(app).sessionmaker()
        jurisdiction.load_file(session, DEMO_JURISDICTION)
        session.commit()
        session.close()
    return app


@pytest.fixture(autouse=True)
def db_session(request: pytest.FixtureRequest) -> Iterator[Session | None]:
    """Every test that touches the app runs in a transaction that is rolled back."""
    if "app" not in request.fixturenames:
        yield None
        return
    app: Flask = request.getfixturevalue("app")
    db = database(app)
    connection = db.engine.connect()
    outer = connection.begin()
    db.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    limiter.reset()
    # Rolled-back tests reuse ids, so a page cached under one test's data version could be
    # served to the next; in production versions only grow.
    page_cache.clear()
    figure_cache.clear()
    forget_versions()
    search.forget_sizes()
    # The test's own session works directly in the outer transaction (no savepoint of its
    # own), so the savepoints of the request sessions never interleave with it.
    session = Session(bind=connection, join_transaction_mode="rollback_only",
                      expire_on_commit=False)
    try:
        yield session
        # Whatever the test did, the running counts still equal a recount.
        assert tallies.differences(connection) == {}, "case tallies drifted from the cases"
    finally:
        session.close()
        outer.rollback()
        connection.close()
        db.sessionmaker.configure(bind=db.engine, join_transaction_mode="conservative_savepoint")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    """The CSRF token of the form on ``url``, as a browser would send it back."""
    page = client.get(url)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token in {url}"
    return match.group(1)


def repo_path(*parts: str) -> Path:
    return ROOT.joinpath(*parts)


@contextmanager
def separate_database(tmp_path: Path, schema: str) -> Iterator[Flask]:
    """An app on a database of its own, migrated, with the demo jurisdiction committed: for
    tests that need committed data seen by several connections at once (races), which the
    per-test rolled-back transaction cannot give. A SQLite file, or a schema of
    ``TEST_DATABASE_URL``."""
    base_url = os.environ.get("TEST_DATABASE_URL")
    if base_url:
        reset_postgres_schema(base_url, schema)
        url = f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp_path / f'{schema}.db'}"
    migrate.upgrade(url)
    app = create_app({"ENV": "testing", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": url,
                      "UPLOAD_DIR": str(tmp_path / f"{schema}-uploads"),
                      "FIELD_KEYS": TEST_FIELD_KEY})
    with app.app_context():
        session = database(app).sessionmaker()
        jurisdiction.load_file(session, DEMO_JURISDICTION)
        session.commit()
        session.close()
    try:
        yield app
    finally:
        database(app).engine.dispose()
        if base_url:
            reset_postgres_schema(base_url, schema)
