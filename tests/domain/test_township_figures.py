"""The supervision figures of one township (issue 18): the ledger's township filter, counted
from the tallies and by scanning alike; the figures per township; the goals, the bulletin's
figures and the department review of one township."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from portal.domain import clock
from portal.domain.access import accounts
from portal.domain.casework.events import WorkflowError
from portal.domain.enums import Role, Severity
from portal.domain.supervision import bulletins, goals, ledger, ranking, review, urging
from portal.domain.supervision.ledger import LedgerFilter, Overdue
from tests import factories
from tests.domain.supervision_helpers import case_at

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def county(db_session: Session) -> dict[str, int]:
    """Township ids; in 阳高乡 two late cases and an old major hazard, in 北社乡 one late case
    and one routed to the county brigade (DADUI), as is one of 阳高乡's."""
    late = clock.local_today() - dt.timedelta(days=2)
    case_at(db_session, "routed", routed_days_ago=10, village="V01")
    case_at(db_session, "rectifying", rectify_by=late, village="V02")
    case_at(db_session, "rectifying", severity=Severity.MAJOR, village="V03",
            created_at=dt.datetime(2023, 5, 1, 2, tzinfo=dt.UTC))
    case_at(db_session, "routed", department="DADUI", village="V04")
    case_at(db_session, "routed", department="BS-POLICE", routed_days_ago=10,
            village="BS-V01")
    case_at(db_session, "routed", department="DADUI", village="BS-V02")
    db_session.flush()
    return {code: factories.township(db_session, code).id
            for code in ("yanggao", "beishe", "xigou")}


def scanned(session: Session, f: LedgerFilter) -> int:
    """The count by scanning the cases (a filter field the tallies cannot answer)."""
    return ledger.count(session, f.with_(created_from=dt.date(2000, 1, 1)))


@pytest.mark.parametrize("f, yanggao, beishe", [
    (LedgerFilter(), 4, 2),
    (LedgerFilter(open_only=True), 4, 2),
    (LedgerFilter(overdue=Overdue.ANY), 2, 1),
    (LedgerFilter(overdue=Overdue.CHECK), 1, 1),
    (LedgerFilter(overdue=Overdue.RECTIFY), 1, 0),
    (LedgerFilter(severity=Severity.MAJOR, open_only=True), 1, 0),
])
def test_a_township_counts_its_own_cases(db_session: Session, county, f, yanggao,
                                         beishe) -> None:
    for code, expected in (("yanggao", yanggao), ("beishe", beishe), ("xigou", 0)):
        narrowed = f.with_(township_id=county[code])
        assert ledger.count(db_session, narrowed) == expected
        assert scanned(db_session, narrowed) == expected
        assert len(db_session.scalars(ledger.select_cases(narrowed)).all()) == expected
    by_township = ledger.counts_by(db_session, f, "township")
    assert by_township == {k: v for k, v in ((county["yanggao"], yanggao),
                                             (county["beishe"], beishe)) if v}


def test_a_department_serving_two_townships_is_counted_per_township(
        db_session: Session, county) -> None:
    dadui = factories.department(db_session, "DADUI").id
    f = LedgerFilter(department_id=dadui, open_only=True)
    assert ledger.count(db_session, f) == 2
    assert ledger.count(db_session, f.with_(township_id=county["beishe"])) == 1
    assert scanned(db_session, f.with_(township_id=county["beishe"])) == 1
    by_department = ledger.counts_by(db_session, LedgerFilter(township_id=county["yanggao"],
                                                              open_only=True), "department")
    assert by_department[dadui] == 1
    assert factories.department(db_session, "BS-POLICE").id not in by_department


def test_the_township_filter_reads_back_from_its_query_string() -> None:
    f = LedgerFilter(township_id=7, open_only=True)
    assert f.to_args() == {"open": "1", "township": "7"}
    assert LedgerFilter.from_args(MultiDict(f.to_args())) == f


def test_a_filter_is_narrowed_to_the_readers_townships() -> None:
    f = LedgerFilter(township_id=2, overdue=Overdue.ANY)
    assert ledger.scoped(f, None) == f  # the county's staff: as asked
    assert ledger.scoped(f, {2}) == f
    assert ledger.scoped(f, {1}) == f.with_(township_id=1)  # not the other township
    assert ledger.scoped(LedgerFilter(), {1}) == LedgerFilter(township_id=1)
    assert ledger.scoped(LedgerFilter(), set()).township_id == 0  # matches nothing


def test_the_ranking_reads_each_township(db_session: Session, county) -> None:
    rows = {row.name: row for row in ranking.township_ranking(db_session)}
    yanggao, beishe, xigou = rows["阳高乡"], rows["北社乡（示例）"], rows["西沟乡（示例）"]
    assert yanggao.figures["check_overdue"].value == 1
    assert yanggao.figures["rectify_overdue"].value == 1
    assert yanggao.figures["stock_open"].value == 1
    assert beishe.figures["check_overdue"].value == 1
    assert beishe.figures["stock_open"].value == 0
    assert (yanggao.rectified, yanggao.confirmed, beishe.confirmed) == (0, 2, 0)
    assert yanggao.rectification_rate == 0.0 and beishe.rectification_rate is None
    assert xigou.figures["check_overdue"].value == 0
    # Each figure is the ledger's filter narrowed to the township.
    figure = beishe.figures["check_overdue"]
    assert ledger.count(db_session, figure.filter) == figure.value == 1
    assert figure.filter.township_id == county["beishe"]


def test_the_goals_of_a_township(db_session: Session, county) -> None:
    assert goals.plan_goals(db_session, township_id=county["yanggao"]).stock_open.value == 1
    assert goals.plan_goals(db_session, township_id=county["beishe"]).stock_open.value == 0
    assert goals.plan_goals(db_session).stock_open.value == 1


def test_a_bulletins_figures_for_a_township(db_session: Session, county) -> None:
    today = clock.local_today()
    start = today - dt.timedelta(days=30)
    beishe = bulletins.period_figures(db_session, start, today, township_id=county["beishe"])
    whole = bulletins.period_figures(db_session, start, today)
    assert beishe["cases_opened"] == 2 and whole["cases_opened"] == 5
    assert beishe["overdue"] == 1 and whole["overdue"] == 3
    assert [row["count"] for row in beishe["overdue_by_department"]] == [1]


def test_the_review_of_a_township(db_session: Session, county) -> None:
    today = clock.local_today()
    start = today - dt.timedelta(days=30)
    whole = {r.department.code: r for r in review.review(db_session, start, today)}
    beishe = {r.department.code: r for r in review.review(
        db_session, start, today, townships={county["beishe"]})}
    assert whole["DADUI"].assignments == 2 and beishe["DADUI"].assignments == 1
    assert "BS-POLICE" in beishe and "FIRE" not in beishe and "SCJG" not in beishe
    assert beishe["BS-POLICE"].assignments == 1


def test_a_township_office_urges_about_its_own_townships_cases_only(
        db_session: Session, county) -> None:
    dadui = factories.department(db_session, "DADUI")
    late = case_at(db_session, "routed", department="DADUI", routed_days_ago=10,
                   village="BS-V03")
    yanggao = accounts.create_user(db_session, "sup-yg", Role.SUPERVISOR, "Tz9!kq3#Lm2wQ",
                                   township_code="yanggao")
    with pytest.raises(WorkflowError, match="不属于本乡镇"):
        urging.issue_notice(db_session, dadui, [late], actor=yanggao, text="请办理")
    beishe = accounts.create_user(db_session, "sup-bs", Role.SUPERVISOR, "Tz9!kq3#Lm2wQ",
                                  township_code="beishe")
    notice = urging.issue_notice(db_session, dadui, [late], actor=beishe, text="请办理")
    assert notice.township_id == county["beishe"]
