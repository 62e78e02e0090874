"""A request the database drops out under is run once more, but only if it committed nothing."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from portal import create_app
from portal.db import get_session
from tests.conftest import TEST_SECRET


def _lost() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("terminating connection due to "
                                                      "administrator command"))


@pytest.fixture
def flaky_app(tmp_path) -> tuple[Flask, list[str]]:
    app = create_app({"ENV": "testing", "SECRET_KEY": TEST_SECRET,
                      "DATABASE_URL": f"sqlite:///{tmp_path}/r.db"})
    calls: list[str] = []

    @app.get("/once")
    def once():
        calls.append("once")
        get_session().execute(text("SELECT 1"))
        if calls.count("once") == 1:
            raise _lost()
        return "ok"

    @app.get("/after-commit")
    def after_commit():
        calls.append("after-commit")
        session = get_session()
        session.execute(text("SELECT 1"))
        session.commit()
        raise _lost()

    @app.get("/always")
    def always():
        calls.append("always")
        raise _lost()

    return app, calls


def test_a_request_cut_off_before_committing_is_answered_by_the_second_run(flaky_app) -> None:
    app, calls = flaky_app
    response = app.test_client().get("/once")
    assert response.status_code == 200 and response.text == "ok"
    assert calls == ["once", "once"]


def test_a_request_that_committed_is_never_run_twice(flaky_app) -> None:
    app, calls = flaky_app
    response = app.test_client().get("/after-commit")
    assert response.status_code == 503 and "服务暂不可用" in response.text
    assert calls == ["after-commit"]


def test_a_database_that_stays_away_is_tried_twice_then_answered_503(flaky_app) -> None:
    app, calls = flaky_app
    response = app.test_client().get("/always")
    assert response.status_code == 503 and "Traceback" not in response.text
    assert calls == ["always", "always"]


def test_a_connection_lost_after_the_view_still_answers_the_page(flaky_app) -> None:
    """The database restarting between the view and the teardown's rollback must not turn
    a finished page into a 500."""
    from flask import g

    app, calls = flaky_app

    @app.get("/read")
    def read():
        session = get_session()
        session.execute(text("SELECT 1"))

        def lost() -> None:
            calls.append("close")
            raise _lost()

        g.db_session.close = lost
        return "page"

    response = app.test_client().get("/read")
    assert response.status_code == 200 and response.text == "page"
    assert calls == ["close"]
