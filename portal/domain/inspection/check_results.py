"""Publishing random checks' results (双随机、一公开).

A random check's result waits (``Publication.PENDING``) for a moderator to approve or refuse
it, one by one; approved ones are public by unit: the unit's name masked like every public
text, the date, the department, and 合格 or 发现问题已责令整改. Nothing about the inspector,
the answers, the notes, the photos or the location is public.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.domain.access import audit
from portal.domain.access.permissions import Permission, has_permission, townships_of
from portal.domain.administration import townships
from portal.domain.clock import to_local, utcnow
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.inspection.rounds import InspectionError
from portal.domain.models import InspectionRound, InspectionTask, Unit
from portal.domain.models.accounts import User
from portal.domain.models.inspections import Publication, RoundKind, TaskResult, TaskStatus
from portal.domain.paging import Page, paginate

# What the public reads for each result (the plan's words for a problem found).
PUBLIC_WORDS = {
    TaskResult.PASSED: "合格",
    TaskResult.CORRECTED: "发现问题已当场改正",
    TaskResult.FINDING: "发现问题已责令整改",
    TaskResult.NOT_FOUND: "场所已停业或不存在",
}


def pending(session: Session, user: User) -> list[InspectionTask]:
    """The results waiting for a moderator of the user's townships, oldest first."""
    query = (select(InspectionTask).join(InspectionRound)
             .where(InspectionTask.publication == Publication.PENDING)
             .order_by(InspectionTask.completed_at, InspectionTask.id))
    places = townships_of(user)
    if places is not None:
        query = query.where(InspectionRound.township_id.in_(sorted(places)))
    return list(session.scalars(query))


def check_decide(task: InspectionTask, actor: User) -> None:
    if not has_permission(actor.role, Permission.CHECKS_PUBLISH):
        raise InspectionError("您没有审核公开抽查结果的权限")
    places = townships_of(actor)
    if places is not None and task.round.township_id not in places:
        raise InspectionError("该抽查结果不属于您的乡镇")
    if task.round.kind is not RoundKind.RANDOM or task.status is not TaskStatus.DONE:
        raise InspectionError("只有已完成的双随机抽查结果可以公开")
    if task.publication is not Publication.PENDING:
        raise InspectionError(f"该抽查结果已审核（{task.publication.label}），不能重复审核")


def decide(session: Session, task: InspectionTask, *, approve: bool, actor: User,
           ip: str = "", now: dt.datetime | None = None) -> InspectionTask:
    """A moderator approves a result for the public site, or refuses it."""
    check_decide(task, actor)
    before = task.publication
    task.publication = Publication.APPROVED if approve else Publication.REFUSED
    task.published_by_id = actor.id
    task.published_at = (now or utcnow()) if approve else None
    session.flush()
    was = {"publication": before.value}
    is_now = {"publication": task.publication.value}
    if approve:
        audit.record(session, "check.publish", "inspection_task", task.id, actor=actor, ip=ip,
                     before=was, after=is_now)
    else:
        audit.record(session, "check.refuse", "inspection_task", task.id, actor=actor, ip=ip,
                     before=was, after=is_now)
    return task


@dataclass(frozen=True)
class PublicCheck:
    unit_name: str
    village: str
    township: str
    checked_on: dt.date
    department: str
    result: str


def _public(task: InspectionTask) -> PublicCheck:
    assert task.result is not None and task.completed_at is not None
    department = task.round.department
    return PublicCheck(
        unit_name=mask_personal_data(task.unit.name), village=task.unit.village.name,
        township=task.round.township.name, checked_on=to_local(task.completed_at).date(),
        department=department.name if department else "",
        result=PUBLIC_WORDS[task.result])


def published(session: Session, *, township_id: int | None, page: str | int | None,
              per_page: int = 20) -> Page[PublicCheck]:
    """The approved results, newest first; a township's only on its own pages."""
    query = (select(InspectionTask).join(InspectionRound).join(Unit)
             .where(InspectionTask.publication == Publication.APPROVED,
                    InspectionRound.kind == RoundKind.RANDOM,
                    InspectionTask.status == TaskStatus.DONE)
             .options(joinedload(InspectionTask.unit).joinedload(Unit.village),
                      joinedload(InspectionTask.round))
             .order_by(InspectionTask.completed_at.desc(), InspectionTask.id.desc()))
    if township_id is not None:
        query = query.where(townships.of_village(Unit.village_id, {township_id}))
    return paginate(session, query, page=page, size=per_page).map(_public)
