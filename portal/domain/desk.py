"""The department desk's lists: one department's live assignments, most urgent first.

A department sees only its own assignments; this is the one query the desk views use, so the
isolation is decided here, by the department id, never by what a page asks for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.orm import Session, joinedload

from portal.db import utcnow
from portal.domain import sla
from portal.domain.enums import AssignmentState, CaseStatus, Severity
from portal.domain.models import Assignment, Case


class DeskGroup(StrEnum):
    NEW = "new"
    CHECKING = "checking"
    RECTIFYING = "rectifying"
    AWAITING_CLOSURE = "awaiting_closure"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    DeskGroup.NEW: "新派单",
    DeskGroup.CHECKING: "核查中",
    DeskGroup.RECTIFYING: "整改中",
    DeskGroup.AWAITING_CLOSURE: "待销案",
}


@dataclass(frozen=True)
class DeskItem:
    assignment: Assignment
    case: Case
    overdue: bool


def _group_filter(group: DeskGroup) -> ColumnElement[bool]:
    if group is DeskGroup.NEW:
        return Assignment.state == AssignmentState.PENDING
    status = {DeskGroup.CHECKING: CaseStatus.CHECKING,
              DeskGroup.RECTIFYING: CaseStatus.RECTIFYING,
              DeskGroup.AWAITING_CLOSURE: CaseStatus.RECTIFIED}[group]
    return (Assignment.state == AssignmentState.ACCEPTED) & (Case.status == status)


def _due_order(group: DeskGroup) -> list[ColumnElement[object]]:
    if group is DeskGroup.RECTIFYING:
        due: list[ColumnElement[object]] = [Case.rectify_by.asc().nulls_last()]
    elif group is DeskGroup.AWAITING_CLOSURE:
        due = [Case.rectified_at.asc()]
    else:
        due = [Case.check_by.asc().nulls_last()]
    major_first = case((Case.severity == Severity.MAJOR, 0), else_=1)
    return [*due, major_first, Case.id]


def department_desk(
    session: Session,
    department_id: int,
    *,
    now: dt.datetime | None = None,
    tz: str | ZoneInfo | None = None,
    limit: int = 50,
) -> dict[DeskGroup, list[DeskItem]]:
    """The department's assignments in the desk's four groups, each most urgent first (the
    earliest deadline, so overdue ones lead; major hazards before general on the same one)."""
    now = now or utcnow()
    desk: dict[DeskGroup, list[DeskItem]] = {}
    for group in DeskGroup:
        rows = session.execute(
            select(Assignment, Case)
            .join(Case, Assignment.case_id == Case.id)
            .where(Assignment.department_id == department_id, _group_filter(group))
            .options(joinedload(Case.unit), joinedload(Case.category))
            .order_by(*_due_order(group))
            .limit(limit)
        ).all()
        desk[group] = [DeskItem(a, c, sla.is_overdue(c, now, tz)) for a, c in rows]
    return desk
