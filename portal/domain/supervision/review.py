"""Department review (考核): how each department handled its cases in a period.

Definitions (all times compared in UTC, periods are local days, inclusive):

- assignments: hand-offs to the department (lead or assisting) routed in the period;
- accepted on time: of those, signed for within ``ACCEPT_HOURS`` of routing;
- checked on time %: of the checks of cases the department leads that were decided in the
  period, those done by ``check_by``. A check is decided when it is done in time (it counts
  in the period it was done, even if its deadline lies beyond the period) or when its
  deadline passes without it (it counts in the period of the deadline, as late, however
  late it is done afterwards);
- rectified on time %: likewise for ``rectify_by``, by local day: rectified on or before
  that day counts in the period of the rectification, else late in the period of the day;
- later limits on time %: likewise for the limits after the check (the §19 order, the §20
  re-inspection, a major hazard's report and notice: ``casework/limits.py``) on the cases it
  leads: met in time counts in the period it was met; its due time passing unmet (a clock
  cancelled after its due time counts as unmet) counts in the period of the due time;
- median days to close: cases it led that were closed in the period, routing to closure;
- returns: cases it handed back in the period;
- urging notices received: notices addressed to it in the period;
- satisfaction % (满意率): of the reporters' ratings given in the period on cases it leads,
  满意 and 基本满意; follow-up % (回访率): of the tips of its cases closed in the period,
  those rated (``portal.domain.reporting.rating``).

For one township (``townships``, as ``permissions.townships_of`` gives them) the review lists
the departments serving it and counts only the cases of its villages, and the notices its
office issued.

A department "leads" a case while its lead assignment is pending or accepted, and keeps it once
the case is closed (``portal.domain.casework.leads``), as on the ledger.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.administration.townships import of_village
from portal.domain.casework import leads
from portal.domain.clock import utcnow
from portal.domain.enums import AssignmentState
from portal.domain.figures import pct
from portal.domain.models import (
    Assignment,
    Case,
    CaseClock,
    Department,
    Township,
    UrgingNotice,
)
from portal.domain.reporting import rating
from portal.domain.supervision import ledger

ACCEPT_HOURS = 24


@dataclass
class DepartmentReview:
    department: Department
    assignments: int = 0
    accepted_on_time: int = 0
    checks_due: int = 0
    checked_on_time: int = 0
    rectifications_due: int = 0
    rectified_on_time: int = 0
    limits_due: int = 0
    limits_on_time: int = 0
    median_days_to_close: float | None = None
    closed: int = 0
    returns: int = 0
    urging_notices: int = 0
    # 满意率 and 回访率 of the cases it led, as the rating module counts them.
    ratings: rating.Figures = field(default_factory=rating.Figures)

    @property
    def rated(self) -> int:
        return self.ratings.rated

    @property
    def rated_content(self) -> int:
        return self.ratings.content

    @property
    def closed_tips(self) -> int:
        return self.ratings.closed_tips

    @property
    def followed_up(self) -> int:
        return self.ratings.followed_up

    @property
    def satisfaction_pct(self) -> float | None:
        return self.ratings.satisfaction_pct

    @property
    def follow_up_pct(self) -> float | None:
        return self.ratings.follow_up_pct

    @property
    def checked_on_time_pct(self) -> float | None:
        return pct(self.checked_on_time, self.checks_due)

    @property
    def rectified_on_time_pct(self) -> float | None:
        return pct(self.rectified_on_time, self.rectifications_due)

    @property
    def limits_on_time_pct(self) -> float | None:
        return pct(self.limits_on_time, self.limits_due)

    @property
    def accepted_on_time_pct(self) -> float | None:
        return pct(self.accepted_on_time, self.assignments)


def review(session: Session, start: dt.date, end: dt.date, now: dt.datetime | None = None,
           tz: str | ZoneInfo | None = None,
           townships: Collection[int] | None = None) -> list[DepartmentReview]:
    """One row per active department (and any inactive one with activity), by name; for
    ``townships`` (None: the whole county), the departments serving them and their cases."""
    now = now or utcnow()
    today = clock.local_today(now, tz)
    since = ledger.start_of_local_day(start, tz)
    until = ledger.start_of_local_day(end + dt.timedelta(days=1), tz)
    places = of_village(Case.village_id, townships)
    serving = (() if townships is None
               else (Department.serves.any(Township.id.in_(sorted(townships))),))
    rows: dict[int, DepartmentReview] = {
        d.id: DepartmentReview(d) for d in session.scalars(
            select(Department).where(Department.active.is_(True), *serving)
            .order_by(Department.name))}

    def row(department_id: int) -> DepartmentReview:
        if department_id not in rows:
            department = session.get(Department, department_id)
            assert department is not None  # an id from an assignment row
            rows[department_id] = DepartmentReview(department)
        return rows[department_id]

    for department_id, routed_at, accepted_at in session.execute(
            select(Assignment.department_id, Assignment.routed_at, Assignment.accepted_at)
            .join(Case, Case.id == Assignment.case_id)
            .where(Assignment.routed_at >= since, Assignment.routed_at < until, places)):
        entry = row(department_id)
        entry.assignments += 1
        if accepted_at is not None and accepted_at <= routed_at + dt.timedelta(
                hours=ACCEPT_HOURS):
            entry.accepted_on_time += 1

    def led(*columns: Any) -> Select[Any]:
        # Distinct: a reopened case has a completed and a new lead row of one department.
        return (select(Assignment.department_id, Case.id, *columns)
                .join(Case, Case.id == Assignment.case_id)
                .where(leads.is_lead(Assignment), places))

    # A check is decided when it is done in time, or when its deadline passes without it;
    # it counts in the period of that moment. (Counting only checks whose deadline fell in
    # the period left out every check done early in a period whose end came before the
    # deadline: a department that checked everything on time showed "—".)
    for department_id, _, check_by, checked_at in session.execute(
            led(Case.check_by, Case.checked_at).where(
                Case.check_by.is_not(None),
                or_(and_(Case.checked_at >= since, Case.checked_at < until,
                         Case.checked_at <= Case.check_by),
                    and_(Case.check_by >= since, Case.check_by < until, Case.check_by < now,
                         or_(Case.checked_at.is_(None), Case.checked_at > Case.check_by))))):
        entry = row(department_id)
        entry.checks_due += 1
        if checked_at is not None and checked_at <= check_by:
            entry.checked_on_time += 1
    # Likewise a rectification, by local day: done on or before ``rectify_by`` in the period,
    # or its deadline passed in the period without it.
    for department_id, _, rectify_by, rectified_at in session.execute(
            led(Case.rectify_by, Case.rectified_at).where(
                Case.rectify_by.is_not(None),
                or_(and_(Case.rectified_at >= since, Case.rectified_at < until),
                    and_(Case.rectify_by >= start, Case.rectify_by <= end,
                         Case.rectify_by < today)))):
        done = None if rectified_at is None else clock.local_today(rectified_at, tz)
        on_time = done is not None and done <= rectify_by
        if done is not None and on_time and not start <= done <= end:
            continue  # done in time, in another period
        if not on_time and not (start <= rectify_by <= end and rectify_by < today):
            continue  # late, but its deadline lies in another period
        entry = row(department_id)
        entry.rectifications_due += 1
        if on_time:
            entry.rectified_on_time += 1
    clocks = CaseClock
    met_in_time = and_(clocks.met_at.is_not(None), clocks.met_at <= clocks.due_at)
    for department_id, _, met in session.execute(
            led(met_in_time).join(clocks, clocks.case_id == Case.id).where(
                or_(and_(met_in_time, clocks.met_at >= since, clocks.met_at < until),
                    and_(clocks.due_at >= since, clocks.due_at < until, clocks.due_at < now,
                         or_(clocks.met_at.is_(None), clocks.met_at > clocks.due_at),
                         or_(clocks.cancelled_at.is_(None),
                             clocks.cancelled_at > clocks.due_at))))):
        entry = row(department_id)
        entry.limits_due += 1
        if met:
            entry.limits_on_time += 1
    durations: dict[int, list[float]] = defaultdict(list)
    for department_id, _, routed_at, created_at, closed_at in session.execute(
            led(Case.routed_at, Case.created_at, Case.closed_at).where(
                and_(Case.closed_at >= since, Case.closed_at < until))):
        began = routed_at or created_at
        durations[department_id].append((closed_at - began).total_seconds() / 86400)
    for department_id, days in durations.items():
        entry = row(department_id)
        entry.closed = len(days)
        entry.median_days_to_close = round(statistics.median(days), 1)

    for department_id, number in session.execute(
            select(Assignment.department_id, func.count())
            .join(Case, Case.id == Assignment.case_id)
            .where(Assignment.state == AssignmentState.RETURNED,
                   Assignment.ended_at >= since, Assignment.ended_at < until, places)
            .group_by(Assignment.department_id)):
        row(department_id).returns = number
    for department_id, number in session.execute(
            select(UrgingNotice.department_id, func.count())
            .where(UrgingNotice.issued_at >= since, UrgingNotice.issued_at < until,
                   *(() if townships is None
                     else (UrgingNotice.township_id.in_(sorted(townships)),)))
            .group_by(UrgingNotice.department_id)):
        row(department_id).urging_notices = number
    for department_id, figures in rating.department_figures(
            session, since, until, townships).items():
        row(department_id).ratings = figures
    return sorted(rows.values(), key=lambda r: r.department.name)
