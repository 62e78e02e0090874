"""Time limits on the Chinese working-day calendar, the admin calendar, overdue, reminders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.casework import sla, workflow
from portal.domain.enums import CaseStatus
from portal.domain.models import AuditLog, CalendarDay, Case, Notification
from tests import factories
from tests.domain.linkage_helpers import in_days, lead, moderator, officer, routed_case

pytestmark = pytest.mark.usefixtures("app")
CN = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def package_knows_to_2026(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin what chinesecalendar knows to what it knew when these tests were written, so
    that a release that learns 2027 does not change what they test."""
    real = sla._package_knows
    monkeypatch.setattr(sla, "_package_knows", lambda year: year <= 2026 and real(year))


def at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    """A moment in China time, as the UTC datetime the database stores."""
    return dt.datetime(year, month, day, hour, tzinfo=CN).astimezone(dt.UTC)


def due_day(case: Case) -> dt.date:
    assert case.check_by is not None
    return case.check_by.astimezone(CN).date()


# The admin-entered 2027 schedule of these tests is invented test data (the State Council had
# not published 2027's when they were written): New Year's Day off, Saturday 2 January worked.
SCHEDULE_2027_CSV = """date,workday,name
2027-01-01,false,元旦
2027-01-02,true,元旦调休上班
"""


def test_the_2026_schedule_comes_from_the_package(db_session: Session) -> None:
    # National Day 2026: 1–7 October off, Saturday 10 October a make-up working day.
    assert not sla.is_workday(db_session, dt.date(2026, 10, 7))
    assert sla.is_workday(db_session, dt.date(2026, 10, 8))
    assert dt.date(2026, 10, 10).weekday() == 5
    assert sla.is_workday(db_session, dt.date(2026, 10, 10))
    assert not sla.is_workday(db_session, dt.date(2026, 10, 11))
    status = sla.calendar_status(db_session, 2026)
    assert status.source is sla.CalendarSource.PACKAGE and not status.missing


def test_a_general_case_routed_before_national_day_is_due_on_the_make_up_saturday(
    db_session: Session,
) -> None:
    case = routed_case(db_session, "wiring", now=at(2026, 9, 30))
    # Working days after 30 September: Thu 8 Oct, Fri 9 Oct, Sat 10 Oct (调休上班).
    assert due_day(case) == dt.date(2026, 10, 10)
    assert case.check_by == dt.datetime(2026, 10, 10, 23, 59, 59, tzinfo=CN)


def test_an_urgent_case_is_due_24_hours_after_routing(db_session: Session) -> None:
    routed_at = at(2026, 9, 30, 16)
    case = routed_case(db_session, "blocked_escape", now=routed_at)
    assert case.check_by == routed_at + dt.timedelta(hours=24)
    assert case.check_by.astimezone(CN) == dt.datetime(2026, 10, 1, 16, tzinfo=CN)


def test_without_a_2027_schedule_the_fallback_counts_and_warns(db_session: Session) -> None:
    case = routed_case(db_session, "wiring", now=at(2026, 12, 30))
    # Thu 31 Dec, (Fri 1 Jan is a statutory holiday), Mon 4 Jan, Tue 5 Jan.
    assert due_day(case) == dt.date(2027, 1, 5)
    status = sla.calendar_status(db_session, 2027)
    assert status.missing and status.source is sla.CalendarSource.FALLBACK
    assert "2027 年的节假日调休安排尚未录入" in status.message


def test_an_admin_entered_2027_schedule_is_used(db_session: Session, tmp_path: Path) -> None:
    path = tmp_path / "2027.csv"
    path.write_text(SCHEDULE_2027_CSV, encoding="utf-8")
    report = sla.import_schedule_file(db_session, path, notice="国办发明电〔2026〕测试号")
    assert (report.year, report.holidays, report.workdays) == (2027, 1, 1)
    case = routed_case(db_session, "wiring", now=at(2026, 12, 30))
    # Thu 31 Dec, Sat 2 Jan (make-up day), Mon 4 Jan.
    assert due_day(case) == dt.date(2027, 1, 4)
    status = sla.calendar_status(db_session, 2027)
    assert status.source is sla.CalendarSource.TABLE and not status.missing
    assert db_session.scalar(select(AuditLog).where(AuditLog.action == "calendar.import"))


def test_the_admin_table_overrides_the_package(db_session: Session) -> None:
    # Suppose a revised notice made Thursday 8 October 2026 a holiday too.
    sla.import_schedule(db_session, [
        (dt.date(2026, 10, day), False, "国庆节") for day in range(1, 9)
    ] + [(dt.date(2026, 10, 10), True, "国庆节调休上班")])
    case = routed_case(db_session, "wiring", now=at(2026, 9, 30))
    # Fri 9, Sat 10 (make-up), Mon 12.
    assert due_day(case) == dt.date(2026, 10, 12)


def test_reimporting_a_year_replaces_its_days(db_session: Session) -> None:
    sla.import_schedule(db_session, [(dt.date(2027, 1, 1), False, "元旦"),
                                     (dt.date(2027, 1, 2), True, "调休")])
    sla.import_schedule(db_session, [(dt.date(2027, 1, 1), False, "元旦")])
    days = db_session.scalars(select(CalendarDay.day).where(
        CalendarDay.day >= dt.date(2027, 1, 1))).all()
    assert days == [dt.date(2027, 1, 1)]


def test_a_toml_schedule_imports_too(db_session: Session, tmp_path: Path) -> None:
    path = tmp_path / "2027.toml"
    path.write_text('notice = "国办发明电"\n[[days]]\ndate = 2027-01-01\nworkday = false\n'
                    'name = "元旦"\n[[days]]\ndate = "2027-01-02"\nworkday = "班"\n',
                    encoding="utf-8")
    report = sla.import_schedule_file(db_session, path)
    assert (report.holidays, report.workdays) == (1, 1)
    assert sla.is_workday(db_session, dt.date(2027, 1, 2))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,workday\n2027-01-01,false\n2028-01-01,false\n", "一个年份"),
        ("date,workday\n2027-13-01,false\n", "第 2 行：日期须写作 YYYY-MM-DD"),
        ("date,workday\n2027-01-01,maybe\n", "workday 须为"),
        ("day,off\n2027-01-01,false\n", "表头"),
        ("date,workday\n", "没有任何日期"),
        ("date,workday\n2027-01-01,false\n2027-01-01,true\n", "不止一次"),
    ],
)
def test_bad_schedules_are_refused_with_the_reason(db_session: Session, tmp_path: Path,
                                                    text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(sla.CalendarImportError, match=message):
        sla.import_schedule_file(db_session, path)


def test_calendar_cli_imports_and_reports(runner, db_session: Session, tmp_path: Path) -> None:
    path = tmp_path / "2027.csv"
    path.write_text(SCHEDULE_2027_CSV, encoding="utf-8")
    missing = runner.invoke(args=["calendar", "status", "2027"])
    assert missing.exit_code == 1 and "尚未录入" in missing.output
    result = runner.invoke(args=["calendar", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "已录入 2027 年安排：放假 1 天，调休上班 1 天" in result.output
    status = runner.invoke(args=["calendar", "status", "2026", "2027"])
    assert status.exit_code == 0 and "管理员录入" in status.output
    bad = tmp_path / "bad.csv"
    bad.write_text("date,workday\nnot-a-date,false\n", encoding="utf-8")
    refused = runner.invoke(args=["calendar", "import", str(bad)])
    assert refused.exit_code == 1 and "YYYY-MM-DD" in refused.output


# ---------------------------------------------------------------- overdue and reminders


def test_overdue_is_derived_from_the_deadlines(db_session: Session) -> None:
    now = at(2026, 10, 20)
    late_check = routed_case(db_session, "wiring", now=at(2026, 9, 30))
    on_time = routed_case(db_session, "wiring", now=at(2026, 10, 19))
    rectifying = routed_case(db_session, "blocked_escape")
    fire = officer(db_session, "FIRE")
    workflow.accept_assignment(db_session, lead(rectifying), actor=fire)
    workflow.record_check(db_session, rectifying, actor=fire, confirmed=True, findings="属实")
    workflow.set_rectification(db_session, rectifying, actor=fire, deadline=in_days(0))

    overdue_ids = set(db_session.scalars(select(Case.id).where(sla.overdue_clause(now))))
    assert late_check.id in overdue_ids and on_time.id not in overdue_ids
    assert sla.is_overdue(late_check, now) and not sla.is_overdue(on_time, now)
    # The rectify-by day itself is not overdue; the day after is.
    today_noon = dt.datetime.combine(in_days(0), dt.time(12), tzinfo=CN)
    assert not sla.is_overdue(rectifying, today_noon)
    assert sla.is_overdue(rectifying, today_noon + dt.timedelta(days=1))
    assert rectifying.id in set(db_session.scalars(select(Case.id).where(
        sla.overdue_clause(today_noon + dt.timedelta(days=1)))))
    # Once checked, a passed check-by no longer counts.
    assert rectifying.status is CaseStatus.RECTIFYING
    assert not sla.is_overdue(rectifying, today_noon)


def _reminders(session: Session, kind: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.kind.like("%_overdue")
                                       | Notification.kind.like("%_due_soon"))
    if kind:
        query = select(Notification).where(Notification.kind == kind)
    return list(session.scalars(query.order_by(Notification.id)))


def test_scan_writes_due_soon_and_overdue_reminders_once(db_session: Session) -> None:
    late = routed_case(db_session, "wiring", now=at(2026, 9, 30))          # due 10 Oct
    soon = routed_case(db_session, "blocked_escape", now=at(2026, 10, 19, 20))  # due 20 Oct
    later = routed_case(db_session, "wiring", now=at(2026, 10, 19))        # due 22 Oct
    now = at(2026, 10, 20, 9)

    report = sla.scan(db_session, now)
    assert (report.overdue, report.due_soon) == (1, 1)
    overdue = _reminders(db_session, "check_overdue")
    fire = factories.department(db_session, "FIRE")
    office = factories.department(db_session, "XAB")
    # The lead department is reminded, and the township office supervises what is late.
    assert {n.recipient_department_id for n in overdue} == {fire.id, office.id}
    assert all(n.payload["case_id"] == late.id for n in overdue)
    assert "已超期" in overdue[0].subject
    [due_soon] = _reminders(db_session, "check_due_soon")
    assert due_soon.payload["case_id"] == soon.id and due_soon.recipient_department_id == fire.id
    assert not any(n.payload["case_id"] == later.id for n in _reminders(db_session))

    # Running it again (cron) writes nothing new.
    count = len(_reminders(db_session))
    again = sla.scan(db_session, now)
    assert again.written == 0 and len(_reminders(db_session)) == count

    # Once the urgent case passes its check-by, it is reminded again as overdue.
    sla.scan(db_session, at(2026, 10, 21, 9))
    assert {n.payload["case_id"] for n in _reminders(db_session, "check_overdue")} == {
        late.id, soon.id}


def test_scan_reminds_rectification_deadlines(db_session: Session) -> None:
    case = routed_case(db_session, "blocked_escape")
    fire = officer(db_session, "FIRE")
    workflow.accept_assignment(db_session, lead(case), actor=fire)
    workflow.record_check(db_session, case, actor=fire, confirmed=True, findings="属实")
    workflow.set_rectification(db_session, case, actor=fire, deadline=in_days(2))
    noon = dt.datetime.combine(in_days(0), dt.time(12), tzinfo=CN)
    sla.scan(db_session, noon)
    assert [n.payload["case_id"] for n in _reminders(db_session, "rectify_due_soon")] == [
        case.id]
    sla.scan(db_session, noon + dt.timedelta(days=3))
    assert [n.payload["case_id"] for n in _reminders(db_session, "rectify_overdue")] == [
        case.id, case.id]


def test_sla_scan_cli_is_idempotent_and_warns_of_missing_years(runner,
                                                               db_session: Session) -> None:
    routed_case(db_session, "wiring", now=at(2026, 9, 30))
    db_session.flush()
    first = runner.invoke(args=["sla", "scan", "--now", "2026-12-20T09:00"])
    assert first.exit_code == 0, first.output
    assert "已超期 1 件" in first.output and "新写入提醒 2 条" in first.output
    assert "2027 年的节假日调休安排尚未录入" in first.output
    second = runner.invoke(args=["sla", "scan", "--now", "2026-12-20T09:00"])
    assert "新写入提醒 0 条" in second.output
    assert db_session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "check_overdue")) == 2


def test_scan_reminds_the_office_of_follow_ups_due(db_session: Session) -> None:
    case = routed_case(db_session, "blocked_escape")
    fire = officer(db_session, "FIRE")
    workflow.accept_assignment(db_session, lead(case), actor=fire)
    workflow.record_check(db_session, case, actor=fire, confirmed=True, findings="属实")
    workflow.report_rectified(db_session, case, actor=fire, report="已整改")
    workflow.approve_closure(db_session, case, actor=moderator(db_session),
                             follow_up_by=in_days(10))
    noon = dt.datetime.combine(in_days(0), dt.time(12), tzinfo=CN)
    assert sla.scan(db_session, noon).follow_ups == 0
    report = sla.scan(db_session, noon + dt.timedelta(days=8))
    assert report.follow_ups == 1
    [reminder] = _reminders(db_session, "follow_up_due")
    assert reminder.recipient_department_id == factories.department(db_session, "XAB").id
    assert sla.scan(db_session, noon + dt.timedelta(days=9)).written == 0
    # Once the follow-up is recorded there is nothing left to remind.
    workflow.follow_up(db_session, case, actor=fire, still_ok=True, findings="保持")
    assert sla.scan(db_session, noon + dt.timedelta(days=20)).follow_ups == 0
