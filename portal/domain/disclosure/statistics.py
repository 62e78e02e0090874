"""The county's figures for the public, or one township's: counts, rates and the series
behind /stats. Every function takes ``township_id`` (None: the whole county).

Hazard figures count only cases a department confirmed (核查属实): the public never learns of an
unverified accusation, not even as a number by village. Tips are counted only as a monthly
volume. Every count is an indexed count or a group-by on the cases table; the web layer caches
the result (see ``portal.public.stats``), so none of this runs on every request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Unpack
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from portal.domain.administration import townships
from portal.domain.casework import sla
from portal.domain.enums import CaseOutcome, CaseStatus, Severity
from portal.domain.models import Case, Category, Tip, Township, Village
from portal.domain.reporting import rating
from portal.domain.supervision import tallies

# The plan's goals for major hazards (三年行动 主要目标), as dated milestones.
PLAN_GOALS: tuple[tuple[dt.date, str], ...] = (
    (dt.date(2024, 12, 31), "基本消除2023年及以前排查发现的重大火灾隐患存量"),
    (dt.date(2025, 12, 31), "有效遏制重大火灾隐患增量"),
    (dt.date(2026, 12, 31), "建立重大火灾隐患动态清零的常态化机制"),
)


# Cases a department confirmed (核查属实), as tally reads: being or done rectifying, or closed
# as rectified. The public counts only these.
BEING_RECTIFIED = [CaseStatus.RECTIFYING, CaseStatus.RECTIFIED]
CONFIRMED: tuple[tuple[list[CaseStatus], tallies.Narrowing], ...] = (
    (BEING_RECTIFIED, {}),
    ([CaseStatus.CLOSED], {"outcome": CaseOutcome.RECTIFIED}),
)


@dataclass(frozen=True)
class Figures:
    tips_total: int
    confirmed: int
    rectifying: int
    rectified: int
    overdue: int
    major_open: int
    supervised_open: int
    disclosed: int

    @property
    def rectification_rate(self) -> float | None:
        return self.rectified / self.confirmed if self.confirmed else None


def _places(column: Any, township_id: int | None) -> Any:
    return townships.of_village(column, None if township_id is None else {township_id})


def figures(session: Session, today: dt.date, township_id: int | None = None) -> Figures:
    """The headline figures, summed from the case tallies (a few hundred rows); overdue is
    the rectifying cases minus those whose deadline is still ahead (an index range)."""
    (being, _), (closed, as_rectified) = CONFIRMED
    place: tallies.Narrowing = {"township_id": township_id}
    rectifying, rectified, status_rectifying, major_open, supervised_open, disclosed = (
        tallies.totals(session, (being, place), (closed, {**as_rectified, **place}),
                       ([CaseStatus.RECTIFYING], place),
                       (being, {"severity": Severity.MAJOR, **place}),
                       (being, {"listed": True, **place}),
                       (list(CaseStatus), {"disclosed": True, **place})))
    not_due = session.scalar(select(func.count()).select_from(Case).where(
        sla.rectification_not_overdue_clause(today),
        _places(Case.village_id, township_id))) or 0
    return Figures(
        tips_total=session.scalar(select(func.count()).select_from(Tip).where(
            _places(Tip.village_id, township_id))) or 0,
        confirmed=rectifying + rectified,
        rectifying=rectifying,
        rectified=rectified,
        overdue=status_rectifying - not_due,
        major_open=major_open,
        supervised_open=supervised_open,
        disclosed=disclosed,
    )


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(dt.date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return starts[::-1]


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _at_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


def _per_month(session: Session, column: Any, starts: list[dt.date], zone: ZoneInfo,
               township_id: int | None = None) -> list[int]:
    """Rows per local month: one count per month on the column's index, in one round trip."""
    edges = [_at_midnight(d, zone) for d in [*starts, _next_month(starts[-1])]]
    table = column.class_
    places = _places(table.village_id, township_id)
    counts = [select(func.count()).select_from(table).where(column >= lo, column < hi, places)
              .scalar_subquery() for lo, hi in pairwise(edges)]
    return [int(n or 0) for n in session.execute(select(*counts)).one()]


def _label(day: dt.date) -> str:
    return f"{day.year % 100:02d}/{day.month}"


def monthly(session: Session, today: dt.date, zone: ZoneInfo, months: int = 12,
            township_id: int | None = None) -> tuple[list[Bar], list[Bar]]:
    """Tips received and hazards confirmed per local calendar month, oldest first."""
    starts = _month_starts(today, months)
    tips = _per_month(session, Tip.created_at, starts, zone, township_id)
    cases = _per_month(session, Case.confirmed_at, starts, zone, township_id)
    return ([Bar(_label(d), n) for d, n in zip(starts, tips, strict=True)],
            [Bar(_label(d), n) for d, n in zip(starts, cases, strict=True)])


def by_category(session: Session, township_id: int | None = None) -> list[Bar]:
    """Confirmed hazards per category, from the category tally."""
    counts = _confirmed_by(session, "category", township_id)
    names = dict(session.execute(select(Category.id, Category.name)
                                 .where(Category.id.in_(counts))).all())
    return _bars(names, counts)


def _confirmed_by(session: Session, by: str, township_id: int | None = None
                  ) -> dict[int, int]:
    """Confirmed cases (``CONFIRMED``) per village, township or category, from the tallies."""
    counts: dict[int, int] = {}
    for statuses, narrowing in CONFIRMED:
        place: tallies.Narrowing = {**narrowing, "township_id": township_id}
        for key, n in tallies.sums(session, statuses, by=by, **place).items():
            counts[key] = counts.get(key, 0) + n
    return counts


def _bars(names: dict[int, str], counts: dict[int, int]) -> list[Bar]:
    bars = [Bar(names[key], n) for key, n in counts.items()]
    return sorted(bars, key=lambda bar: (-bar.value, bar.label))


def by_village(session: Session, township_id: int | None = None) -> list[Bar]:
    """Confirmed hazards per village, from the case tally."""
    counts = _confirmed_by(session, "village", township_id)
    rows = session.execute(select(Village.id, Village.name, Township.name)
                           .join(Township, Township.id == Village.township_id)
                           .where(Village.id.in_(counts)))
    # County-wide, a village is named with its township: names repeat across townships.
    names = {v: name if township_id is not None else townships.village_label(name, township)
             for v, name, township in rows}
    return _bars(names, counts)


@dataclass(frozen=True)
class OnTime:
    on_time: int
    finished: int

    @property
    def rate(self) -> float | None:
        return self.on_time / self.finished if self.finished else None


def on_time(session: Session, zone: ZoneInfo, township_id: int | None = None) -> OnTime:
    """Of the hazards reported rectified that had a deadline, how many met it (local dates).

    Streamed two columns at a time: date arithmetic differs between SQLite and PostgreSQL.
    """
    rows = session.execute(
        select(Case.rectified_at, Case.rectify_by)
        .where(Case.rectified_at.is_not(None), Case.rectify_by.is_not(None),
               _places(Case.village_id, township_id))
        .execution_options(yield_per=2000)
    )
    # Met: rectified before the local midnight that ends the deadline's day. That instant is
    # worked out once per deadline date (a county has a few hundred), not once per case.
    ends: dict[dt.date, dt.datetime] = {}
    met = total = 0
    for rectified_at, rectify_by in rows:
        assert rectified_at is not None and rectify_by is not None  # the WHERE above
        end = ends.get(rectify_by)
        if end is None:
            end = ends[rectify_by] = _at_midnight(rectify_by + dt.timedelta(days=1), zone)
        total += 1
        met += rectified_at < end
    return OnTime(met, total)


def satisfaction(session: Session, today: dt.date, zone: ZoneInfo,
                 township_id: int | None = None) -> rating.Figures:
    """The reporters' follow-up ratings (回访评价) of the last 12 months: the satisfaction
    rate (满意 and 基本满意) and the follow-up rate (of the tips closed, those rated)."""
    since = _at_midnight(today - dt.timedelta(days=365), zone)
    until = _at_midnight(today + dt.timedelta(days=1), zone)
    return rating.period_figures(session, since, until,
                                 None if township_id is None else {township_id})


def major_open_series(session: Session, today: dt.date, zone: ZoneInfo, months: int = 24,
                      township_id: int | None = None) -> list[Bar]:
    """Open confirmed major hazards at the end of each month (the plan wants them at zero).

    One pass over the major hazards (few, and on the severity index) for all months.
    """
    starts = _month_starts(today, months)
    ends = [_at_midnight(_next_month(d), zone) for d in starts]
    sums = [
        func.coalesce(func.sum(case((and_(
            Case.confirmed_at < end, or_(Case.closed_at.is_(None), Case.closed_at >= end)
        ), 1), else_=0)), 0)
        for end in ends
    ]
    row = session.execute(
        select(*sums).where(Case.severity == Severity.MAJOR, Case.confirmed_at.is_not(None),
                            _places(Case.village_id, township_id))
    ).one()
    return [Bar(_label(d), int(n)) for d, n in zip(starts, row, strict=True)]


@dataclass(frozen=True)
class TownshipFigures:
    """One township's line on the county's home page."""

    township_id: int
    disclosed: int
    open_hazards: int
    rectified: int
    overdue: int

    @property
    def rectification_rate(self) -> float | None:
        confirmed = self.open_hazards + self.rectified
        return self.rectified / confirmed if confirmed else None


def by_township(session: Session, today: dt.date) -> dict[int, TownshipFigures]:
    """Every township's figures at once: tally sums grouped by township, and the rectifying
    cases still within their deadline counted by township (one indexed range, grouped)."""
    def per(statuses: list[CaseStatus], **narrowing: Unpack[tallies.Narrowing]
            ) -> dict[int, int]:
        return tallies.sums(session, statuses, by="township", **narrowing)

    (being, _), (closed, as_rectified) = CONFIRMED
    disclosed = per(list(CaseStatus), disclosed=True)
    open_hazards = per(being)
    rectified = per(closed, **as_rectified)
    rectifying = per([CaseStatus.RECTIFYING])
    not_due = dict(session.execute(
        select(Village.township_id, func.count(Case.id))
        .join(Village, Village.id == Case.village_id)
        .where(sla.rectification_not_overdue_clause(today))
        .group_by(Village.township_id)).all())
    ids = set(disclosed) | set(open_hazards) | set(rectified) | set(rectifying)
    return {t: TownshipFigures(
        township_id=t, disclosed=disclosed.get(t, 0), open_hazards=open_hazards.get(t, 0),
        rectified=rectified.get(t, 0), overdue=rectifying.get(t, 0) - not_due.get(t, 0))
        for t in ids}
