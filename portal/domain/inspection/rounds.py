"""Inspection rounds (排查): planning a round, the inspectors' tasks, and recording a result.

A round gives every live unit of the township in its scope (villages and venue types; an
empty list is every one) one task, the inspectors taking turns. The inspector answers the
checklist of the unit's venue type; a problem not corrected on the spot opens one case
through ``moderation.open_inspection_case`` and the routing table, as a report's would, and
since the inspector has already checked on site the case has no §18 check: the §19 order's
clock starts at the inspection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import case as sql_case
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.domain.access import audit
from portal.domain.access.permissions import Permission, has_permission, townships_of
from portal.domain.administration import townships
from portal.domain.casework import limits, notifications, routing
from portal.domain.casework.events import WorkflowError
from portal.domain.clock import local_today, utcnow
from portal.domain.inspection import checklists, register
from portal.domain.inspection.checklists import Answer, Checklist
from portal.domain.models import (
    Attachment,
    Case,
    Category,
    Department,
    InspectionRound,
    InspectionTask,
    Township,
    Unit,
    User,
    Village,
)
from portal.domain.models.inspections import Publication, RoundKind, TaskResult, TaskStatus
from portal.domain.paging import Page, paginate
from portal.domain.vetting import moderation

NAME_MAX = 100
NOTES_MAX = 2000


class InspectionError(WorkflowError):
    """A round or a task step refused; the message says why, in Chinese."""


# ---------------------------------------------------------------- who takes part


def may_manage(user: User, township_id: int) -> bool:
    """A supervisor (``ROUNDS_MANAGE``) of the township, or of the county."""
    places = townships_of(user)
    return has_permission(user.role, Permission.ROUNDS_MANAGE) and (
        places is None or township_id in places)


def may_inspect(user: User, township_id: int) -> bool:
    """Active staff who work tasks (``TASKS_WORK``) in the township: a grid inspector bound
    to it, an officer of a department serving it."""
    places = townships_of(user)
    return bool(user.active and has_permission(user.role, Permission.TASKS_WORK)
                and (places is None or township_id in places))


def inspector_choices(session: Session, township: Township) -> list[User]:
    """Everyone who may take part in a round of ``township``."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id))
    return [u for u in users if may_inspect(u, township.id)]


def units_in_scope(session: Session, township_id: int, *, venue_type_ids: Sequence[int] = (),
                   village_ids: Sequence[int] = ()) -> list[Unit]:
    """The township's live units in the villages and venue types chosen (empty: all)."""
    query = (select(Unit).join(Village, Unit.village_id == Village.id)
             .where(Village.township_id == township_id, register.live()).order_by(Unit.id))
    if village_ids:
        query = query.where(Unit.village_id.in_(list(village_ids)))
    if venue_type_ids:
        query = query.where(Unit.venue_type_id.in_(list(venue_type_ids)))
    return list(session.scalars(query))


def checklist_of(task: InspectionTask) -> Checklist:
    """The checklist the task was planned with (else its venue type's current one)."""
    found = checklists.by_code(task.checklist_code) if task.checklist_code else None
    venue = task.unit.venue_type
    return found or checklists.for_venue_type(venue.code if venue else None)


# ---------------------------------------------------------------- planning


def plan_round(
    session: Session,
    *,
    township: Township,
    name: str,
    venue_type_ids: Sequence[int],
    village_ids: Sequence[int],
    department_ids: Sequence[int],
    inspector_ids: Sequence[int],
    starts_on: dt.date,
    ends_on: dt.date,
    actor: User,
    ip: str = "",
    kind: RoundKind = RoundKind.ROUND,
    department_id: int | None = None,
    unit_ids: Sequence[int] | None = None,
) -> InspectionRound:
    """Plan a round: one task per unit in scope, the inspectors assigned in turn (so each
    gets as many as any other, give or take one). A random check's draw passes the units and
    inspectors it drew (``unit_ids``), in the order drawn."""
    if not may_manage(actor, township.id):
        raise InspectionError("您没有部署本乡镇排查的权限")
    name = name.strip()
    if not name:
        raise InspectionError("请填写排查名称")
    if len(name) > NAME_MAX:
        raise InspectionError(f"排查名称不能超过 {NAME_MAX} 个字")
    if ends_on < starts_on:
        raise InspectionError("结束日期不能早于开始日期")
    villages = list(session.scalars(select(Village).where(Village.id.in_(list(village_ids)))))
    if len(villages) != len(set(village_ids)) or any(
            v.township_id != township.id for v in villages):
        raise InspectionError("所选的村不属于本乡镇")
    departments = list(session.scalars(select(Department).where(
        Department.id.in_(list(department_ids)))))
    if len(departments) != len(set(department_ids)) or not all(
            d.active and townships.serves(d, township.id) for d in departments):
        raise InspectionError("所选部门中有的不负责本乡镇或已停用")
    inspectors = [session.get(User, i) for i in dict.fromkeys(inspector_ids)]
    chosen = [u for u in inspectors if u is not None and may_inspect(u, township.id)]
    if not inspector_ids:
        raise InspectionError("请至少选择一名检查人员")
    if len(chosen) != len(inspectors):
        raise InspectionError("所选检查人员中有人不在本乡镇工作或没有检查任务权限")
    if unit_ids is None:
        units = units_in_scope(session, township.id, venue_type_ids=venue_type_ids,
                               village_ids=village_ids)
    else:
        found = {u.id: u for u in session.scalars(select(Unit).where(
            Unit.id.in_(list(unit_ids)), register.live()))}
        units = [found[i] for i in unit_ids if i in found]
    if not units:
        raise InspectionError("排查范围内没有场所，请调整村或场所类型")

    round_ = InspectionRound(
        township_id=township.id, kind=kind, name=name, department_id=department_id,
        venue_type_ids=list(venue_type_ids), village_ids=list(village_ids),
        department_ids=list(department_ids), inspector_ids=[u.id for u in chosen],
        starts_on=starts_on, ends_on=ends_on, created_by_id=actor.id)
    session.add(round_)
    session.flush()
    for number, unit in enumerate(units):
        venue = unit.venue_type
        checklist = checklists.for_venue_type(venue.code if venue else None)
        session.add(InspectionTask(
            round_id=round_.id, unit_id=unit.id, inspector_id=chosen[number % len(chosen)].id,
            due_on=ends_on, checklist_code=checklist.code, checklist_version=checklist.version))
    session.flush()
    audit.record(session, "round.plan", "inspection_round", round_.id, actor=actor, ip=ip,
                 after={"kind": kind.value, "name": name, "township_id": township.id,
                        "tasks": len(units), "inspector_ids": round_.inspector_ids,
                        "village_ids": round_.village_ids,
                        "venue_type_ids": round_.venue_type_ids,
                        "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()})
    return round_


# ---------------------------------------------------------------- progress


@dataclass
class Tally:
    label: str
    done: int = 0
    total: int = 0


@dataclass
class Progress:
    done: int
    total: int
    by_village: list[Tally]
    by_inspector: list[Tally]
    overdue: list[InspectionTask]
    findings: list[InspectionTask]
    corrected: int = 0
    results: dict[str, int] = field(default_factory=dict)


def is_overdue(task: InspectionTask, today: dt.date) -> bool:
    """Still open after its due day: the one meaning of an overdue task."""
    return task.status is TaskStatus.OPEN and task.due_on < today


def progress(round_: InspectionRound, today: dt.date | None = None) -> Progress:
    """Done / total per village and per inspector, the overdue tasks and the findings."""
    today = today or local_today()
    tasks = [t for t in round_.tasks if t.status is not TaskStatus.CANCELLED]
    villages: dict[int, Tally] = {}
    inspectors: dict[int, Tally] = {}
    results: dict[str, int] = {}
    for task in tasks:
        done = task.status is TaskStatus.DONE
        village = villages.setdefault(task.unit.village_id, Tally(task.unit.village.name))
        who = task.inspector
        person = inspectors.setdefault(
            task.inspector_id or 0,
            Tally((who.display_name or who.username) if who else "（未分配）"))
        for tally in (village, person):
            tally.total += 1
            tally.done += done
        if task.result is not None:
            results[task.result.label] = results.get(task.result.label, 0) + 1
    return Progress(
        done=sum(t.status is TaskStatus.DONE for t in tasks), total=len(tasks),
        by_village=sorted(villages.values(), key=lambda t: t.label),
        by_inspector=sorted(inspectors.values(), key=lambda t: t.label),
        overdue=[t for t in tasks if is_overdue(t, today)],
        findings=[t for t in tasks if t.result is TaskResult.FINDING],
        corrected=sum(t.result is TaskResult.CORRECTED for t in tasks), results=results)


def rounds_for(session: Session, user: User, *, page: str | int | None = 1,
               size: int = 50) -> Page[InspectionRound]:
    """The rounds of the townships the user may see, newest first."""
    query = select(InspectionRound).order_by(InspectionRound.id.desc())
    places = townships_of(user)
    if places is not None:
        query = query.where(InspectionRound.township_id.in_(sorted(places)))
    return paginate(session, query, page=page, size=size)


@dataclass(frozen=True)
class Summary:
    done: int
    total: int
    overdue: int
    findings: int


def summaries(session: Session, round_ids: Sequence[int], today: dt.date) -> dict[int, Summary]:
    """Each round's figures for a list, in one query (``progress`` has the detail)."""
    if not round_ids:
        return {}
    live = InspectionTask.status != TaskStatus.CANCELLED
    rows = session.execute(
        select(InspectionTask.round_id, func.count(),
               func.count().filter(InspectionTask.status == TaskStatus.DONE),
               func.count().filter(InspectionTask.status == TaskStatus.OPEN,
                                   InspectionTask.due_on < today),
               func.count().filter(InspectionTask.result == TaskResult.FINDING))
        .where(InspectionTask.round_id.in_(list(round_ids)), live)
        .group_by(InspectionTask.round_id))
    found = {row[0]: Summary(done=row[2], total=row[1], overdue=row[3], findings=row[4])
             for row in rows}
    return {i: found.get(i, Summary(0, 0, 0, 0)) for i in round_ids}


def visible_round(session: Session, user: User, round_id: int) -> InspectionRound | None:
    found = session.get(InspectionRound, round_id)
    places = townships_of(user)
    if found is None or (places is not None and found.township_id not in places):
        return None
    return found


# ---------------------------------------------------------------- an inspector's tasks


def tasks_of(session: Session, user: User) -> list[InspectionTask]:
    """The user's tasks: open ones first (soonest due), then the done ones, newest first."""
    open_first = sql_case((InspectionTask.status == TaskStatus.OPEN, 0), else_=1)
    return list(session.scalars(
        select(InspectionTask)
        .where(InspectionTask.inspector_id == user.id,
               InspectionTask.status != TaskStatus.CANCELLED)
        .order_by(open_first, InspectionTask.due_on, InspectionTask.id.desc())))


def task_of_case(session: Session, case_id: int) -> InspectionTask | None:
    """The inspection task whose finding opened the case, if one did."""
    return session.scalar(select(InspectionTask).where(InspectionTask.case_id == case_id)
                          .order_by(InspectionTask.id).limit(1))


def visible_task(session: Session, user: User, task_id: int) -> InspectionTask | None:
    """A task of a township the user works in (else None: the page answers 404)."""
    found = session.get(InspectionTask, task_id)
    if found is None:
        return None
    places = townships_of(user)
    if places is not None and found.round.township_id not in places:
        return None
    return found


def check_complete(task: InspectionTask, actor: User) -> None:
    """Only the task's own inspector records its result, once."""
    if task.inspector_id != actor.id:
        raise InspectionError("只有分派到本任务的检查人员可以登记检查结果")
    if task.status is TaskStatus.DONE:
        raise InspectionError("本任务已经登记过检查结果，不能重复提交")
    if task.status is TaskStatus.CANCELLED:
        raise InspectionError("本任务已取消")


@dataclass(frozen=True)
class Problem:
    code: str
    text: str
    category: str
    corrected: bool


def read_answers(checklist: Checklist, answers: Mapping[str, str]) -> dict[str, str]:
    """Every item answered with a known answer, or the Chinese error naming the first not."""
    known = {a.value for a in Answer}
    read: dict[str, str] = {}
    for number, item in enumerate(checklist.items, start=1):
        value = (answers.get(item.code) or "").strip()
        if value not in known:
            raise InspectionError(f"请回答检查表第 {number} 项：{item.text}")
        read[item.code] = value
    return read


def result_of(checklist: Checklist, answers: Mapping[str, str]
              ) -> tuple[TaskResult, list[Problem]]:
    problems = [Problem(i.code, i.text, i.category, answers[i.code] == Answer.CORRECTED.value)
                for i in checklist.items
                if answers[i.code] in (Answer.PROBLEM.value, Answer.CORRECTED.value)]
    if not problems:
        return TaskResult.PASSED, problems
    if all(p.corrected for p in problems):
        return TaskResult.CORRECTED, problems
    return TaskResult.FINDING, problems


def _category(session: Session, code: str) -> Category:
    found = session.scalars(select(Category).where(Category.code == code,
                                                   Category.active.is_(True))).first()
    if found is None:
        found = session.scalars(select(Category).where(Category.code == "other",
                                                       Category.active.is_(True))).first()
    if found is None:
        raise InspectionError(f"隐患类别 {code} 不存在或已停用，请联系管理员")
    return found


def _summary(round_: InspectionRound, problems: Sequence[Problem], notes: str) -> str:
    lines = [f"{round_.kind.label}“{round_.name}”现场检查发现："]
    lines += [f"- {p.text}" + ("（已当场改正）" if p.corrected else "（需整改）")
              for p in problems]
    if notes:
        lines.append(f"检查人员说明：{notes}")
    return "\n".join(lines)


def _route_finding(session: Session, case: Case, *, actor: User, now: dt.datetime) -> bool:
    """Hand the case to the departments the routing table proposes for it, as a report's
    would be (``routing.route_by_rules``). A case no rule matches stays in triage, and the
    office is told. True when routed."""
    if routing.route_by_rules(session, case, actor=actor, now=now,
                              note="按分派规则派单（排查发现）。") is not None:
        return True
    notifications.notify_office(
        session, case, "inspection_finding", f"排查发现待分派：案件 #{case.id} {case.unit.name}",
        "没有匹配的分派规则，请人工分派", payload={"case_id": case.id})
    return False


def _open_finding(session: Session, task: InspectionTask, problems: Sequence[Problem],
                  notes: str, *, actor: User, ip: str, now: dt.datetime) -> Case:
    unit = task.unit
    first = next(p for p in problems if not p.corrected)
    category = _category(session, first.category)
    details = moderation.UnitDetails(
        name=unit.name, village_id=unit.village_id, category_id=category.id,
        venue_type_id=unit.venue_type_id, address=unit.address,
        internal_summary=_summary(task.round, problems, notes))
    try:
        case = moderation.open_inspection_case(session, details, actor=actor, ip=ip)
    except moderation.ModerationError as exc:
        raise InspectionError(str(exc)) from None
    if case.unit_id != unit.id:
        # Two register units of one name in a village, this one without an address: the
        # case is about the inspected one.
        case.unit = unit
    _route_finding(session, case, actor=actor, now=now)
    # Checked on site already: no §18 check; the §19 order runs from the inspection.
    limits.start(session, case, limits.Rule.ORDER, at=now, note="排查现场检查发现")
    session.flush()
    return case


def complete_task(
    session: Session,
    task: InspectionTask,
    *,
    answers: Mapping[str, str],
    notes: str,
    lat: float | None,
    lon: float | None,
    photos: Sequence[Attachment] = (),
    actor: User,
    ip: str = "",
    now: dt.datetime | None = None,
) -> InspectionTask:
    """Record the inspection: the checklist's answers, notes, photos and where. A problem
    left to rectify opens one routed case; a random check's result waits for a moderator's
    approval before it is public. Two submissions at once: the second is refused."""
    check_complete(task, actor)
    checklist = checklist_of(task)
    read = read_answers(checklist, answers)
    notes = notes.strip()
    if len(notes) > NOTES_MAX:
        raise InspectionError(f"检查说明不能超过 {NOTES_MAX} 个字")
    if (lat is None) != (lon is None) or (
            lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)):
        raise InspectionError("定位数据无效，请重新定位或不使用定位")
    result, problems = result_of(checklist, read)
    now = now or utcnow()
    case = (_open_finding(session, task, problems, notes, actor=actor, ip=ip, now=now)
            if result is TaskResult.FINDING else None)
    if lat is not None:
        source = "device"
    else:
        source, lat, lon = "address", task.unit.lat, task.unit.lon
    publication = (Publication.PENDING if task.round.kind is RoundKind.RANDOM
                   else Publication.NONE)
    claimed = session.execute(
        update(InspectionTask)
        .where(InspectionTask.id == task.id, InspectionTask.status == TaskStatus.OPEN)
        .values(status=TaskStatus.DONE, result=result, completed_at=now,
                completed_by_id=actor.id, case_id=case.id if case else None,
                checklist_code=checklist.code, checklist_version=checklist.version,
                answers=read, notes=notes, lat=lat, lon=lon, location_source=source,
                publication=publication)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InspectionError("本任务已经登记过检查结果，不能重复提交")
    session.refresh(task)
    for photo in photos:
        photo.inspection_task_id = task.id
        photo.uploaded_by_id = actor.id
        photo.public = False
    session.flush()
    audit.record(session, "task.complete", "inspection_task", task.id, actor=actor, ip=ip,
                 after={"result": result.value, "case_id": task.case_id,
                        "problems": [p.code for p in problems], "photos": len(photos),
                        "location_source": source, "publication": publication.value})
    return task


def task_photos(session: Session, task: InspectionTask) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(
        Attachment.inspection_task_id == task.id).order_by(Attachment.id)))
