"""Work lists (工作清单): the lists of cases staff work through, each one query in its own
order (ties broken by id, so no case shows on two pages) cut into pages by ``paging``.

- the department desk's groups (新派单, 核查中, 整改中, 待销案, 回头看): one department's own
  assignments only; the desk's isolation is this module's department filter;
- the closures lists of moderators and supervisors: cases awaiting closure, extension
  requests to decide, follow-ups (回头看);
- the routing screen's triage list and the staff cases list (an officer's own department's).

Each list takes the reader's ``scope`` (``permissions.case_scope``): a township's staff list
and count only their township's cases, a department only those of the townships it serves.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from portal.domain import paging
from portal.domain.access.permissions import case_scope
from portal.domain.casework import sla
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
)
from portal.domain.models import Assignment, Case, CaseEvent, User
from portal.domain.paging import Page

PAGE_SIZE = 30
_Listed = TypeVar("_Listed", bound=Select)
# The desk shows this many of each group, and links to the whole group.
GROUP_PREVIEW = 20
DESK_GROUPS = ("new", "checking", "rectifying", "rectified", "follow_up")
ACTIVE = (AssignmentState.PENDING, AssignmentState.ACCEPTED)

# What a list's template reads of each case, loaded with the page rather than row by row.
_SHOWN = (selectinload(Case.unit), selectinload(Case.village), selectinload(Case.category),
          selectinload(Case.clocks))


# ---------------------------------------------------------------- the department desk

# The closure review (销案审核) takes both: a rectification re-inspected, and a check that
# found the tip unfounded (issue 20: no case closes as unfounded with no one looking).
AWAITING_REVIEW = (CaseStatus.RECTIFIED, CaseStatus.UNFOUNDED)
_waiting_since = func.coalesce(Case.rectified_at, Case.checked_at)


def desk_query(key: str, department_id: int) -> Select[Case]:
    """Cases of one desk group, most urgent first (earliest limit first, so overdue on top)."""
    if key not in DESK_GROUPS:
        raise ValueError(f"no desk group {key!r}")
    mine = and_(Assignment.case_id == Case.id, Assignment.department_id == department_id)
    if key == "follow_up":
        return (select(Case).where(
            Case.status == CaseStatus.CLOSED, Case.outcome == CaseOutcome.RECTIFIED,
            Case.follow_up_by.is_not(None),
            exists().where(mine, Assignment.role == AssignmentRole.LEAD,
                           Assignment.state == AssignmentState.COMPLETED))
            .order_by(Case.follow_up_by, Case.id))
    query = select(Case).join(Assignment, mine)
    if key == "new":
        return (query.where(Assignment.state == AssignmentState.PENDING)
                .order_by(Case.check_by.is_(None), Case.check_by, Assignment.routed_at,
                          Case.id))
    query = query.where(Assignment.state == AssignmentState.ACCEPTED)
    if key == "checking":
        return (query.where(Case.status.in_(sla.AWAITING_CHECK))
                .order_by(Case.check_by.is_(None), Case.check_by, Case.id))
    if key == "rectifying":
        # No deadline yet is the most pressing: setting it is the department's next step.
        return (query.where(Case.status == CaseStatus.RECTIFYING)
                .order_by(Case.rectify_by.is_not(None), Case.rectify_by, Case.id))
    return query.where(Case.status.in_(AWAITING_REVIEW)).order_by(_waiting_since, Case.id)


def _scoped(query: _Listed, scope: ColumnElement[bool] | None) -> _Listed:
    # ``scope``: the cases the reader may see (``permissions.case_scope``), so a list and its
    # count show nothing of a township outside the reader's.
    return query if scope is None else query.where(scope)


def desk_group(session: Session, department_id: int, key: str, *,
               page: str | int | None = 1, size: int = PAGE_SIZE,
               scope: ColumnElement[bool] | None = None) -> Page[Case]:
    """One page of a desk group (``size=GROUP_PREVIEW``, page 1: the desk's preview), with
    the group's total and each case's assignments (for ``role_on``)."""
    query = _scoped(desk_query(key, department_id), scope).options(
        selectinload(Case.assignments), *_SHOWN)
    return paging.paginate(session, query, page=page, size=size, unique=True)


def role_on(case: Case, department_id: int) -> AssignmentRole | None:
    """The department's part in the case (lead or assist), while its assignment is live."""
    mine = [a for a in case.assignments
            if a.department_id == department_id and a.state in ACTIVE]
    return mine[0].role if mine else None


# ---------------------------------------------------------------- closures and decisions


def awaiting_closure(session: Session, *, page: str | int | None = 1,
                     size: int = PAGE_SIZE, scope: ColumnElement[bool] | None = None
                     ) -> Page[Case]:
    """Cases reported rectified, or checked and found unfounded, for the closure review;
    longest waiting first."""
    query = (_scoped(select(Case).where(Case.status.in_(AWAITING_REVIEW)), scope)
             .options(*_SHOWN).order_by(_waiting_since, Case.id))
    return paging.paginate(session, query, page=page, size=size)


def pending_extensions_query() -> Select[Case, CaseEvent]:
    """Each rectifying case whose extension request waits for a decision, with the request.

    ``workflow.pending_extension`` in SQL: a request is pending when no later event of the
    case is another request or a decision, i.e. the latest of those events is a request.
    """
    request = aliased(CaseEvent)
    later = aliased(CaseEvent)
    return (select(Case, request)
            .join(request, and_(request.case_id == Case.id,
                                request.kind == CaseEventKind.EXTENSION_REQUESTED))
            .where(Case.status == CaseStatus.RECTIFYING,
                   ~exists().where(later.case_id == Case.id, later.id > request.id,
                                   later.kind.in_((CaseEventKind.EXTENSION_REQUESTED,
                                                   CaseEventKind.EXTENSION_DECIDED))))
            .order_by(Case.rectify_by, Case.id))


def pending_extensions(session: Session, *, page: str | int | None = 1,
                       size: int = PAGE_SIZE, scope: ColumnElement[bool] | None = None
                       ) -> Page[tuple[Case, CaseEvent]]:
    """Extension requests to decide, earliest current deadline first: (case, request)."""
    query = _scoped(pending_extensions_query(), scope).options(*_SHOWN)
    found = paging.paginate(session, query, page=page, size=size, scalars=False)
    return found.map(lambda row: (row[0], row[1]))


def follow_ups(session: Session, *, page: str | int | None = 1,
               size: int = PAGE_SIZE, scope: ColumnElement[bool] | None = None
               ) -> Page[Case]:
    """Cases closed as rectified with a follow-up date (回头看), the earliest date first."""
    query = (_scoped(select(Case).where(Case.status == CaseStatus.CLOSED,
                                        Case.outcome == CaseOutcome.RECTIFIED,
                                        Case.follow_up_by.is_not(None)), scope)
             .options(*_SHOWN).order_by(Case.follow_up_by, Case.id))
    return paging.paginate(session, query, page=page, size=size)


# ---------------------------------------------------------------- routing and the cases list


def triage(session: Session, *, page: str | int | None = 1,
           size: int = PAGE_SIZE, scope: ColumnElement[bool] | None = None) -> Page[Case]:
    """Cases waiting in triage for a moderator to route them, oldest first, with their
    assignments (a returned case shows who returned it and why)."""
    query = (_scoped(select(Case).where(Case.status == CaseStatus.TRIAGE), scope)
             .options(selectinload(Case.assignments), *_SHOWN)
             .order_by(Case.created_at, Case.id))
    return paging.paginate(session, query, page=page, size=size)


def staff_cases(session: Session, user: User, *, page: str | int | None = 1,
                size: int = PAGE_SIZE) -> Page[Case]:
    """The cases ``user`` may read (an officer: those handed to their department), newest
    first."""
    query: Select[Any] = (select(Case).where(case_scope(user)).options(*_SHOWN)
                          .order_by(Case.id.desc()))
    return paging.paginate(session, query, page=page, size=size)
