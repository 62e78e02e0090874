"""The search box of /disclosures (issue 19): it finds a word in a unit's name, address or public
summary, says "1000+" where it stopped counting, hints at a one-character query, and costs the
same few queries however many units there are."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.db import database
from portal.domain.disclosure import search
from portal.domain.disclosure.publication import disclose_case
from portal.web.caching import page_cache
from tests.public.test_disclosures import confirmed, listed, moderator, unit

WORDS = ("超", "超市", "灭火器过", "号超市过")  # one, two, four characters, and no match


def _disclose(session: Session, name: str, summary: str, *, actor, address: str = "") -> None:
    where = unit(session, name)
    if address:
        where.address = address
    case = confirmed(session, where)
    disclose_case(session, case, actor=actor, public_summary=summary)


def _queries(app, client, url: str) -> int:
    seen: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    page_cache.clear()
    engine = database(app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_a_word_is_found_in_the_name_the_address_or_the_summary(client, db_session) -> None:
    mod = moderator(db_session)
    _disclose(db_session, "红星超市", "灭火器过期", actor=mod)
    _disclose(db_session, "好运来饭店", "后厨堆放超市购物袋", actor=mod)
    _disclose(db_session, "新华书店", "安全出口上锁", actor=mod, address="人民路超市对面")
    _disclose(db_session, "李记汽修店", "机油桶靠近配电箱", actor=mod)
    assert sorted(listed(client, "?q=超市")) == ["好运来饭店", "新华书店", "红星超市"]
    assert listed(client, "?q=饭店") == ["好运来饭店"]
    assert listed(client, "?q=灭火器过期") == ["红星超市"]
    html = client.get("/disclosures?q=超市").get_data(as_text=True)
    assert "共 3 条公示" in html and "只输入一个字" not in html


def test_a_capped_count_says_so_and_one_character_gets_a_hint(
        client, db_session, monkeypatch) -> None:
    mod = moderator(db_session)
    for n in range(4):
        _disclose(db_session, f"第{n}超市", "通道堵塞", actor=mod)
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    html = client.get("/disclosures?q=超市").get_data(as_text=True)
    assert "共 2+ 条公示" in html
    assert "共 4 条公示" in client.get("/disclosures").get_data(as_text=True), "no search: exact"
    hinted = client.get("/disclosures?q=店").get_data(as_text=True)
    assert "只输入一个字" in hinted


def test_one_search_costs_the_same_queries_for_few_units_or_many(app, client,
                                                                 db_session) -> None:
    mod = moderator(db_session)
    for n in range(3):
        _disclose(db_session, f"第{n}号超市", "通道堵塞，灭火器过期", actor=mod)
    few = {q: _queries(app, client, f"/disclosures?q={q}") for q in WORDS}
    for n in range(3, 30):
        _disclose(db_session, f"第{n}号超市", "通道堵塞，灭火器过期", actor=mod)
        _disclose(db_session, f"别家{n}饭店", "后厨油污", actor=mod)
    search.forget_sizes()  # as cold as the first time: the pairs are counted again
    many = {q: _queries(app, client, f"/disclosures?q={q}") for q in WORDS}
    assert many == few
    assert max(many.values()) <= 20


def test_an_uncached_page_of_the_list_costs_a_few_queries_however_full(
        app, client, db_session) -> None:
    """Every public list page and filter is served from indexes in a fixed handful of round
    trips, cache or no cache (issue 19): the page's ids, their rows with everything a card
    shows in one query, the count from the tallies, the filter choices and the version."""
    mod = moderator(db_session)
    urls = ("/disclosures", "/disclosures?status=rectifying",
            "/disclosures?page=1&severity=general", "/t/yanggao/disclosures",
            "/disclosures?q=超市")
    _disclose(db_session, "一号超市", "通道堵塞", actor=mod)
    few = {url: _queries(app, client, url) for url in urls}
    for n in range(25):
        _disclose(db_session, f"第{n}号超市", "通道堵塞", actor=mod)
    full = {url: _queries(app, client, url) for url in urls}
    assert full == few
    assert max(full.values()) <= 9, full


def test_a_filter_the_tallies_do_not_count_says_where_it_stopped_and_pages_on(
        client, db_session, monkeypatch) -> None:
    """A category or venue-type filter is counted only as far as needed ("2+" here, with the
    cap at 2), and its later pages are still reached and exact."""
    from tests import factories
    mod = moderator(db_session)
    hot_work = factories.category(db_session, "hot_work")
    for n in range(22):
        case = confirmed(db_session, unit(db_session, f"动火{n:02d}号店"), category=hot_work)
        disclose_case(db_session, case, actor=mod, public_summary="违规动火")
    _disclose(db_session, "别类商店", "通道堵塞", actor=mod)
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    first = client.get(f"/disclosures?category={hot_work.id}").get_data(as_text=True)
    assert "共 2+ 条公示" in first and 'rel="next"' in first
    second = listed(client, f"?category={hot_work.id}&page=2")
    assert len(second) == 2 and all(name.startswith("动火") for name in second)
    assert "共 23 条公示" in client.get("/disclosures").get_data(as_text=True), "tallied: exact"


def test_a_filtered_page_reads_the_filters_own_index(app) -> None:
    """Each one-dimension filter of the public list walks an index of the disclosed cases of
    that dimension only (SQLite's plan; PostgreSQL's is checked in bench/)."""
    from sqlalchemy import select, text

    from portal.domain.disclosure import publication
    from portal.domain.enums import CaseStatus, Severity
    from portal.domain.models import Case

    engine = database(app).engine
    if engine.dialect.name != "sqlite":
        import pytest
        pytest.skip("PostgreSQL chooses by its statistics: the bench measures it at size")
    for filters, index in (
            (publication.DisclosureFilters(village_id=1), "ix_cases_public_village_id"),
            (publication.DisclosureFilters(category_id=1), "ix_cases_public_category_id"),
            (publication.DisclosureFilters(venue_type_id=1), "ix_cases_public_venue_type_id"),
            (publication.DisclosureFilters(status=CaseStatus.CLOSED), "ix_cases_public_status"),
            (publication.DisclosureFilters(severity=Severity.MAJOR),
             "ix_cases_public_severity"),
            # Without statistics SQLite cannot know the listed are few: either index in the
            # list's order serves it without a sort.
            (publication.DisclosureFilters(supervised=True), "USING INDEX ix_cases_")):
        query = publication._filtered(select(Case.id).where(publication.public_condition()),
                                      filters).order_by(Case.disclosed_at.desc(),
                                                        Case.id.desc()).limit(20).offset(180)
        compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
        with engine.connect() as conn:
            plan = " | ".join(row[-1] for row in conn.execute(
                text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert index in plan and "TEMP B-TREE" not in plan, (filters, plan)


def _plan(engine, query, *, settings: tuple[str, ...] = ()) -> str:
    from sqlalchemy import text

    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        for setting in settings:
            conn.execute(text(setting))
        rows = conn.execute(text(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + str(compiled)))
        return " | ".join(str(row[-1]) for row in rows)


# A test table of a few rows would be read whole, or sorted in memory, at any size of index:
# ask the planner for its best ordered index walk instead, on a table whose pages are all
# visible (as VACUUM leaves a real one), where an index-only walk reads no table page.
INDEX_WALK = ("SET enable_seqscan = off", "SET enable_bitmapscan = off", "SET enable_sort = off")


def _vacuum(engine) -> None:
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE cases"))


def test_a_second_filter_is_checked_in_the_first_ones_index_on_postgresql(app) -> None:
    """With two filters, the page's ids come from an index-only walk of one filter's index, the
    other checked on the index entry, not on each case's table row (migration 0018)."""
    import pytest
    from sqlalchemy import select

    from portal.domain.disclosure import publication
    from portal.domain.enums import CaseStatus, Severity
    from portal.domain.models import Case

    engine = database(app).engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no INCLUDE columns: its indexes stay one column and the order")
    _vacuum(engine)
    for filters in (publication.DisclosureFilters(village_id=1, supervised=True),
                    publication.DisclosureFilters(category_id=1, status=CaseStatus.CLOSED),
                    publication.DisclosureFilters(venue_type_id=1, severity=Severity.MAJOR),
                    publication.DisclosureFilters(status=CaseStatus.RECTIFYING,
                                                  severity=Severity.MAJOR),
                    publication.DisclosureFilters(village_id=1, category_id=2),
                    publication.DisclosureFilters(supervised=True, category_id=2)):
        query = publication._filtered(select(Case.id).where(publication.public_condition()),
                                      filters).order_by(Case.disclosed_at.desc(),
                                                        Case.id.desc()).limit(20).offset(180)
        plan = _plan(engine, query, settings=INDEX_WALK)
        assert "Index Only Scan" in plan and "Sort" not in plan, (filters, plan)


def test_the_ledger_walks_a_filters_own_index_in_its_order(app) -> None:
    """A ledger filtered by a village, a category, a severity or the listed cases reads the
    page's ids from that filter's (column, id) index in the ledger's order, without a sort."""
    from portal.domain.enums import Severity
    from portal.domain.models import Case
    from portal.domain.supervision import ledger

    engine = database(app).engine
    settings: tuple[str, ...] = ()
    if engine.dialect.name == "postgresql":
        _vacuum(engine)
        settings = INDEX_WALK
    for f, index in ((ledger.LedgerFilter(village_id=1), "ix_cases_ledger_village_id"),
                     (ledger.LedgerFilter(category_id=1), "ix_cases_ledger_category_id"),
                     (ledger.LedgerFilter(severity=Severity.MAJOR), "ix_cases_ledger_severity"),
                     (ledger.LedgerFilter(listed=True), "ix_cases_ledger_listed")):
        query = ledger.select_cases(f).with_only_columns(Case.id).limit(50).offset(100)
        plan = _plan(engine, query, settings=settings)
        assert index in plan and "TEMP B-TREE" not in plan and "Sort" not in plan, (f, plan)


def test_a_search_without_a_filter_walks_the_index_alone_and_with_one_checks_each_case(
        app, client, db_session) -> None:
    """The index holds the public cases and no other: an unfiltered search reads no case
    row to find its page (only the page's own rows, to draw them); a filtered one checks each
    candidate's case by its key, and both find what the exact match finds."""
    mod = moderator(db_session)
    _disclose(db_session, "红星超市", "灭火器过期", actor=mod)
    _disclose(db_session, "蓝天超市", "通道堵塞", actor=mod)
    seen: list[str] = []

    def record(_conn, _cursor, statement: str, *_args) -> None:
        seen.append(" ".join(statement.split()))

    engine = database(app).engine
    for url, names, reads_cases in (("?q=红星超市", ["红星超市"], False),
                                    ("?q=超市&supervised=1", [], True)):
        page_cache.clear()
        seen.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert listed(client, url) == names
        finally:
            event.remove(engine, "before_cursor_execute", record)
        finding = [s for s in seen if "search_grams" in s and "count(" not in s.split(" FROM ")[0]
                   and "WHERE cases.id IN" not in s]
        assert finding, seen
        assert any("FROM cases" in s for s in finding) is reads_cases, (url, finding)
