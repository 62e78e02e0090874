from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from portal.domain.disclosure import statistics
from portal.domain.enums import CaseOutcome, CaseStatus, Severity, SupervisionLevel
from tests.factories import category, make_case, make_tip, village

pytestmark = pytest.mark.usefixtures("app")

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 6, 15)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE)


def confirmed(session: Session, on: dt.date, **values):
    defaults = {"status": CaseStatus.RECTIFYING, "routed_at": at(on), "confirmed_at": at(on)}
    if values.get("status") == CaseStatus.CLOSED:
        defaults |= {"outcome": CaseOutcome.RECTIFIED}
    return make_case(session, **{**defaults, **values})


def test_figures_count_only_confirmed_hazards(db_session: Session) -> None:
    make_tip(db_session)
    make_case(db_session, status=CaseStatus.CHECKING, routed_at=at(TODAY))  # unverified
    confirmed(db_session, TODAY, rectify_by=TODAY - dt.timedelta(days=1))  # overdue
    confirmed(db_session, TODAY, severity=Severity.MAJOR,
              supervision_level=SupervisionLevel.COUNTY, rectify_by=TODAY)
    confirmed(db_session, TODAY, status=CaseStatus.CLOSED, closed_at=at(TODAY))
    make_case(db_session, status=CaseStatus.CLOSED, routed_at=at(TODAY), closed_at=at(TODAY),
              outcome=CaseOutcome.UNFOUNDED)
    f = statistics.figures(db_session, TODAY)
    assert f.tips_total >= 1
    assert (f.confirmed, f.rectifying, f.rectified) == (3, 2, 1)
    assert (f.overdue, f.major_open, f.supervised_open, f.disclosed) == (1, 1, 1, 0)
    assert f.rectification_rate == pytest.approx(1 / 3)


def test_monthly_series_follow_local_months(db_session: Session) -> None:
    # 00:30 on 1 June in Beijing is 16:30 UTC on 31 May: it counts for June.
    confirmed(db_session, TODAY, confirmed_at=dt.datetime(2026, 6, 1, 0, 30, tzinfo=ZONE))
    confirmed(db_session, TODAY, confirmed_at=dt.datetime(2026, 5, 31, 23, 30, tzinfo=ZONE))
    confirmed(db_session, TODAY, confirmed_at=dt.datetime(2025, 1, 5, tzinfo=ZONE))  # too old
    make_tip(db_session, created_at=at(dt.date(2026, 4, 2)))
    tips, cases = statistics.monthly(db_session, TODAY, ZONE)
    assert len(tips) == 12 and tips[-1].label == "26/6" and tips[0].label == "25/7"
    by_label = {b.label: b.value for b in cases}
    assert by_label["26/6"] == 1 and by_label["26/5"] == 1 and sum(by_label.values()) == 2
    assert {b.label: b.value for b in tips}["26/4"] >= 1


def test_breakdowns_by_category_and_village(db_session: Session) -> None:
    confirmed(db_session, TODAY, category=category(db_session, "wiring"))
    confirmed(db_session, TODAY, category=category(db_session, "wiring"))
    confirmed(db_session, TODAY, category=category(db_session, "hot_work"),
              village=village(db_session, "V02"))
    make_case(db_session, status=CaseStatus.CHECKING, routed_at=at(TODAY),
              category=category(db_session, "sandwich_panel"))
    cats = {b.label: b.value for b in statistics.by_category(db_session)}
    assert cats == {"电气线路铺设不规范": 2, "违规动火施工作业": 1}
    # County-wide a village is named with its township: names repeat across townships
    # (issue 18); a township's own chart names its villages alone.
    villages = {b.label: b.value for b in statistics.by_village(db_session)}
    assert villages == {"阳高村（示例）（阳高乡）": 2, "东庄村（示例）（阳高乡）": 1}
    yanggao = village(db_session, "V01").township_id
    villages = {b.label: b.value for b in statistics.by_village(db_session, yanggao)}
    assert villages == {"阳高村（示例）": 2, "东庄村（示例）": 1}


def test_on_time_compares_local_dates(db_session: Session) -> None:
    deadline = dt.date(2026, 5, 10)
    # Reported at 07:00 Beijing on the deadline day (23:00 UTC the day before): on time.
    confirmed(db_session, TODAY, status=CaseStatus.RECTIFIED, rectify_by=deadline,
              rectified_at=dt.datetime(2026, 5, 10, 7, tzinfo=ZONE))
    confirmed(db_session, TODAY, status=CaseStatus.RECTIFIED, rectify_by=deadline,
              rectified_at=dt.datetime(2026, 5, 11, 0, 30, tzinfo=ZONE))
    result = statistics.on_time(db_session, ZONE)
    assert (result.on_time, result.finished) == (1, 2) and result.rate == 0.5


def test_open_major_hazards_at_each_month_end(db_session: Session) -> None:
    confirmed(db_session, TODAY, severity=Severity.MAJOR,
              confirmed_at=at(dt.date(2026, 3, 10)), status=CaseStatus.CLOSED,
              closed_at=at(dt.date(2026, 5, 2)))
    confirmed(db_session, TODAY, severity=Severity.MAJOR, confirmed_at=at(dt.date(2026, 4, 1)))
    confirmed(db_session, TODAY, confirmed_at=at(dt.date(2026, 4, 1)))  # not major
    series = {b.label: b.value for b in statistics.major_open_series(db_session, TODAY, ZONE)}
    assert (series["26/2"], series["26/3"], series["26/4"], series["26/5"]) == (0, 1, 2, 1)
    assert series["26/6"] == 1


def test_a_townships_monthly_counts_read_its_villages_on_their_own_indexes(
        app, db_session: Session) -> None:
    """A township's statistics count its villages' rows per month village by village: on the
    county-wide time index, one township's counts read every township's rows (1.5 s at the
    2-million-case county seed)."""
    from sqlalchemy import event

    from portal.db import database
    from tests import factories

    engine = database(app).engine
    if engine.dialect.name != "sqlite":
        import pytest
        pytest.skip("PostgreSQL chooses by its statistics: bench/ measures it at size")
    seen: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:
        seen.append((statement, parameters))

    township = factories.township(db_session)
    event.listen(db_session.bind, "before_cursor_execute", keep)
    try:
        statistics.monthly(db_session, dt.date(2026, 11, 15), ZONE, township_id=township.id)
        statistics.on_time(db_session, ZONE, township_id=township.id)
    finally:
        event.remove(db_session.bind, "before_cursor_execute", keep)
    raw = db_session.connection().connection.dbapi_connection.cursor()
    plans = []
    for statement, parameters in seen:
        raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        plans.append(" | ".join(str(row[-1]) for row in raw.fetchall()))
    joined = " || ".join(plans)
    for index in ("ix_tips_village_id_created_at", "ix_cases_village_id_confirmed_at",
                  "ix_cases_village_id_rectified_at_rectify_by"):
        assert index in joined, joined
    assert "SCAN cases" not in joined and "SCAN tips" not in joined, joined
