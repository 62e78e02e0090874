"""Time limits: working days on the Chinese calendar, due dates, overdue, reminders.

Which source decides whether a day is a working day, for each year:

1. the calendar table (``CalendarYear``/``CalendarDay``) when an admin has entered that year
   from the State Council's notice;
2. else the ``chinesecalendar`` package, which knows the published schedules (to 2026);
3. else Monday to Friday less the statutory holidays of the ``holidays`` package. The
   make-up working days (调休) are then unknown, so ``calendar_status`` reports the year's
   schedule as missing and the supervisor's and admin's pages warn.

Overdue is derived from ``check_by``/``rectify_by`` and the clock (``overdue_clause``), never
stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays
from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.domain.access import audit
from portal.domain.casework import leads, notifications
from portal.domain.clock import end_of_local_day, format_local, local_today, local_zone, utcnow
from portal.domain.enums import CaseStatus
from portal.domain.models import (
    Assignment,
    CalendarDay,
    CalendarYear,
    Case,
    Department,
    User,
)

URGENT_CHECK_HOURS = 24
CHECK_WORKING_DAYS = 3
# Statuses in which the on-site check is still owed.
AWAITING_CHECK = (CaseStatus.ROUTED, CaseStatus.CHECKING)


# ---------------------------------------------------------------- the working-day calendar


class CalendarSource(StrEnum):
    TABLE = "table"
    PACKAGE = "package"
    FALLBACK = "fallback"


_SOURCE_LABELS = {
    CalendarSource.TABLE: "管理员录入的国务院放假安排",
    CalendarSource.PACKAGE: "chinesecalendar 内置的国务院放假安排",
    CalendarSource.FALLBACK: "周一至周五扣除法定节假日（缺少调休安排）",
}


@dataclass(frozen=True)
class CalendarStatus:
    year: int
    source: CalendarSource

    @property
    def missing(self) -> bool:
        """True when the year's official schedule is known to nobody: warn staff."""
        return self.source is CalendarSource.FALLBACK

    @property
    def message(self) -> str:
        if self.missing:
            return (
                f"{self.year} 年的节假日调休安排尚未录入，工作日暂按周一至周五扣除法定节假日计算，"
                "调休上班日不会计入。请管理员按国务院办公厅通知录入该年安排。"
            )
        return f"{self.year} 年工作日依据：{_SOURCE_LABELS[self.source]}"


def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


class WorkdayCalendar:
    """Answers ``is_workday`` for any date, reading each year's source once."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._years: dict[int, tuple[CalendarSource, dict[dt.date, bool]]] = {}

    def _year(self, year: int) -> tuple[CalendarSource, dict[dt.date, bool]]:
        if year not in self._years:
            if self._session.get(CalendarYear, year) is not None:
                rows = self._session.execute(
                    select(CalendarDay.day, CalendarDay.workday).where(
                        CalendarDay.day >= dt.date(year, 1, 1),
                        CalendarDay.day <= dt.date(year, 12, 31),
                    )
                )
                self._years[year] = (CalendarSource.TABLE, {d: w for d, w in rows})
            elif _package_knows(year):
                self._years[year] = (CalendarSource.PACKAGE, {})
            else:
                statutory = holidays.country_holidays("CN", years=year)
                self._years[year] = (CalendarSource.FALLBACK, {d: False for d in statutory})
        return self._years[year]

    def source(self, year: int) -> CalendarSource:
        return self._year(year)[0]

    def is_workday(self, day: dt.date) -> bool:
        source, days = self._year(day.year)
        if source is CalendarSource.PACKAGE:
            return bool(chinese_calendar.is_workday(day))
        return days.get(day, day.weekday() < 5)

    def add_working_days(self, start: dt.date, count: int) -> dt.date:
        """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
        day = start
        remaining = count
        while remaining > 0:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return day


def calendar_status(session: Session, year: int) -> CalendarStatus:
    return CalendarStatus(year, WorkdayCalendar(session).source(year))


def is_workday(session: Session, day: dt.date) -> bool:
    return WorkdayCalendar(session).is_workday(day)


def add_working_days(session: Session, start: dt.date, count: int) -> dt.date:
    return WorkdayCalendar(session).add_working_days(start, count)


# ---------------------------------------------------------------- due dates


def check_due(
    session: Session, routed_at: dt.datetime, *, urgent: bool, tz: str | ZoneInfo | None = None
) -> dt.datetime:
    """When the on-site check is due: 24 hours after routing for urgent categories, else the
    end of the third working day after the day of routing (公安部令第120号)."""
    if urgent:
        return routed_at + dt.timedelta(hours=URGENT_CHECK_HOURS)
    routed_day = routed_at.astimezone(local_zone(tz)).date()
    due_day = add_working_days(session, routed_day, CHECK_WORKING_DAYS)
    return end_of_local_day(due_day, tz)


# Overdue has two meanings, each defined once here and nowhere else:
# - overdue (超期): late for its check or for its rectification. The desk, the ledger, the
#   dashboard, supervision, urging and Open311's notes use it; later time limits extend it.
# - rectification overdue (逾期): still being rectified after the deadline; the public badge
#   and the public figures use it. It is the second half of the first.


def check_overdue_clause(now: dt.datetime) -> ColumnElement[bool]:
    """SQL: the on-site check is owed and its time is up."""
    return and_(Case.status.in_(AWAITING_CHECK), Case.check_by < now)


def rectification_overdue_clause(today: dt.date) -> ColumnElement[bool]:
    """SQL: still being rectified after the rectification deadline (a local date)."""
    return and_(Case.status == CaseStatus.RECTIFYING, Case.rectify_by < today)


def overdue_clause(
    now: dt.datetime | None = None, tz: str | ZoneInfo | None = None
) -> ColumnElement[bool]:
    """SQL: the case is past its check-by while still unchecked, or past its rectify-by while
    still being rectified."""
    now = now or utcnow()
    return or_(check_overdue_clause(now), rectification_overdue_clause(local_today(now, tz)))


def not_overdue_clause(statuses: Iterable[CaseStatus], now: dt.datetime | None = None,
                       tz: str | ZoneInfo | None = None) -> ColumnElement[bool]:
    """SQL: of the cases in ``statuses`` (each of which can be overdue), exactly those that
    are not: one index range per status on (status, check_by) or (status, rectify_by), so
    counting them costs what is due ahead, not the ledger's size."""
    now = now or utcnow()
    terms = []
    for status in sorted(statuses):
        if status is CaseStatus.RECTIFYING:
            terms.append(rectification_not_overdue_clause(local_today(now, tz)))
        else:
            terms.append(and_(Case.status == status, Case.check_by >= now))
            terms.append(and_(Case.status == status, Case.check_by.is_(None)))
    return or_(*terms)


def rectification_not_overdue_clause(today: dt.date) -> ColumnElement[bool]:
    """SQL: being rectified and not overdue (no deadline yet, or one still ahead): the exact
    complement of ``rectification_overdue_clause`` among rectifying cases."""
    return or_(and_(Case.status == CaseStatus.RECTIFYING, Case.rectify_by >= today),
               and_(Case.status == CaseStatus.RECTIFYING, Case.rectify_by.is_(None)))


def is_rectification_overdue(case: Case, today: dt.date) -> bool:
    return (case.status is CaseStatus.RECTIFYING and case.rectify_by is not None
            and case.rectify_by < today)


def is_overdue(case: Case, now: dt.datetime | None = None,
               tz: str | ZoneInfo | None = None) -> bool:
    now = now or utcnow()
    if case.status in AWAITING_CHECK and case.check_by is not None:
        return case.check_by < now
    return is_rectification_overdue(case, local_today(now, tz))


@dataclass(frozen=True)
class Due:
    """What a staff page says about a case's next time limit, and whether it shows as late."""

    text: str
    overdue: bool


def _span(seconds: float) -> str:
    hours = int(seconds // 3600)
    if hours < 1:
        return f"{max(1, int(seconds // 60))} 分钟"
    if hours < 48:
        return f"{hours} 小时"
    return f"{hours // 24} 天"


def due_of(case: Case, now: dt.datetime | None = None,
           tz: str | ZoneInfo | None = None) -> Due | None:
    """The case's next time limit in words; late exactly when ``is_overdue`` says so (or, for a
    closed case, when its follow-up date has passed)."""
    now = now or utcnow()
    late = is_overdue(case, now, tz)
    if case.status in AWAITING_CHECK and case.check_by is not None:
        left = (case.check_by - now).total_seconds()
        when = format_local(case.check_by, tz)
        if late:
            return Due(f"核查已超期 {_span(-left)}（期限 {when}）", True)
        return Due(f"核查剩余 {_span(left)}（期限 {when}）", False)
    if case.status is CaseStatus.RECTIFYING:
        if case.rectify_by is None:
            return Due("尚未下达整改期限", False)
        days = (case.rectify_by - local_today(now, tz)).days
        when = case.rectify_by.isoformat()
        if late:
            return Due(f"整改已超期 {-days} 天（期限 {when}）", True)
        if days == 0:
            return Due(f"整改今天到期（{when}）", False)
        return Due(f"整改剩余 {days} 天（期限 {when}）", False)
    if case.status is CaseStatus.CLOSED and case.follow_up_by is not None:
        return Due(f"回头看日期 {case.follow_up_by.isoformat()}",
                   case.follow_up_by < local_today(now, tz))
    return None


# ---------------------------------------------------------------- importing a year's schedule


class CalendarImportError(ValueError):
    """The schedule file cannot be imported; the message says where and why."""


@dataclass
class ImportReport:
    year: int
    holidays: int = 0
    workdays: int = 0


_TRUE = {"1", "true", "yes", "y", "是", "班", "上班", "workday"}
_FALSE = {"0", "false", "no", "n", "否", "休", "放假", "holiday"}


def _parse_bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CalendarImportError(f"{where}：workday 须为 true/false（或 班/休），而不是 {value!r}")


def _parse_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise CalendarImportError(f"{where}：日期须写作 YYYY-MM-DD，而不是 {value!r}") from None


def parse_schedule(text: str, fmt: str) -> tuple[list[tuple[dt.date, bool, str]], str]:
    """Rows (day, workday, name) and the notice title from a CSV or TOML schedule.

    CSV: a header ``date,workday,name``. TOML: optional ``notice = "…"`` and
    ``[[days]]`` tables with ``date``, ``workday``, ``name``.
    """
    rows: list[tuple[dt.date, bool, str]] = []
    notice = ""
    if fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CalendarImportError(f"TOML 格式错误：{exc}") from None
        notice = str(data.get("notice", ""))
        for index, entry in enumerate(data.get("days", []), start=1):
            where = f"第 {index} 个 [[days]]"
            if "date" not in entry or "workday" not in entry:
                raise CalendarImportError(f"{where}：缺少 date 或 workday")
            rows.append((_parse_date(entry["date"], where),
                         _parse_bool(entry["workday"], where), str(entry.get("name", ""))))
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"date", "workday"} <= set(reader.fieldnames):
            raise CalendarImportError("CSV 第 1 行须为表头 date,workday,name")
        for record in reader:
            where = f"第 {reader.line_num} 行"
            rows.append((_parse_date(record["date"], where),
                         _parse_bool(record["workday"], where),
                         (record.get("name") or "").strip()))
    else:
        raise CalendarImportError("只支持 .csv 或 .toml 文件")
    return rows, notice


def import_schedule(
    session: Session,
    rows: Iterable[tuple[dt.date, bool, str]],
    *,
    notice: str = "",
    actor: User | None = None,
) -> ImportReport:
    """Enter one year's whole schedule, replacing what the table held for that year.

    Only days that differ from Monday to Friday matter (holidays and make-up working days);
    listing the weekend days of a holiday as well is harmless.
    """
    rows = list(rows)
    if not rows:
        raise CalendarImportError("文件中没有任何日期")
    years = {day.year for day, _, _ in rows}
    if len(years) != 1:
        raise CalendarImportError(
            f"一个文件只能包含一个年份的安排，文件中有：{', '.join(map(str, sorted(years)))}")
    year = years.pop()
    seen: set[dt.date] = set()
    for day, _, _ in rows:
        if day in seen:
            raise CalendarImportError(f"日期 {day.isoformat()} 出现了不止一次")
        seen.add(day)

    session.execute(delete(CalendarDay).where(
        CalendarDay.day >= dt.date(year, 1, 1), CalendarDay.day <= dt.date(year, 12, 31)))
    report = ImportReport(year)
    for day, workday, name in sorted(rows):
        session.add(CalendarDay(day=day, workday=workday, name=name[:50]))
        if workday:
            report.workdays += 1
        else:
            report.holidays += 1
    entry = session.get(CalendarYear, year)
    before = None
    if entry is None:
        entry = CalendarYear(year=year)
        session.add(entry)
    else:
        before = {"notice": entry.notice}
    entry.notice = notice[:200]
    entry.entered_by_id = actor.id if actor else None
    entry.entered_at = utcnow()
    session.flush()
    audit.record(session, "calendar.import", "calendar_year", year, actor=actor, before=before,
                 after={"notice": entry.notice, "holidays": report.holidays,
                        "workdays": report.workdays})
    return report


def import_schedule_file(session: Session, path: Path, *, notice: str = "",
                         actor: User | None = None) -> ImportReport:
    fmt = path.suffix.lower().lstrip(".")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CalendarImportError(f"无法读取 {path}：{exc.strerror}") from None
    rows, file_notice = parse_schedule(text, fmt)
    return import_schedule(session, rows, notice=notice or file_notice, actor=actor)


# ---------------------------------------------------------------- reminders


@dataclass
class ScanReport:
    due_soon: int = 0
    overdue: int = 0
    follow_ups: int = 0
    written: int = 0
    missing_years: list[int] = field(default_factory=list)



def scan(
    session: Session,
    now: dt.datetime | None = None,
    *,
    tz: str | ZoneInfo | None = None,
    due_soon: dt.timedelta = dt.timedelta(hours=24),
    rectify_warn_days: int = 3,
    batch: int = 500,
) -> ScanReport:
    """Write due-soon and overdue reminders to the outbox. Running it again writes nothing
    new: each reminder's dedupe key names the case, the kind and the deadline."""
    now = now or utcnow()
    today = local_today(now, tz)
    report = ScanReport()
    offices: dict[int, Department | None] = {}

    def office_of(case: Case) -> Department | None:
        """The case's township office, looked up once per township in a scan."""
        township = case.village.township
        if township.id not in offices:
            offices[township.id] = notifications.office_department(session, township)
        return offices[township.id]

    due_check = and_(Case.status.in_(AWAITING_CHECK), Case.check_by.is_not(None),
                     Case.check_by <= now + due_soon)
    due_rectify = and_(Case.status == CaseStatus.RECTIFYING, Case.rectify_by.is_not(None),
                       Case.rectify_by <= today + dt.timedelta(days=rectify_warn_days))
    last_id = 0
    while True:
        cases = session.scalars(
            select(Case).where(or_(due_check, due_rectify), Case.id > last_id)
            .options(joinedload(Case.unit), joinedload(Case.category),
                     selectinload(Case.assignments).joinedload(Assignment.department))
            .order_by(Case.id).limit(batch)
        ).all()
        if not cases:
            break
        last_id = cases[-1].id
        for case in cases:
            if case.status in AWAITING_CHECK:
                assert case.check_by is not None
                stage, deadline = "check", case.check_by.isoformat()
                label = f"现场核查时限 {case.check_by.astimezone(local_zone(tz)):%Y-%m-%d %H:%M}"
            else:
                assert case.rectify_by is not None
                stage, deadline = "rectify", case.rectify_by.isoformat()
                label = f"整改期限 {case.rectify_by:%Y-%m-%d}"
            late = is_overdue(case, now, tz)
            kind = f"{stage}_{'overdue' if late else 'due_soon'}"
            if late:
                report.overdue += 1
            else:
                report.due_soon += 1
            subject = (f"【已超期】案件 #{case.id} {label}" if late
                       else f"【即将到期】案件 #{case.id} {label}")
            body = f"单位：{case.unit.name}\n类别：{case.category.name}\n{label}"
            payload = {"case_id": case.id, "deadline": deadline}
            lead = leads.active_lead(case)
            if lead is not None and notifications.notify(
                session, kind, subject, body, department=lead.department, payload=payload,
                dedupe_key=f"{kind}:{case.id}:{lead.department_id}:{deadline}",
            ):
                report.written += 1
            # The township office supervises every deadline that has passed.
            office = office_of(case)
            supervise = late and (lead is None or office is None
                                  or office.id != lead.department_id)
            if supervise and office is not None and notifications.notify(
                session, kind, subject, body, department=office, payload=payload,
                dedupe_key=f"{kind}:{case.id}:{office.id}:{deadline}",
            ):
                report.written += 1
    report.follow_ups, written = _remind_follow_ups(
        session, office_of, today + dt.timedelta(days=rectify_warn_days), batch)
    report.written += written
    this_year = today.year
    for year in (this_year, this_year + 1):
        if calendar_status(session, year).missing:
            report.missing_years.append(year)
    return report


def _remind_follow_ups(session: Session, office_of: Callable[[Case], Department | None],
                       until: dt.date, batch: int) -> tuple[int, int]:
    """Remind the office of closed cases whose follow-up check (回头看) is due by ``until``."""
    due = written = 0
    last_id = 0
    while True:
        cases = session.scalars(
            select(Case).where(Case.status == CaseStatus.CLOSED, Case.follow_up_by <= until,
                               Case.id > last_id)
            .options(joinedload(Case.unit)).order_by(Case.id).limit(batch)
        ).all()
        if not cases:
            return due, written
        last_id = cases[-1].id
        for case in cases:
            assert case.follow_up_by is not None
            due += 1
            office = office_of(case)
            if office is not None and notifications.notify(
                session, "follow_up_due",
                f"回头看到期：案件 #{case.id} {case.unit.name}（{case.follow_up_by:%Y-%m-%d}）",
                "该隐患已销案，请按期回头看，登记整改是否保持。", department=office,
                payload={"case_id": case.id, "follow_up_by": case.follow_up_by.isoformat()},
                dedupe_key=f"follow_up_due:{case.id}:{case.follow_up_by.isoformat()}",
            ):
                written += 1
