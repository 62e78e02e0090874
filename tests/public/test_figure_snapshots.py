"""The public figures are computed by one process and read by the others (issue 19): a
county's workers on several machines each kept and recomputed every township's figures
once a minute, and a worker that had not yet seen a township computed its statistics in
the visitor's request."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portal.domain import snapshots
from portal.domain.disclosure import statistics
from portal.domain.models import FigureSnapshot
from portal.web.caching import figure_cache, page_cache
from tests import factories


@pytest.fixture
def lagging(app: Flask) -> Iterator[None]:
    """Production's lag (figures kept and shared), no background refresh in the test."""
    app.config["PUBLIC_CACHE_SECONDS"] = 1
    figure_cache.min_refresh_seconds = 3600
    try:
        yield
    finally:
        app.config["PUBLIC_CACHE_SECONDS"] = 0
        figure_cache.min_refresh_seconds = 60.0
        figure_cache.clear()
        page_cache.clear()


@pytest.fixture
def computations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each time the statistics page's charts are computed."""
    calls: list[int] = []
    real = statistics.major_open_series

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(statistics, "major_open_series", counted)
    return calls


def _another_process() -> None:
    """What a worker that never drew these pages holds: nothing."""
    figure_cache.clear()
    page_cache.clear()


def _tips_shown(page: str) -> int:
    match = re.search(r"<dt>收到举报</dt><dd>(\d+)</dd>", page)
    assert match, "the figure is on the page"
    return int(match.group(1))


def test_a_second_process_draws_the_statistics_from_the_first_one_s_figures(
        lagging, computations: list[int], client: FlaskClient, db_session: Session) -> None:
    factories.make_tip(db_session)
    db_session.flush()
    first = client.get("/stats")
    assert first.status_code == 200 and computations == [1]
    _another_process()
    second = client.get("/stats")
    assert second.status_code == 200
    assert computations == [1], "the figures were read, not computed again"
    assert second.get_data(as_text=True) == first.get_data(as_text=True), (
        "the page drawn from the snapshot is the page drawn from the computation")
    assert second.headers.get("ETag") == first.headers.get("ETag")


def test_a_stale_snapshot_is_shown_as_stale_while_one_process_recomputes(
        lagging, computations: list[int], client: FlaskClient, db_session: Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    refreshing: list[tuple] = []
    # The refresh runs in a thread of its own; here it is only asked for (the suite's
    # sessions share one connection, which a second thread must not use).
    monkeypatch.setattr(figure_cache, "_refresh",
                        lambda key, *_args: refreshing.append(key))
    before = _tips_shown(client.get("/stats").get_data(as_text=True))
    factories.make_tip(db_session)
    db_session.flush()
    _another_process()
    from portal.web import caching
    caching.forget_versions()  # the data version is read again
    response = client.get("/stats")
    assert _tips_shown(response.get_data(as_text=True)) == before, (
        "the last figures are served at once, not computed in the visitor's request")
    assert computations == [1]
    assert response.headers.get("ETag") is None, "a page of stale figures has no validator"
    assert ("stats", "charts", None) in refreshing, "and this process brings them up to date"


def test_figures_another_release_wrote_are_computed_again(
        lagging, computations: list[int], client: FlaskClient, db_session: Session) -> None:
    client.get("/stats")
    db_session.execute(FigureSnapshot.__table__.update().values(body='{"columns": 1}'))
    _another_process()
    response = client.get("/stats")
    assert response.status_code == 200 and computations == [1, 1]


def test_a_snapshot_that_cannot_be_stored_costs_the_page_nothing(
        lagging, monkeypatch: pytest.MonkeyPatch, client: FlaskClient,
        db_session: Session) -> None:
    def fails(*_args, **_kwargs):
        raise OperationalError("INSERT", {}, Exception("disk full"))

    monkeypatch.setattr(snapshots, "store", fails)
    response = client.get("/stats")
    assert response.status_code == 200
    assert "收到举报" in response.get_data(as_text=True)
    assert db_session.scalars(select(FigureSnapshot.key)).all() == []


def test_only_one_process_at_a_time_claims_an_entry(app: Flask, db_session: Session) -> None:
    now = dt.datetime(2026, 12, 4, 2, 0, tzinfo=dt.UTC)
    db_session.execute(delete(FigureSnapshot))
    assert snapshots.claim(db_session, "k", now), "the first to claim an entry computes it"
    assert snapshots.read(db_session, "k") is None, "a claim holds no figures"
    assert not snapshots.claim(db_session, "k", now), "the others starting cold wait"
    snapshots.store(db_session, "k", "v1", "{}", now)
    assert snapshots.claim(db_session, "k", now), "a stored entry is claimed by the first"
    assert not snapshots.claim(db_session, "k", now + dt.timedelta(seconds=5)), (
        "the others wait for it")
    later = now + dt.timedelta(seconds=snapshots.CLAIM_SECONDS + 1)
    assert snapshots.claim(db_session, "k", later), "a claim nobody honoured expires"
    snapshots.store(db_session, "k", "v2", '{"a": 1}', later)
    assert snapshots.claim(db_session, "k", later), "storing releases the claim"
    kept = snapshots.read(db_session, "k")
    assert kept is not None and (kept.stamp, kept.body) == ("v2", '{"a": 1}')


def test_a_refresh_takes_what_another_process_stored_and_waits_for_one_computing(
        lagging, app: Flask) -> None:
    """The background refresh of one process (``_take_or_claim``, run in its thread)."""
    from portal.db import side_transaction
    from portal.domain.clock import utcnow
    from portal.web.caching import Codec

    same: Codec[int] = Codec(lambda value: value, lambda data: data)
    key = ("refresh-test",)
    with app.test_request_context():
        with side_transaction() as session:
            snapshots.store(session, "refresh-test", "version 1", "5", utcnow())
        assert not figure_cache._take_or_claim(key, "version 1", same), "taken, not computed"
        assert figure_cache._store[key][:2] == ("version 1", 5)
        with side_transaction() as session:  # another process starts on version 2
            assert snapshots.claim(session, "refresh-test", utcnow())
        assert not figure_cache._take_or_claim(key, "version 2", same), "it waits for it"
        with side_transaction() as session:
            snapshots.store(session, "refresh-test", "version 2", "7", utcnow())
        assert not figure_cache._take_or_claim(key, "version 2", same)
        assert figure_cache._store[key][:2] == ("version 2", 7)
        assert figure_cache._take_or_claim(key, "version 3", same), (
            "nobody computing version 3: this process does")


def test_workers_starting_cold_together_compute_each_entry_once(
        lagging, computations: list[int], app: Flask, client: FlaskClient,
        db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process claimed the statistics and is computing them: this one waits for its
    snapshot instead of computing them too."""
    from portal.db import side_transaction
    from portal.domain.clock import utcnow
    from portal.public import stats as stats_views
    from portal.web import caching

    client.get("/stats")  # the figures as the other process will have computed them
    (stored,) = db_session.execute(select(FigureSnapshot.stamp, FigureSnapshot.body).where(
        FigureSnapshot.key == "stats|charts|None")).all()
    db_session.execute(delete(FigureSnapshot))
    _another_process()
    computations.clear()
    with app.app_context(), side_transaction() as session:  # the other process starts
        assert snapshots.claim(session, "stats|charts|None", utcnow())
    waited: list[float] = []

    def other_process_finishes(seconds: float) -> None:
        waited.append(seconds)
        if len(waited) == 2:
            with side_transaction() as session:
                snapshots.store(session, "stats|charts|None", stored.stamp, stored.body,
                                utcnow())

    monkeypatch.setattr(caching.time, "sleep", other_process_finishes)
    page = client.get("/stats")
    assert page.status_code == 200 and len(waited) == 2
    assert computations == [], "the charts were waited for, not computed again"
    assert stats_views.CHARTS.decode(__import__("json").loads(stored.body))["on_time"] == (
        figure_cache._store[("stats", "charts", None)][1]["on_time"])


def test_a_claim_nobody_fulfils_is_waited_for_briefly_then_computed_here(
        lagging, computations: list[int], app: Flask, client: FlaskClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from portal.db import side_transaction
    from portal.domain.clock import utcnow
    from portal.web import caching

    with app.app_context(), side_transaction() as session:
        assert snapshots.claim(session, "stats|charts|None", utcnow())
    monkeypatch.setattr(figure_cache, "wait_seconds", 0.2)
    slept: list[float] = []
    real_sleep = caching.time.sleep
    monkeypatch.setattr(caching.time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    assert client.get("/stats").status_code == 200
    assert slept and computations == [1], "after the wait the page computes its own"


def test_figures_of_the_date_alone_stand_past_the_minute_those_of_the_hour_do_not(
        lagging, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The public statistics depend on the data and the local date (overdue is by date):
    with no write they stand until midnight, where a dashboard's counts (overdue by the
    hour) are exact for their minute only."""
    import time

    from flask import g

    from portal.web import caching

    refreshing: list[tuple] = []
    monkeypatch.setattr(figure_cache, "_refresh",
                        lambda key, *_args: refreshing.append(key))
    monkeypatch.setattr(figure_cache, "min_refresh_seconds", 0)
    calls: list[str] = []
    with app.test_request_context():
        g.data_version = ("no write",)
        figure_cache.get_or_compute(("daily-test",), lambda: calls.append("d") or 1,
                                    daily=True)
        figure_cache.get_or_compute(("minute-test",), lambda: calls.append("m") or 1)
    later = time.time() + 120  # two minutes on (the date is read from the clock apart)
    monkeypatch.setattr(caching.time, "time", lambda: later)
    with app.test_request_context():
        g.data_version = ("no write",)
        assert figure_cache.get_or_compute(("daily-test",), lambda: 2, daily=True) == 1
        assert not g.get("stale_figures"), "the day's figures are still exact"
        assert figure_cache.get_or_compute(("minute-test",), lambda: 2) == 1
        assert g.get("stale_figures"), "the minute's are not, and are being recomputed"
    assert refreshing == [("minute-test",)] and calls == ["d", "m"]
