"""The lead department of a case (牵头部门): one definition, in Python and in SQL.

A case is led by the department of its latest lead assignment that is pending, accepted or
completed: the one that leads it now, or led it to closure. Returned, transferred and
withdrawn rows are history (the linkage trail), never the lead; a case waiting in triage has
none. Every page, count, export and API answer that names or filters by the lead department
uses this module, so the desk, the ledger, the dashboard, the tallies and Open311 agree.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.orm import Session, aliased

from portal.domain.enums import AssignmentRole, AssignmentState
from portal.domain.models import Assignment, Case, Department

LEAD_STATES = (AssignmentState.PENDING, AssignmentState.ACCEPTED, AssignmentState.COMPLETED)
ACTIVE_STATES = (AssignmentState.PENDING, AssignmentState.ACCEPTED)


def lead_assignment(case: Case) -> Assignment | None:
    """The assignment through which the case is led (now, or to its closure)."""
    leads = [a for a in case.assignments
             if a.role is AssignmentRole.LEAD and a.state in LEAD_STATES]
    return max(leads, key=lambda a: a.id or 0) if leads else None


def lead_department(case: Case) -> Department | None:
    lead = lead_assignment(case)
    return lead.department if lead is not None else None


def lead_name(case: Case) -> str:
    department = lead_department(case)
    return department.name if department is not None else ""


def active_lead(case: Case) -> Assignment | None:
    """The lead assignment still to be worked (pending or accepted), if the case has one."""
    lead = lead_assignment(case)
    return lead if lead is not None and lead.state in ACTIVE_STATES else None


def is_lead(row: Any = Assignment) -> ColumnElement[bool]:
    """SQL: ``row`` (``Assignment`` or an alias of it) is its case's lead assignment."""
    later = aliased(Assignment)
    return and_(
        row.role == AssignmentRole.LEAD,
        row.state.in_(LEAD_STATES),
        ~exists().where(later.case_id == row.case_id, later.role == AssignmentRole.LEAD,
                        later.state.in_(LEAD_STATES), later.id > row.id),
    )


def lead_clause(department_id: int) -> ColumnElement[bool]:
    """SQL on ``Case``: the case is led by ``department_id``."""
    lead = aliased(Assignment)  # aliased: a query grouping by department joins Assignment
    return exists().where(lead.case_id == Case.id, lead.department_id == department_id,
                          is_lead(lead))


@functools.cache
def lead_department_column() -> Any:
    """SQL on ``Case``: the lead department's id (NULL while in triage), for lists that show
    the lead's name (``department_names``). The name joined in the same subquery cost twice
    as much: for each row the planner hashed every department again (a page of fifty,
    0.65 ms more on PostgreSQL at 100k cases, issue 19). Built once: no parameters."""
    lead = aliased(Assignment)
    return (select(lead.department_id).where(lead.case_id == Case.id, is_lead(lead))
            .scalar_subquery())


def department_names(session: Session, ids: Iterable[int | None] | None = None
                     ) -> dict[int, str]:
    """The names of the departments ``ids`` (by primary key; None: every department, for an
    export that reads many pages of them)."""
    query = select(Department.id, Department.name)
    if ids is not None:
        wanted = sorted({i for i in ids if i is not None})
        if not wanted:
            return {}
        query = query.where(Department.id.in_(wanted))
    return {key: name for key, name in session.execute(query)}
