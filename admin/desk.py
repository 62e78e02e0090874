"""The department desk (部门工作台): an officer's own department's assignments in groups, and
the closures list of moderators and supervisors. The case page is ``admin.desk_case``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import abort, render_template, request
from flask_login import current_user
from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session, selectinload

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain.access.permissions import Permission
from portal.domain.casework import sla, workflow
from portal.domain.clock import utcnow
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
)
from portal.domain.models import Assignment, Case, CaseEvent, Department

GROUP_PREVIEW = 20
PAGE_SIZE = 30
ACTIVE = (AssignmentState.PENDING, AssignmentState.ACCEPTED)


# ---------------------------------------------------------------- the desk list


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    hint: str


GROUPS = [
    Group("new", "新派单", "签收后开始核查；不属于本部门职责的请退回并说明理由"),
    Group("checking", "核查中", "到现场核查，登记属实或不属实"),
    Group("rectifying", "整改中", "下达整改期限、发布进展、报告整改完成"),
    Group("rectified", "待销案", "已报告整改完成，等待验收销案"),
    Group("follow_up", "回头看", "已销案，到期回访，确认整改是否保持"),
]
GROUP_KEYS = {g.key: g for g in GROUPS}


def _group_query(key: str, department_id: int) -> Select[Any]:
    """Cases of one desk group, most urgent first (earliest limit first, so overdue on top)."""
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
                .order_by(Case.check_by.is_(None), Case.check_by, Assignment.routed_at))
    query = query.where(Assignment.state == AssignmentState.ACCEPTED)
    if key == "checking":
        return (query.where(Case.status.in_(sla.AWAITING_CHECK))
                .order_by(Case.check_by.is_(None), Case.check_by, Case.id))
    if key == "rectifying":
        # No deadline yet is the most pressing: setting it is the department's next step.
        return (query.where(Case.status == CaseStatus.RECTIFYING)
                .order_by(Case.rectify_by.is_not(None), Case.rectify_by, Case.id))
    return query.where(Case.status == CaseStatus.RECTIFIED).order_by(Case.rectified_at, Case.id)


def _count(db: Session, query: Select[Any]) -> int:
    return db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def _role_on(case: Case, department_id: int) -> AssignmentRole | None:
    mine = [a for a in case.assignments
            if a.department_id == department_id and a.state in ACTIVE]
    return mine[0].role if mine else None


@bp.route("/desk")
@require(Permission.CASES_WORK)
def desk():
    db = get_session()
    department_id = current_user.department_id
    if department_id is None:
        abort(404)
    now = utcnow()
    only = request.args.get("group")
    groups = []
    page = pages = 1
    for group in GROUPS:
        if only and only != group.key:
            continue
        query = _group_query(group.key, department_id)
        total = _count(db, query)
        if only:
            pages = max(1, math.ceil(total / PAGE_SIZE))
            arg = request.args.get("page", "1")
            page = min(max(int(arg) if arg.isdigit() else 1, 1), pages)
            query = query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        else:
            query = query.limit(GROUP_PREVIEW)
        rows = db.scalars(query.options(selectinload(Case.assignments))).unique().all()
        groups.append((group, total, [(c, sla.due_of(c, now), _role_on(c, department_id))
                                      for c in rows]))
    return render_template(
        "admin/desk.html", groups=groups, only=only, page=page, pages=pages,
        department=db.get(Department, department_id), preview=GROUP_PREVIEW,
        # Urging notices (督促函) received by the department: filled in by issue 6.
        urging_notices=[],
    )


@bp.route("/closures")
@require(Permission.CASES_CLOSE)
def closures():
    """For moderators and supervisors: cases awaiting closure, extension requests to decide,
    and follow-ups (回头看) coming due."""
    db = get_session()
    now = utcnow()
    awaiting = db.scalars(select(Case).where(Case.status == CaseStatus.RECTIFIED)
                          .order_by(Case.rectified_at, Case.id).limit(100)).all()
    asked = db.scalars(select(Case).where(
        Case.status == CaseStatus.RECTIFYING,
        exists().where(CaseEvent.case_id == Case.id,
                       CaseEvent.kind == CaseEventKind.EXTENSION_REQUESTED))
        .order_by(Case.rectify_by, Case.id).limit(100)).all()
    extensions = [(c, e) for c in asked if (e := workflow.pending_extension(c)) is not None]
    follow_ups = db.scalars(select(Case).where(
        Case.status == CaseStatus.CLOSED, Case.outcome == CaseOutcome.RECTIFIED,
        Case.follow_up_by.is_not(None)).order_by(Case.follow_up_by, Case.id).limit(100)).all()
    return render_template("admin/desk_closures.html", awaiting=awaiting,
                           extensions=extensions, follow_ups=follow_ups,
                           due_of=lambda c: sla.due_of(c, now))
