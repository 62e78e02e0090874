"""Rendered public pages are kept per process by ETag: a repeat costs the version lookup only,
and a disclosure change is seen at once."""

from __future__ import annotations

from sqlalchemy import delete, event
from sqlalchemy.orm import Session

from portal.db import database
from portal.domain.disclosure.publication import withdraw_disclosure
from portal.domain.models import FigureSnapshot
from tests.public.test_disclosures import disclosed, moderator


def _count_queries(app, client, url: str) -> tuple[int, str]:
    seen: list[str] = []

    def count(*_args) -> None:
        seen.append("q")

    engine = database(app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(seen), response.get_data(as_text=True)


def test_a_repeat_is_served_from_the_cache_and_a_change_is_seen(app, client,
                                                                  db_session: Session) -> None:
    mod = moderator(db_session)
    case = disclosed(db_session, "缓存商店", actor=mod)
    first, page = _count_queries(app, client, "/disclosures")
    again, same = _count_queries(app, client, "/disclosures")
    assert "缓存商店" in page and same == page
    # Two version queries (plus the test harness's SAVEPOINT and RELEASE).
    assert again <= 4 < first, "a repeat only asks for the data version"

    withdraw_disclosure(db_session, case, actor=mod, reason="测试撤回")
    db_session.flush()
    _queries, after = _count_queries(app, client, "/disclosures")
    assert "缓存商店" not in after


def test_with_a_lag_allowed_a_busy_page_skips_the_database(app, client,
                                                          db_session: Session) -> None:
    import time

    mod = moderator(db_session)
    case = disclosed(db_session, "滞后商店", actor=mod)
    app.config["PUBLIC_CACHE_SECONDS"] = 0.5
    try:
        _count_queries(app, client, "/disclosures")
        queries, page = _count_queries(app, client, "/disclosures")
        assert "滞后商店" in page
        assert queries <= 2, "only the harness's SAVEPOINT/RELEASE, no query of ours"
        withdraw_disclosure(db_session, case, actor=mod, reason="测试撤回")
        db_session.flush()
        time.sleep(0.6)
        _queries, after = _count_queries(app, client, "/disclosures")
        assert "滞后商店" not in after, "after the lag the change shows"
    finally:
        app.config["PUBLIC_CACHE_SECONDS"] = 0


def test_a_stale_figure_is_served_while_one_refresh_runs(app) -> None:
    import time

    from flask import g

    from portal.web.caching import figure_cache

    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    app.config["PUBLIC_CACHE_SECONDS"] = 1
    figure_cache.min_refresh_seconds = 0  # the last recompute is long enough ago
    try:
        with app.test_request_context():
            assert figure_cache.get_or_compute(("stale-test",), compute) == 1
        with app.test_request_context():
            g.data_version = ("moved on",)  # as after any write
            assert figure_cache.get_or_compute(("stale-test",), compute) == 1, "served stale"
        deadline = time.monotonic() + 5
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(calls) == 2, "one refresh ran in the background"
        time.sleep(0.1)
        assert figure_cache._store[("stale-test",)][1] == 2
    finally:
        app.config["PUBLIC_CACHE_SECONDS"] = 0
        figure_cache.min_refresh_seconds = 60.0


def test_a_burst_of_writes_costs_one_recompute_a_minute(app) -> None:
    """Every tip moves the data version: within a minute of the last recompute the figures
    are served as they are, and no refresh starts."""
    import time

    from flask import g

    from portal.web.caching import figure_cache

    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    app.config["PUBLIC_CACHE_SECONDS"] = 1
    try:
        with app.test_request_context():
            assert figure_cache.get_or_compute(("burst-test",), compute) == 1
        for n in range(20):
            with app.test_request_context():
                g.data_version = ("write", n)
                assert figure_cache.get_or_compute(("burst-test",), compute) == 1
        time.sleep(0.2)
        assert calls == [1], "no recompute within the minute"
    finally:
        app.config["PUBLIC_CACHE_SECONDS"] = 0


def test_a_page_drawn_with_stale_figures_is_not_kept_under_the_new_version(
        app, client, db_session: Session) -> None:
    """After a write the figures are served stale while they recompute; the page drawn with
    them must not be cached (or validated) as the new data version's page, or every process
    keeps showing the old figures until the next write (found with two instances, issue 18)."""
    import re
    import time

    from portal.web.caching import figure_cache, page_cache
    from tests import factories

    def tips_shown() -> tuple[int, str | None]:
        response = client.get("/stats")
        match = re.search(r"<dt>收到举报</dt><dd>(\d+)</dd>", response.get_data(as_text=True))
        assert match, "the figure is on the page"
        return int(match.group(1)), response.headers.get("ETag")

    app.config["PUBLIC_CACHE_SECONDS"] = 0.2
    figure_cache.min_refresh_seconds = 3600  # no background refresh in this test
    try:
        before, etag = tips_shown()
        assert etag is not None
        factories.make_tip(db_session)
        db_session.flush()
        time.sleep(0.25)  # the data version is read again
        stale, stale_etag = tips_shown()
        assert stale == before, "the last figures are served while they recompute"
        assert stale_etag is None, "a page with stale figures carries no validator"
        # As when the background refresh has finished: the figures are no longer those
        # kept here, nor those of the snapshot every process reads.
        figure_cache.clear()
        db_session.execute(delete(FigureSnapshot))
        fresh, _ = tips_shown()
        assert fresh == before + 1, "the page is drawn again with the new figures"
    finally:
        app.config["PUBLIC_CACHE_SECONDS"] = 0
        figure_cache.min_refresh_seconds = 60.0
        page_cache.clear()


def test_the_filters_choices_are_read_once_per_audited_change(app, client,
                                                               db_session: Session) -> None:
    """Every list page offers the villages, venue types and categories; with a lag allowed
    they are read once per process until an audited write, whose change shows at once."""
    from portal.domain.administration import vocabulary
    from portal.web.caching import page_cache
    from tests import factories

    app.config["PUBLIC_CACHE_SECONDS"] = 0.5
    try:
        client.get("/disclosures?page=2")
        page_cache.clear()
        statements: list[str] = []

        def keep(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        engine = database(app).engine
        event.listen(engine, "before_cursor_execute", keep)
        try:
            assert client.get("/disclosures?village=1").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", keep)
        assert not [s for s in statements if "FROM venue_types" in s or "FROM categories" in s]

        category = factories.category(db_session, "hot_work")
        vocabulary.save_coded(db_session, "category", category, code="hot_work", actor=None,
                              name="违规动火（已改名）", description="", urgent=False,
                              needs_penalty=False, active=True, sort_order=0)
        db_session.flush()
        import time
        time.sleep(0.6)  # the data version's own lag
        assert "违规动火（已改名）" in client.get("/disclosures?village=2").get_data(as_text=True)
    finally:
        app.config["PUBLIC_CACHE_SECONDS"] = 0


def test_the_page_cache_holds_no_more_bytes_than_its_bound() -> None:
    """Varied URLs fill every entry; the bytes kept stay under the bound, oldest out first."""
    from portal.web.caching import PageCache

    cache = PageCache(entries=512, max_bytes=200_000, total_bytes=1_000_000)
    for n in range(40):
        cache.put(f"page-{n}", b"x" * 100_000, "application/json")
    assert cache.held_bytes <= 1_000_000
    assert cache.get("page-39") is not None and cache.get("page-0") is None
    cache.put("page-39", b"y" * 10, "text/html")  # replaced, not counted twice
    assert cache.held_bytes == 9 * 100_000 + 10
