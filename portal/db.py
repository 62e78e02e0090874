"""The engine and the one-session-per-request lifecycle (the tables' base is
``portal.domain.models.base``).

Domain services receive a ``Session`` and only flush; views commit once at the request boundary.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context, request
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from portal.config import database_wait_seconds

# Requests that may write take SQLite's write lock up front, so that a read-then-write
# transaction never fails with SQLITE_BUSY_SNAPSHOT when another writer got in between.
WRITE_OPTION = "portal_write"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


CONNECT_RETRY_SECONDS = 10.0


def make_engine(url: str, *, pool_size: int = 5, busy_timeout_ms: int = 5000,
                connect_timeout: int | None = None, statement_timeout_ms: int | None = None,
                lock_timeout_ms: int | None = None,
                connect_retry_seconds: float = CONNECT_RETRY_SECONDS) -> Engine:
    """The engine; the PostgreSQL timeouts are unset (wait forever) unless given, as for
    migrations, which may rightly run long; the app passes its settings."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    connect_args = _postgres_timeouts(url, connect_timeout, statement_timeout_ms,
                                      lock_timeout_ms)
    engine = create_engine(url, pool_size=pool_size, pool_pre_ping=True,
                           connect_args=connect_args)
    _retry_connects(engine, connect_retry_seconds)
    _note_writes(engine)
    return engine


# Whether the connection's transaction ran anything but a read. psycopg deallocates every
# statement it prepared on the connection at each ROLLBACK, so a web request that ended its
# read-only transaction by rolling back (as closing a session does) threw away the server's
# plans: a public list's statement joining seven tables was planned again on each request
# (about 5 ms of the database's CPU, more than running it; issue 19). A read-only request
# ends with COMMIT instead (``_end_read_only``), which keeps them.
WROTE = "portal.wrote"
SAFE_REQUEST = "portal.safe_request"  # the session's request is a GET, HEAD or OPTIONS
SIDE = "portal.side"  # a session of ``side_transaction``
_READ_ONLY = re.compile(r"\s*(?:SELECT|SHOW|SET\s+LOCAL)\b", re.IGNORECASE)


def _note_writes(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # psycopg sends a Python int as int2, int4 or int8 by its value, and keys its
        # prepared statements by the parameters' types: a page of twenty case ids, some
        # below 32,768 and some above, was a new statement nearly every time and never
        # prepared. One type for every int keeps one statement a query.
        from psycopg.types.numeric import Int8Dumper  # PostgreSQL's driver, only there

        dbapi_connection.adapters.register_dumper(int, Int8Dumper)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.info[WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _on_execute(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if not conn.info.get(WROTE) and not _READ_ONLY.match(statement):
            conn.info[WROTE] = True


def _postgres_timeouts(url: str, connect_timeout: int | None, statement_timeout_ms: int | None,
                       lock_timeout_ms: int | None) -> dict[str, Any]:
    """libpq parameters: a connect timeout, and the statement and lock timeouts as server
    options of every connection, so a statement stuck behind a lock or a hung server is
    cancelled (QueryCanceled / LockNotAvailable, an ``OperationalError``) before gunicorn
    kills the worker. Options already in the URL (e.g. a search_path) are kept."""
    args: dict[str, Any] = {}
    if connect_timeout:
        args["connect_timeout"] = int(connect_timeout)
    options = [f"-c {name}={int(ms)}" for name, ms in (("statement_timeout", statement_timeout_ms),
                                                       ("lock_timeout", lock_timeout_ms)) if ms]
    if options:
        given = make_url(url).query.get("options")
        given_list = [given] if isinstance(given, str) else list(given or ())
        args["options"] = " ".join([*given_list, *options])
    return args


def _retry_connects(engine: Engine, retry_seconds: float) -> None:
    """While the database restarts, new connections wait for it (up to a few seconds) instead
    of failing the request; together with pre-ping this is how the app reconnects by itself."""

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        deadline = time.monotonic() + retry_seconds
        delay = 0.1
        while True:
            try:
                return dialect.loaded_dbapi.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT and cannot BEGIN IMMEDIATE;
    # take over BEGIN ourselves (the SQLAlchemy-documented recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@dataclass
class Database:
    engine: Engine
    sessionmaker: sessionmaker[Session]
    # How long one run of a view may wait on the database at worst (see dispatch_with_retry).
    wait_seconds: float = 0.0


def init_app(app: Flask) -> None:
    config = app.config
    engine = make_engine(
        config["DATABASE_URL"],
        pool_size=config["DATABASE_POOL_SIZE"],
        busy_timeout_ms=config["SQLITE_BUSY_TIMEOUT_MS"],
        connect_timeout=config["DATABASE_CONNECT_TIMEOUT"],
        statement_timeout_ms=config["DATABASE_STATEMENT_TIMEOUT_MS"],
        lock_timeout_ms=config["DATABASE_LOCK_TIMEOUT_MS"],
        connect_retry_seconds=config["DATABASE_CONNECT_RETRY_SECONDS"],
    )
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(factory, "after_commit", _note_commit)
    wait = (config["SQLITE_BUSY_TIMEOUT_MS"] / 1000 if engine.dialect.name == "sqlite"
            else database_wait_seconds(config))
    app.extensions["portal.db"] = Database(engine, factory, wait)
    app.teardown_appcontext(_close_session)


def without_statement_timeout(session: Session) -> None:
    """Lift the web's statement timeout for the rest of this transaction: a maintenance
    command (rebuilding the search index or the tallies of a county) runs statements that
    take minutes, and no visitor is waiting on them."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL statement_timeout = 0"))


def database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["portal.db"]


def get_session() -> Session:
    """The session of the current request or CLI command, opened on first use."""
    if "db_session" not in g:
        session = database().sessionmaker()
        writes = not has_request_context() or request.method not in _SAFE_METHODS
        if writes:
            session.connection(execution_options={WRITE_OPTION: True})
        session.info[SAFE_REQUEST] = not writes
        g.db_session = session
    return g.db_session


@contextlib.contextmanager
def side_transaction() -> Iterator[Session]:
    """A session of its own, committed on leaving, for a small write beside a request's own
    work (a figure snapshot stored while a GET draws the statistics): the request's own
    transaction stays as it was (read-only for a GET), and this commit is not the
    request's, so a database error after it still runs the request again
    (``dispatch_with_retry``)."""
    session = database().sessionmaker()
    session.info[SIDE] = True
    try:
        yield session
        session.commit()
    finally:
        session.close()


def rollback_session() -> None:
    """Undo the current request's work, e.g. before rendering an error page."""
    session: Session | None = g.get("db_session")
    if session is not None:
        try:
            session.rollback()
        except Exception:  # a dead connection: the next use reconnects (pool pre-ping)
            g.pop("db_session", None)


def _note_commit(session: Session) -> None:
    # Releasing a SAVEPOINT (begin_nested) fires this too, but stores nothing by itself.
    if has_app_context() and not session.in_nested_transaction() and not session.info.get(SIDE):
        g.db_committed = True


# A request that fails on the database before it committed anything is run once more, after
# the pool has reconnected (pre-ping, ``_retry_connects``): a database restart then costs the
# resident a pause, not an error page. Only requests that committed nothing are repeated, so
# nothing is ever done twice; the report form is idempotent by its submission key besides.
REQUEST_RETRIES = 1

# PostgreSQL's statement and lock timeouts (query_canceled, lock_not_available): the database
# answers but what the view waits for is held; a second run would wait as long again.
TIMED_OUT_SQLSTATES = frozenset({"57014", "55P03"})


def dispatch_with_retry(dispatch: Callable[[], Any]) -> Any:
    """Run the view; on an ``OperationalError`` (connection lost, database restarting,
    serialization failure, SQLite lock timeout) before any commit, discard the session and run
    it again with the posted files rewound, unless a statement timed out or a second run could
    outlast gunicorn's worker timeout: then the error stands (the 503 page)."""
    attempt = 0
    started = time.monotonic()
    g.pop("db_committed", None)  # what counts is a commit by this view (g may be shared)
    while True:
        try:
            return dispatch()
        except OperationalError as exc:
            if (attempt >= REQUEST_RETRIES or g.get("db_committed") or _timed_out(exc)
                    or not _time_for_another_run(started)):
                raise
            attempt += 1
            current_app.logger.warning(
                "Database error on %s %s, running the request again: %s",
                request.method, request.path, exc.orig)
            _discard_session()
            for _name, upload in request.files.items(multi=True):  # every photo, not one per field
                upload.stream.seek(0)


def _timed_out(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in TIMED_OUT_SQLSTATES


def _time_for_another_run(started: float) -> bool:
    """Whether a second run, waiting on the database as long as the settings allow, still ends
    before gunicorn would kill the worker (and the resident with it)."""
    elapsed = time.monotonic() - started
    return elapsed + database().wait_seconds < current_app.config["WORKER_TIMEOUT"]


def _discard_session() -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        _close_quietly(session)


def _close_quietly(session: Session) -> None:
    """Close the session; if its connection died meanwhile (the database restarted after the
    view finished), discard the connection instead of failing a response that stands."""
    try:
        session.close()
    except Exception as exc:
        current_app.logger.warning("Closing a session on a lost connection: %s", exc)
        with contextlib.suppress(Exception):
            session.invalidate()


def _close_session(exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        if exc is None:
            _end_read_only(session)
        _close_quietly(session)  # rolls back anything the view did not commit
    for callback in g.pop("after_session", ()):
        callback()


def after_session(callback: Callable[[], None]) -> None:
    """Run ``callback`` once this request's (or command's) session has ended: for side work
    in a ``side_transaction`` that must not sit inside the request's own transaction (in
    the test suite every session is a savepoint of one connection, and a GET's rollback would
    take the side write with it)."""
    g.setdefault("after_session", []).append(callback)


def _end_read_only(session: Session) -> None:
    """COMMIT the transaction of a GET or HEAD on PostgreSQL that ran only reads (``WROTE``),
    so that psycopg keeps the statements it prepared; anything else is rolled back by
    closing the session, as before. A read-only transaction commits nothing either way."""
    if (not session.info.get(SAFE_REQUEST) or not session.in_transaction()
            or session.new or session.dirty or session.deleted
            or session.get_bind().dialect.name != "postgresql"):
        return
    if session.connection().info.get(WROTE, True):
        return
    try:
        session.commit()
    except Exception as exc:  # closing the session rolls back, as before
        current_app.logger.warning("Ending a read-only transaction: %s", exc)
