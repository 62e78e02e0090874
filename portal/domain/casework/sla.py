"""Time limits: working days on the Chinese calendar, due dates, overdue, reminders.

Which source decides whether a day is a working day, for each year:

1. the calendar table (``CalendarYear``/``CalendarDay``) when an admin has entered that year
   from the State Council's notice, over the statutory holidays of that year, so that a notice
   entered in part never turns a statutory holiday into a working day;
2. else the published schedule (``official_schedule``: the ``chinesecalendar`` package, which
   knows the State Council's notices to 2026; tests replace it);
3. else Monday to Friday less the statutory holidays that 《全国年节及纪念日放假办法》 fixes
   (``statutory_holidays``). The make-up working days (调休) are then unknown, so
   ``calendar_status`` reports the year's schedule as missing and the supervisor's and admin's
   pages warn.

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
from holidays.calendars import _ChineseLunisolar
from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.domain.access import audit
from portal.domain.casework import leads, notifications
from portal.domain.clock import local_today, local_zone, utcnow
from portal.domain.enums import CaseStatus
from portal.domain.models import (
    Assignment,
    CalendarDay,
    CalendarYear,
    Case,
    CaseClock,
    Department,
    User,
)

# The limits themselves, with their legal basis, are in casework/limits.py.
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
_LAW = "《全国年节及纪念日放假办法》"


@dataclass(frozen=True)
class CalendarStatus:
    year: int
    source: CalendarSource
    notice: str = ""
    # Statutory holidays on weekdays that the admin's table does not list (counted as holidays).
    unlisted: tuple[str, ...] = ()

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
        text = f"{self.year} 年工作日依据：{_SOURCE_LABELS[self.source]}"
        if self.notice:
            text += f"（{self.notice}）"
        if self.unlisted:
            text += f"；通知未列出的法定节假日（{'、'.join(self.unlisted)}）按{_LAW}计为放假"
        return text


class DaySource(StrEnum):
    """Where one day of the calendar comes from."""

    NOTICE = "notice"  # a row of the notice an admin imported
    PACKAGE = "package"  # the published schedule (chinesecalendar)
    STATUTORY = "statutory"  # the law's holidays, where no schedule lists the day


@dataclass(frozen=True)
class CalendarEntry:
    """A day that is not plain Monday to Friday: a holiday or a make-up working day."""

    day: dt.date
    workday: bool
    name: str
    source: DaySource
    origin: str  # the source in words, e.g. the notice's title


@dataclass(frozen=True)
class _Edition:
    """One version of 《全国年节及纪念日放假办法》: the days off it fixes for everyone."""

    since: int  # the first year it governs
    spring_festival: range  # days from the lunar New Year; -1 is New Year's Eve (除夕)
    labour_day: range  # days of May
    lunar_festivals: bool  # Qingming, the Dragon Boat and Mid-Autumn festivals, a day each


# Newest first. New Year's Day (1 January) and National Day (1–3 October) are in every one.
_EDITIONS = (
    _Edition(2025, range(-1, 3), range(1, 3), True),  # 2024 amendment, 国务院令第795号
    _Edition(2014, range(0, 3), range(1, 2), True),  # 2013 amendment, 国务院令第644号
    _Edition(2008, range(-1, 2), range(1, 2), True),  # 2007 amendment, 国务院令第513号
    _Edition(0, range(0, 3), range(1, 4), False),  # 1999 amendment, 国务院令第270号
)
# The lunisolar tables of the ``holidays`` package (1901–2100; the Qingming solar term from
# its formula for UTC+8), which its country classes use too. A private name: the tests pin the
# dates it gives against known years and chinesecalendar's solar terms.
_LUNISOLAR = _ChineseLunisolar()


def statutory_holidays(year: int) -> dict[dt.date, str]:
    """The days off that 《全国年节及纪念日放假办法》 fixes for everyone in ``year``, by name.

    The version in force that year (since 2025, the 2024 amendment). Weekend days are included;
    the working day given in lieu of one (补假, art. 6) is the State Council notice's to place,
    so it is not guessed here. Lunar festivals are known for 1901–2100 only.
    """
    edition = next(e for e in _EDITIONS if year >= e.since)
    days: dict[dt.date, str] = {}

    def add(day: dt.date | None, name: str) -> None:
        if day is not None:  # two festivals on one day (中秋节 on 1 October) share it
            days[day] = f"{days[day]}、{name}" if day in days else name

    add(dt.date(year, 1, 1), "元旦")
    new_year = _LUNISOLAR.lunar_new_year_date(year)[0]
    if new_year is not None:
        for offset in edition.spring_festival:
            add(new_year + dt.timedelta(days=offset), "春节")
    if edition.lunar_festivals and 1901 <= year <= 2100:
        add(_LUNISOLAR.qingming_date(year)[0], "清明节")
    for day in edition.labour_day:
        add(dt.date(year, 5, day), "劳动节")
    if edition.lunar_festivals:
        add(_LUNISOLAR.dragon_boat_date(year)[0], "端午节")
        add(_LUNISOLAR.mid_autumn_date(year)[0], "中秋节")
    for day in (1, 2, 3):
        add(dt.date(year, 10, day), "国庆节")
    return dict(sorted(days.items()))


def unlisted_statutory_holidays(year: int, listed: Iterable[dt.date]) -> dict[dt.date, str]:
    """The statutory holidays on weekdays that a schedule does not list: those that an import
    replacing the whole year would have turned into working days."""
    listed = set(listed)
    return {day: name for day, name in statutory_holidays(year).items()
            if day not in listed and day.weekday() < 5}


# Whether a day is a working day by a published schedule; None for a year it does not know.
OfficialSchedule = Callable[[dt.date], bool | None]


def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def package_schedule(day: dt.date) -> bool | None:
    """The State Council's schedule as chinesecalendar knows it."""
    if not _package_knows(day.year):
        return None
    return bool(chinese_calendar.is_workday(day))


# The published schedule every ``WorkdayCalendar`` consults unless given another; tests replace
# it so that their dates do not move with a new release of chinesecalendar.
official_schedule: OfficialSchedule = package_schedule


@dataclass
class _Year:
    source: CalendarSource
    days: dict[dt.date, bool]  # the days that are not plain Monday to Friday (not for PACKAGE)
    rows: dict[dt.date, tuple[bool, str]] = field(default_factory=dict)  # the admin's table
    notice: str = ""


class WorkdayCalendar:
    """Answers ``is_workday`` for any date, reading each year's source once."""

    def __init__(self, session: Session, official: OfficialSchedule | None = None) -> None:
        self._session = session
        self._official = official or official_schedule
        self._years: dict[int, _Year] = {}

    def _year(self, year: int) -> _Year:
        if year not in self._years:
            self._years[year] = self._load(year)
        return self._years[year]

    def _load(self, year: int) -> _Year:
        statutory = dict.fromkeys(statutory_holidays(year), False)
        entry = self._session.get(CalendarYear, year)
        if entry is not None:
            rows = {day: (workday, name) for day, workday, name in self._session.execute(
                select(CalendarDay.day, CalendarDay.workday, CalendarDay.name).where(
                    CalendarDay.day >= dt.date(year, 1, 1),
                    CalendarDay.day <= dt.date(year, 12, 31),
                ))}
            days = statutory | {day: workday for day, (workday, _) in rows.items()}
            return _Year(CalendarSource.TABLE, days, rows, entry.notice)
        if self._official(dt.date(year, 1, 1)) is not None:
            return _Year(CalendarSource.PACKAGE, {})
        return _Year(CalendarSource.FALLBACK, statutory)

    def source(self, year: int) -> CalendarSource:
        return self._year(year).source

    def status(self, year: int) -> CalendarStatus:
        schedule = self._year(year)
        if schedule.source is not CalendarSource.TABLE:
            return CalendarStatus(year, schedule.source)
        unlisted = unlisted_statutory_holidays(year, schedule.rows).values()
        return CalendarStatus(year, schedule.source, schedule.notice,
                              tuple(dict.fromkeys(unlisted)))

    def is_workday(self, day: dt.date) -> bool:
        schedule = self._year(day.year)
        if schedule.source is CalendarSource.PACKAGE:
            answer = self._official(day)
            if answer is not None:
                return answer
        return schedule.days.get(day, day.weekday() < 5)

    def add_working_days(self, start: dt.date, count: int) -> dt.date:
        """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
        day = start
        remaining = count
        while remaining > 0:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return day

    def days(self, year: int) -> list[CalendarEntry]:
        """The year's days that are not plain Monday to Friday, each with its source: the
        holidays (weekend ones too where the notice or the law names them) and the make-up
        working days."""
        schedule = self._year(year)
        statutory = statutory_holidays(year)
        entries: list[CalendarEntry] = []
        if schedule.source is CalendarSource.PACKAGE:
            day = dt.date(year, 1, 1)
            while day.year == year:
                workday = self.is_workday(day)
                if workday != (day.weekday() < 5) or day in statutory:
                    entries.append(CalendarEntry(day, workday, self._name(day, workday),
                                                 DaySource.PACKAGE, "chinesecalendar"))
                day += dt.timedelta(days=1)
            return entries
        if schedule.source is CalendarSource.TABLE:
            notice = f"通知：{schedule.notice}" if schedule.notice else "管理员录入的通知"
            entries = [CalendarEntry(day, workday, name or self._name(day, workday),
                                     DaySource.NOTICE, notice)
                       for day, (workday, name) in schedule.rows.items()]
            merged = "法定节假日，通知未列出"
        else:
            merged = "法定节假日"
        entries += [CalendarEntry(day, False, name, DaySource.STATUTORY, merged)
                    for day, name in statutory.items() if day not in schedule.rows]
        return sorted(entries, key=lambda entry: entry.day)

    def _name(self, day: dt.date, workday: bool) -> str:
        """A statutory holiday's name; a day off that a schedule adds takes the name of the
        festival in its run of days off (4 October: 国庆节)."""
        statutory = statutory_holidays(day.year)
        if day in statutory:
            return statutory[day]
        if not workday:
            for step in (dt.timedelta(days=-1), dt.timedelta(days=1)):
                other = day + step
                while other.year == day.year and not self.is_workday(other):
                    if other in statutory:
                        return statutory[other]
                    other += step
        return "调休上班" if workday else "放假"


def calendar_status(session: Session, year: int) -> CalendarStatus:
    return WorkdayCalendar(session).status(year)


def calendar_days(session: Session, year: int) -> list[CalendarEntry]:
    """The year's holidays and make-up working days with where each comes from."""
    return WorkdayCalendar(session).days(year)


def is_workday(session: Session, day: dt.date) -> bool:
    return WorkdayCalendar(session).is_workday(day)


def add_working_days(session: Session, start: dt.date, count: int) -> dt.date:
    return WorkdayCalendar(session).add_working_days(start, count)


# ---------------------------------------------------------------- due dates


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


def clock_overdue_clause(now: dt.datetime) -> ColumnElement[bool]:
    """SQL: one of the case's later legal clocks (the order, the re-inspection, the major
    hazard's report and notice, the listing decision: ``casework/limits.py``) is running past
    its due time. One range of the open clocks' index: they are few."""
    return Case.id.in_(select(CaseClock.case_id).where(
        CaseClock.met_at.is_(None), CaseClock.cancelled_at.is_(None), CaseClock.due_at < now))


# The statuses a later clock runs in: from the confirmed check to the closure review.
CLOCK_STATUSES = frozenset({CaseStatus.RECTIFYING, CaseStatus.RECTIFIED})


def overdue_clause(
    now: dt.datetime | None = None, tz: str | ZoneInfo | None = None
) -> ColumnElement[bool]:
    """SQL: the case is past its check-by while still unchecked, past its rectify-by while
    still being rectified, or past the due time of a later legal clock."""
    now = now or utcnow()
    return or_(check_overdue_clause(now), rectification_overdue_clause(local_today(now, tz)),
               clock_overdue_clause(now))


def not_overdue_clause(statuses: Iterable[CaseStatus], now: dt.datetime | None = None,
                       tz: str | ZoneInfo | None = None, *,
                       clocks: bool = True) -> ColumnElement[bool]:
    """SQL: of the cases in ``statuses`` (each of which can be overdue), exactly those that
    are not: one index range per status on (status, check_by) or (status, rectify_by), so
    counting them costs what is due ahead, not the ledger's size; less those a later clock
    makes overdue (``clocks``; False: overdue for the check or the rectification alone)."""
    now = now or utcnow()
    terms = []
    for status in sorted(statuses):
        if status is CaseStatus.RECTIFYING:
            terms.append(rectification_not_overdue_clause(local_today(now, tz)))
        elif status in AWAITING_CHECK:
            terms.append(and_(Case.status == status, Case.check_by >= now))
            terms.append(and_(Case.status == status, Case.check_by.is_(None)))
        else:
            terms.append(Case.status == status)
    if clocks:
        return and_(or_(*terms), ~clock_overdue_clause(now))
    return or_(*terms)


def rectification_not_overdue_clause(today: dt.date) -> ColumnElement[bool]:
    """SQL: being rectified and not overdue (no deadline yet, or one still ahead): the exact
    complement of ``rectification_overdue_clause`` among rectifying cases."""
    return or_(and_(Case.status == CaseStatus.RECTIFYING, Case.rectify_by >= today),
               and_(Case.status == CaseStatus.RECTIFYING, Case.rectify_by.is_(None)))


def is_rectification_overdue(case: Case, today: dt.date) -> bool:
    return rectification_overdue(case.status, case.rectify_by, today)


def rectification_overdue(status: CaseStatus, rectify_by: dt.date | None,
                          today: dt.date) -> bool:
    """Rectifying past its rectification date (a case, or a row of its columns)."""
    return status is CaseStatus.RECTIFYING and rectify_by is not None and rectify_by < today


def is_clock_overdue(case: Case, now: dt.datetime) -> bool:
    return any(c.open and c.due_at < now for c in case.clocks)


def is_overdue(case: Case, now: dt.datetime | None = None,
               tz: str | ZoneInfo | None = None, *, clocks: bool = True) -> bool:
    """``overdue_clause`` for one case; ``clocks=False``: late for the check or the
    rectification only, what partners outside the back office are told (Open311), since the
    later limits are the departments' own paperwork."""
    now = now or utcnow()
    if case.status in AWAITING_CHECK and case.check_by is not None:
        return case.check_by < now
    return is_rectification_overdue(case, local_today(now, tz)) or (
        clocks and is_clock_overdue(case, now))


# ---------------------------------------------------------------- importing a year's schedule


class CalendarImportError(ValueError):
    """The schedule file cannot be imported; the message says where and why."""


@dataclass
class ImportReport:
    year: int
    holidays: int = 0
    workdays: int = 0
    # Statutory holidays on weekdays that the file does not list: counted as holidays anyway.
    unlisted: dict[dt.date, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        text = f"已录入 {self.year} 年安排：放假 {self.holidays} 天，调休上班 {self.workdays} 天"
        if self.unlisted:
            names = "、".join(dict.fromkeys(self.unlisted.values()))
            text += (f"。文件未列出的法定节假日 {len(self.unlisted)} 天（{names}）"
                     f"已按{_LAW}计为放假")
        return text


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
    """Enter one year's schedule, replacing what the table held for that year.

    Only days that differ from Monday to Friday matter (holidays and make-up working days);
    listing the weekend days of a holiday as well is harmless. The statutory holidays stay
    holidays whether the file lists them or not (``WorkdayCalendar`` reads the table over
    them), and a file that makes one a working day is refused: the law gives everyone those
    days off, and a notice only moves the days around them.
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
    statutory = statutory_holidays(year)
    for day, workday, _ in sorted(rows):
        if workday and day in statutory:
            raise CalendarImportError(
                f"{day.isoformat()} 是{_LAW}规定的法定节假日（{statutory[day]}），"
                "不能设为上班日")

    session.execute(delete(CalendarDay).where(
        CalendarDay.day >= dt.date(year, 1, 1), CalendarDay.day <= dt.date(year, 12, 31)))
    report = ImportReport(year, unlisted=unlisted_statutory_holidays(year, seen))
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
