"""The hazard ledger (隐患台账): one filter, one query, for the page, the exports and the
dashboard.

``LedgerFilter`` is parsed from a query string and written back into one, so a figure on the
dashboard links to the ledger filtered to exactly the cases it counts: both come from
``conditions``. Overdue is ``sla.overdue_clause``, never a stored flag.

A filter names at most one township (``township_id``); ``scoped`` narrows a filter to the
townships a user may see (``permissions.townships_of``), so a township's staff read only their
township's cases whatever the query string says.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.administration.townships import of_village
from portal.domain.casework import leads, sla
from portal.domain.clock import utcnow
from portal.domain.enums import (
    CaseStatus,
    Severity,
    SupervisionLevel,
)
from portal.domain.models import (
    Assignment,
    Case,
    Category,
    Unit,
    VenueType,
    Village,
)
from portal.domain.paging import Page, among
from portal.domain.supervision import tallies

OPEN_STATUSES = tuple(s for s in CaseStatus if s is not CaseStatus.CLOSED)
DUE_SOON_DAYS = 7


class Overdue(StrEnum):
    ANY = "any"
    CHECK = "check"
    RECTIFY = "rectify"
    # A later legal clock: the order, the re-inspection, a major hazard's report or notice,
    # the listing decision (casework/limits.py).
    CLOCK = "clock"


OVERDUE_LABELS = {Overdue.ANY: "已超期", Overdue.CHECK: "核查超期", Overdue.RECTIFY: "整改超期",
                  Overdue.CLOCK: "文书、复查或报告超期"}


SORTS: dict[str, tuple[str, Any]] = {
    "id": ("编号", Case.id),
    "created": ("立案时间", Case.created_at),
    "check_by": ("核查期限", Case.check_by),
    "rectify_by": ("整改期限", Case.rectify_by),
    "closed": ("销案时间", Case.closed_at),
}


@dataclass(frozen=True)
class LedgerFilter:
    statuses: tuple[CaseStatus, ...] = ()
    open_only: bool = False
    department_id: int | None = None
    township_id: int | None = None
    village_id: int | None = None
    category_id: int | None = None
    venue_type_id: int | None = None
    severity: Severity | None = None
    supervision: SupervisionLevel | None = None
    listed: bool = False
    overdue: str = ""
    due_soon: bool = False
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    closed_from: dt.date | None = None
    closed_to: dt.date | None = None
    # Open at the end of this local day (created by then, not closed by then).
    open_on: dt.date | None = None
    sort: str = "id"
    descending: bool = True

    def with_(self, **changes: Any) -> LedgerFilter:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> LedgerFilter:
        """Parse a query string; anything unreadable is ignored rather than refused."""
        def get(key: str) -> str:
            value = args.get(key)
            return str(value).strip() if value is not None else ""

        statuses: list[CaseStatus] = []
        getlist = getattr(args, "getlist", None)
        raw_statuses = getlist("status") if getlist else [get("status")]
        for raw in raw_statuses:
            for part in str(raw).split(","):
                if part in CaseStatus._value2member_map_:
                    statuses.append(CaseStatus(part))
        sort = get("sort")
        return cls(
            statuses=tuple(dict.fromkeys(statuses)),
            open_only=get("open") == "1",
            department_id=_int(get("department")),
            township_id=_int(get("township")),
            village_id=_int(get("village")),
            category_id=_int(get("category")),
            venue_type_id=_int(get("venue_type")),
            severity=_enum(Severity, get("severity")),
            supervision=_enum(SupervisionLevel, get("supervision")),
            listed=get("listed") == "1",
            overdue=get("overdue") if get("overdue") in OVERDUE_LABELS else "",
            due_soon=get("due_soon") == "1",
            created_from=_date(get("created_from")),
            created_to=_date(get("created_to")),
            closed_from=_date(get("closed_from")),
            closed_to=_date(get("closed_to")),
            open_on=_date(get("open_on")),
            sort=sort if sort in SORTS else "id",
            descending=get("dir") != "asc",
        )

    def to_args(self) -> dict[str, Any]:
        """The query string that ``from_args`` reads back into this same filter."""
        args: dict[str, str] = {}
        if self.statuses:
            args["status"] = ",".join(s.value for s in self.statuses)
        flags = {"open": self.open_only, "listed": self.listed, "due_soon": self.due_soon}
        args.update({key: "1" for key, on in flags.items() if on})
        ids = {"department": self.department_id, "township": self.township_id,
               "village": self.village_id,
               "category": self.category_id, "venue_type": self.venue_type_id}
        args.update({key: str(value) for key, value in ids.items() if value is not None})
        if self.severity:
            args["severity"] = self.severity.value
        if self.supervision:
            args["supervision"] = self.supervision.value
        if self.overdue:
            args["overdue"] = self.overdue
        dates = {"created_from": self.created_from, "created_to": self.created_to,
                 "closed_from": self.closed_from, "closed_to": self.closed_to,
                 "open_on": self.open_on}
        args.update({key: value.isoformat() for key, value in dates.items() if value})
        if self.sort != "id":
            args["sort"] = self.sort
        if not self.descending:
            args["dir"] = "asc"
        return args


def scoped(f: LedgerFilter, townships: Collection[int] | None) -> LedgerFilter:
    """``f`` narrowed to the townships a user may see (``permissions.townships_of``; None:
    every one). A township outside them is replaced by theirs; a user of no township at all
    is given one that matches no case."""
    if townships is None or f.township_id in townships:
        return f
    return f.with_(township_id=min(townships) if townships else 0)


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _enum(cls: Any, text: str) -> Any:
    return cls(text) if text in cls._value2member_map_ else None


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def start_of_local_day(day: dt.date, tz: str | ZoneInfo | None = None) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(0), tzinfo=clock.local_zone(tz))
    return local.astimezone(dt.UTC)


def _next_day(day: dt.date, tz: str | ZoneInfo | None) -> dt.datetime:
    return start_of_local_day(day + dt.timedelta(days=1), tz)


def check_overdue(now: dt.datetime, tz: str | ZoneInfo | None = None) -> ColumnElement[bool]:
    return sla.check_overdue_clause(now)


def rectify_overdue(now: dt.datetime, tz: str | ZoneInfo | None = None) -> ColumnElement[bool]:
    return sla.rectification_overdue_clause(clock.local_today(now, tz))


def due_soon_clause(now: dt.datetime, tz: str | ZoneInfo | None = None) -> ColumnElement[bool]:
    """Not yet overdue, but the check or the rectification falls due within seven days."""
    today = clock.local_today(now, tz)
    # Written as one index range per status on (status, check_by) / (status, rectify_by):
    # "not overdue" is exactly "the deadline has not passed" here.
    soon = now + dt.timedelta(days=DUE_SOON_DAYS)
    return or_(
        *(and_(Case.status == status, Case.check_by >= now, Case.check_by < soon)
          for status in sla.AWAITING_CHECK),
        and_(Case.status == CaseStatus.RECTIFYING, Case.rectify_by >= today,
             Case.rectify_by <= today + dt.timedelta(days=DUE_SOON_DAYS)),
    )




def conditions(f: LedgerFilter, now: dt.datetime | None = None,
               tz: str | ZoneInfo | None = None) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the filter, on ``Case`` alone (subqueries, no joins)."""
    now = now or utcnow()
    where: list[ColumnElement[bool]] = []
    if f.statuses:
        where.append(Case.status.in_(f.statuses))
    if f.open_only:
        where.append(Case.status != CaseStatus.CLOSED)
    if f.department_id is not None:
        where.append(leads.lead_clause(f.department_id))
    if f.township_id is not None:
        where.append(of_village(Case.village_id, {f.township_id}))
    if f.village_id is not None:
        where.append(Case.village_id == f.village_id)
    if f.category_id is not None:
        where.append(Case.category_id == f.category_id)
    if f.venue_type_id is not None:
        where.append(Case.venue_type_id == f.venue_type_id)  # the case's copy of its unit's
    if f.severity is not None:
        where.append(Case.severity == f.severity)
    if f.supervision is not None:
        where.append(Case.supervision_level == f.supervision)
    if f.listed:
        where.append(Case.supervision_level != SupervisionLevel.NONE)
    if f.overdue == Overdue.ANY:
        where.append(sla.overdue_clause(now, tz))
    elif f.overdue == Overdue.CHECK:
        where.append(check_overdue(now, tz))
    elif f.overdue == Overdue.RECTIFY:
        where.append(rectify_overdue(now, tz))
    elif f.overdue == Overdue.CLOCK:
        where.append(sla.clock_overdue_clause(now))
    if f.due_soon:
        where.append(due_soon_clause(now, tz))
    if f.created_from:
        where.append(Case.created_at >= start_of_local_day(f.created_from, tz))
    if f.created_to:
        where.append(Case.created_at < _next_day(f.created_to, tz))
    if f.closed_from:
        where.append(Case.closed_at >= start_of_local_day(f.closed_from, tz))
    if f.closed_to:
        where.append(Case.closed_at < _next_day(f.closed_to, tz))
    if f.open_on:
        end = _next_day(f.open_on, tz)
        where.append(Case.created_at < end)
        where.append(or_(Case.closed_at.is_(None), Case.closed_at >= end))
    return where


def select_cases(f: LedgerFilter, now: dt.datetime | None = None,
                 tz: str | ZoneInfo | None = None) -> Select[tuple[Case]]:
    column = SORTS[f.sort][1]
    order = column.desc() if f.descending else column.asc()
    ordering = [order] if f.sort == "id" else [order, Case.id.desc() if f.descending
                                               else Case.id.asc()]
    query: Select[Any] = select(Case).where(*conditions(f, now, tz)).order_by(*ordering)
    return query


def count(session: Session, f: LedgerFilter, now: dt.datetime | None = None,
          tz: str | ZoneInfo | None = None) -> int:
    """How many cases the filter selects: from the tallies when they can say, else counted."""
    quick = _from_tallies(session, f, None, now, tz)
    if quick is not None:
        return int(quick)  # type: ignore[arg-type]
    return _scan_count(session, f, now, tz)


def _scan_count(session: Session, f: LedgerFilter, now: dt.datetime | None,
                tz: str | ZoneInfo | None, extra: tuple[ColumnElement[bool], ...] = ()) -> int:
    stmt = select(func.count()).select_from(Case).where(*conditions(f, now, tz), *extra)
    return session.scalar(stmt) or 0


def count_many(session: Session, filters: list[LedgerFilter], now: dt.datetime | None = None,
               tz: str | ZoneInfo | None = None) -> list[int]:
    """``count`` of each filter, in one pass over the cases (the goals' month-end series)."""
    if not filters:
        return []
    columns = [func.count(case((and_(true(), *conditions(f, now, tz)), 1)))
               for f in filters]
    stmt = select(*columns).select_from(Case)
    severities = {f.severity for f in filters}
    if len(severities) == 1 and None not in severities:
        # All of them count one severity (the plan's goals: major hazards): pass over those
        # rows only, on the (severity, status, created_at, closed_at) index.
        stmt = stmt.where(Case.severity == severities.pop())
    return [int(n or 0) for n in session.execute(stmt).one()]


def counts_by(session: Session, f: LedgerFilter, dimension: str,
              now: dt.datetime | None = None,
              tz: str | ZoneInfo | None = None) -> dict[Any, int]:
    """Counts of the filter's cases per status, village, township or lead department; each
    count is what ``count`` gives for the filter narrowed to that key."""
    quick = _from_tallies(session, f, dimension, now, tz)
    if quick is not None:
        return quick  # type: ignore[return-value]
    return _scan_counts_by(session, f, dimension, now, tz)


def _scan_counts_by(session: Session, f: LedgerFilter, dimension: str,
                    now: dt.datetime | None, tz: str | ZoneInfo | None,
                    extra: tuple[ColumnElement[bool], ...] = ()) -> dict[Any, int]:
    where = [*conditions(f, now, tz), *extra]
    stmt: Select[Any, int]
    if dimension == "status":
        stmt = select(Case.status, func.count()).where(*where).group_by(Case.status)
    elif dimension == "village":
        stmt = select(Case.village_id, func.count()).where(*where).group_by(Case.village_id)
    elif dimension == "township":
        stmt = (select(Village.township_id, func.count(Case.id))
                .join(Village, Village.id == Case.village_id)
                .where(*where).group_by(Village.township_id))
    elif dimension == "department":
        stmt = (
            select(Assignment.department_id, func.count(Case.id))
            .join(Assignment, Assignment.case_id == Case.id)
            .where(*where, leads.is_lead(Assignment))
            .group_by(Assignment.department_id)
        )
    else:
        raise ValueError(dimension)
    return {key: number for key, number in session.execute(stmt)}


# ---------------------------------------------------------------- from the tallies

# The filter fields the tallies can answer; any other field set means counting the rows.
_CASE_TALLY_FIELDS = frozenset({"statuses", "open_only", "overdue", "village_id", "township_id",
                                "severity", "supervision", "listed", "sort", "descending"})
_DEPARTMENT_TALLY_FIELDS = frozenset({"statuses", "open_only", "overdue", "department_id",
                                      "township_id", "sort", "descending"})
_OVERDUE_STATUSES = {
    Overdue.CHECK: frozenset(sla.AWAITING_CHECK),
    Overdue.RECTIFY: frozenset({CaseStatus.RECTIFYING}),
    Overdue.CLOCK: sla.CLOCK_STATUSES,
    Overdue.ANY: frozenset({*sla.AWAITING_CHECK, *sla.CLOCK_STATUSES}),
}
_DEFAULT = LedgerFilter()


def _answerable(f: LedgerFilter, dimension: str | None) -> str | None:
    """Which tally answers the filter ("case" or "department"), or None."""
    set_fields = {field.name for field in dataclasses.fields(f)
                  if getattr(f, field.name) != getattr(_DEFAULT, field.name)}
    if (f.department_id is not None or dimension == "department") and dimension != "village":
        return "department" if set_fields <= _DEPARTMENT_TALLY_FIELDS else None
    if f.department_id is None and set_fields <= _CASE_TALLY_FIELDS:
        return "case"
    return None


def _tally_sums(session: Session, kind: str, f: LedgerFilter,
                statuses: frozenset[CaseStatus], dimension: str | None) -> dict[Any, int]:
    if kind == "department":
        return tallies.sums(session, statuses, department_id=f.department_id,
                            township_id=f.township_id, by=dimension)
    return tallies.sums(session, statuses, village_id=f.village_id, severity=f.severity,
                        supervision=f.supervision, listed=f.listed,
                        township_id=f.township_id, by=dimension)


def _from_tallies(session: Session, f: LedgerFilter, dimension: str | None,
                  now: dt.datetime | None, tz: str | ZoneInfo | None
                  ) -> int | dict[Any, int] | None:
    """``count`` (dimension None) or ``counts_by`` from the tallies, or None if they cannot
    say. Overdue is time, not a stored fact: the cases that could be overdue are summed from
    the tallies and those not yet due (few: their deadlines lie ahead) are counted and taken
    away, so the cost follows the cases due soon, not the size of the ledger."""
    kind = _answerable(f, dimension)
    if kind is None:
        return None
    now = now or utcnow()
    statuses = frozenset(f.statuses or CaseStatus)
    if f.open_only:
        statuses -= {CaseStatus.CLOSED}
    if f.overdue:
        statuses &= _OVERDUE_STATUSES[Overdue(f.overdue)]
    sums = _tally_sums(session, kind, f, statuses, dimension) if statuses else {}
    if f.overdue and statuses:
        base = f.with_(overdue="", open_only=False, statuses=())
        overdue = Overdue(f.overdue)
        not_due = (and_(Case.status.in_(statuses), ~sla.clock_overdue_clause(now))
                   if overdue is Overdue.CLOCK else
                   sla.not_overdue_clause(statuses, now, tz, clocks=overdue is Overdue.ANY))
        sqlite = session.get_bind().dialect.name == "sqlite"
        if dimension == "department" or (dimension is not None and sqlite):
            # Measured at 1M cases: grouped by village, SQLite's planner walks the whole
            # (village_id, status) index in group order (1 s); as IN (ids) it takes the index
            # ranges first (17 ms), while PostgreSQL does better with the plain condition
            # (26 ms against 104 ms). Joined to the assignments, both do better with IN.
            not_due = Case.id.in_(select(Case.id).where(not_due))
        extra = (not_due,)
        if dimension is None:
            sums[None] -= _scan_count(session, base, now, tz, extra)
        else:
            for key, n in _scan_counts_by(session, base, dimension, now, tz, extra).items():
                sums[key] = sums.get(key, 0) - n
    if dimension is None:
        return sums.get(None, 0)
    return {key: n for key, n in sums.items() if n}


# ---------------------------------------------------------------- export

EXPORT_HEADERS = (
    "编号", "隐患单位", "行政村", "场所类型", "隐患类别", "隐患等级", "状态", "督办等级",
    "牵头部门", "立案时间", "核查期限", "整改期限", "销案时间", "是否超期",
)
EXPORT_BATCH = 1000


class LedgerRow(NamedTuple):
    """A ledger line as plain values: what the ledger's page shows and its exports write."""
    id: int
    unit: str
    village: str
    venue_type: str | None
    category: str
    severity: Severity
    status: CaseStatus
    supervision_level: SupervisionLevel
    lead: str | None
    created_at: dt.datetime | None
    check_by: dt.datetime | None
    rectify_by: dt.date | None
    closed_at: dt.datetime | None
    overdue: bool


def _rows(now: dt.datetime, tz: str | ZoneInfo | None) -> Select[Any]:
    """The columns of a ``LedgerRow``: the case, the names it is shown with, its lead
    department's id (``leads.lead_department_column``, named by ``_ledger_row``) and whether
    it is overdue by the SQL rule (``sla.overdue_clause``), in one statement joined on
    primary keys."""
    return _named_rows().add_columns(case((sla.overdue_clause(now, tz), True), else_=False))


@functools.cache
def _named_rows() -> Select[Any]:
    # Built once: all of a row but the overdue flag, which depends on the time.
    return (
        select(Case.id, Unit.name, Village.name, VenueType.name, Category.name, Case.severity,
               Case.status, Case.supervision_level, leads.lead_department_column(),
               Case.created_at, Case.check_by, Case.rectify_by, Case.closed_at)
        .join(Unit, Unit.id == Case.unit_id)
        .join(Village, Village.id == Case.village_id)
        .join(Category, Category.id == Case.category_id)
        .outerjoin(VenueType, VenueType.id == Unit.venue_type_id))


def page_rows(session: Session, ids: Page[int], now: dt.datetime,
              tz: str | ZoneInfo | None = None) -> Page[LedgerRow]:
    """The ledger lines of a page of case ids, in the page's order. Rows of columns, not
    fifty cases with their units, villages, categories and venue types as entities and two
    more queries for the lead departments and the overdue flags (issue 19: the ledger's page
    spent more in the ORM and its three statements than in drawing the table)."""
    rows = (session.execute(_rows(now, tz).where(among(session, Case.id, ids.items))).all()
            if ids.items else [])
    names = leads.department_names(session, (row[_LEAD] for row in rows))
    return ids.filled({row[0]: _ledger_row(row, names) for row in rows})


_LEAD = LedgerRow._fields.index("lead")


def _ledger_row(row: Any, names: dict[int, str]) -> LedgerRow:
    """A row of ``_rows`` with its lead department's id replaced by the name."""
    lead = row[_LEAD]
    return LedgerRow._make((*row[:_LEAD], None if lead is None else names.get(lead),
                            *row[_LEAD + 1:]))


def export_rows(session: Session, f: LedgerFilter, now: dt.datetime | None = None,
                tz: str | ZoneInfo | None = None) -> Iterator[tuple[Any, ...]]:
    """The filtered cases as rows of plain values (times local, dates as dates, absent ones
    None), fetched in batches (``yield_per``) so a hundred thousand rows are never held at
    once."""
    now = now or utcnow()
    zone = clock.local_zone(tz)
    column = SORTS[f.sort][1]
    stmt = (
        _rows(now, tz)
        .where(*conditions(f, now, tz))
        .order_by(column.desc() if f.descending else column.asc(),
                  Case.id.desc() if f.descending else Case.id.asc())
        .execution_options(yield_per=EXPORT_BATCH)
    )

    def when(value: dt.datetime | None) -> dt.datetime | None:
        # Local times and dates stay values: XLSX writes them as date cells, CSV as text.
        return value.astimezone(zone) if value else None

    names = leads.department_names(session)
    for row in (_ledger_row(raw, names) for raw in session.execute(stmt)):
        yield (
            row.id, row.unit, row.village, row.venue_type or "", row.category,
            Severity(row.severity).label, CaseStatus(row.status).label,
            SupervisionLevel(row.supervision_level).label, row.lead or "",
            when(row.created_at), when(row.check_by), row.rectify_by, when(row.closed_at),
            "是" if row.overdue else "否",
        )
