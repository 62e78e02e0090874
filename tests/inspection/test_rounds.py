"""Inspection rounds (排查, issue 22): one task per unit in scope, the inspectors in turn, the
result recorded once; a finding opens one routed case on the §19 order's clock."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.domain.access.audit import AuditLog
from portal.domain.casework import limits, workflow
from portal.domain.clock import utcnow
from portal.domain.enums import AssignmentRole, CaseStatus, Channel
from portal.domain.inspection import rounds
from portal.domain.inspection.rounds import InspectionError
from portal.domain.models import Case, InspectionTask
from portal.domain.models.inspections import Publication, TaskResult, TaskStatus
from tests import factories
from tests.inspection.rounds_fixtures import END, START, people, plan, unit

pytestmark = pytest.mark.usefixtures("app")


def _all(task: InspectionTask, value: str = "ok") -> dict[str, str]:
    return {item.code: value for item in rounds.checklist_of(task).items}


def test_a_round_over_two_villages_gives_each_unit_in_scope_one_task(
        db_session: Session) -> None:
    staff = people(db_session)
    in_scope = [unit(db_session, "甲商店"), unit(db_session, "乙饭店", venue="restaurant"),
                unit(db_session, "丙商店", "V02")]
    unit(db_session, "西沟村商店", "V03")  # another village
    unit(db_session, "北社商店", "BS-V01")  # another township
    merged = unit(db_session, "甲商店重复", merged_into_id=in_scope[0].id)
    round_ = plan(db_session, staff["supervisor"], [staff["grid_a"], staff["grid_b"]],
                  villages=["V01", "V02"])
    tasks = round_.tasks
    assert sorted(t.unit_id for t in tasks) == sorted(u.id for u in in_scope)
    assert merged.id not in {t.unit_id for t in tasks}
    # Inspectors take turns; every task is due at the end of the round.
    per = [sum(t.inspector_id == g.id for t in tasks) for g in (staff["grid_a"], staff["grid_b"])]
    assert sorted(per) == [1, 2]
    assert {t.due_on for t in tasks} == {END}
    # Each task carries its venue type's checklist.
    restaurant = next(t for t in tasks if t.unit_id == in_scope[1].id)
    assert restaurant.checklist_code == "shop_restaurant"
    assert db_session.scalar(select(AuditLog).where(
        AuditLog.action == "round.plan", AuditLog.object_id == str(round_.id))) is not None


def test_venue_types_narrow_the_scope(db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    workshop = unit(db_session, "丁作坊", "V02", venue="family_workshop")
    round_ = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=[],
                  venues=["family_workshop"])
    assert [t.unit_id for t in round_.tasks] == [workshop.id]


def test_a_round_refuses_inspectors_and_villages_of_another_township(
        db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    with pytest.raises(InspectionError, match="检查人员"):
        plan(db_session, staff["supervisor"], [staff["grid_other"]], villages=["V01"])
    with pytest.raises(InspectionError, match="不属于本乡镇"):
        plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["BS-V01"])
    with pytest.raises(InspectionError, match="权限"):
        plan(db_session, staff["supervisor_b"], [staff["grid_a"]], villages=["V01"])
    with pytest.raises(InspectionError, match="没有场所"):
        plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V04"])
    with pytest.raises(InspectionError, match="部门"):
        rounds.plan_round(
            db_session, township=factories.township(db_session), name="排查",
            venue_type_ids=[], village_ids=[],
            department_ids=[factories.department(db_session, "BS-POLICE").id],
            inspector_ids=[staff["grid_a"].id], starts_on=START, ends_on=END,
            actor=staff["supervisor"])
    with pytest.raises(InspectionError, match="结束日期"):
        rounds.plan_round(
            db_session, township=factories.township(db_session), name="排查",
            venue_type_ids=[], village_ids=[], department_ids=[],
            inspector_ids=[staff["grid_a"].id], starts_on=END, ends_on=START,
            actor=staff["supervisor"])


def test_a_finding_opens_a_routed_case_with_the_rules_lead_and_the_order_clock(
        db_session: Session) -> None:
    staff = people(db_session)
    shop = unit(db_session, "甲商店")
    task = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"]).tasks[0]
    answers = _all(task) | {"escape": "problem", "wiring": "corrected"}
    rounds.complete_task(db_session, task, answers=answers, notes="门口堆放纸箱",
                         lat=None, lon=None, actor=staff["grid_a"])
    assert task.status is TaskStatus.DONE and task.result is TaskResult.FINDING
    case = db_session.get(Case, task.case_id)
    assert case is not None and case.unit_id == shop.id
    assert case.channel is Channel.INSPECTION
    assert case.category.code == "blocked_escape"
    # The routing table's rule for blocked escapes: the fire station leads, police assist.
    assert case.status is CaseStatus.ROUTED
    lead = [a for a in case.assignments if a.role is AssignmentRole.LEAD]
    assert [a.department.code for a in lead] == ["FIRE"]
    assert {a.department.code for a in case.assignments
            if a.role is AssignmentRole.ASSIST} == {"POLICE"}
    # Already checked on site: no §18 check, the §19 order's clock runs.
    assert case.check_by is None
    clocks = limits.clocks_of(db_session, case)
    assert [c.rule for c in clocks] == [limits.Rule.ORDER]
    assert "疏散通道" in case.internal_summary and "门口堆放纸箱" in case.internal_summary
    # The location: none from the device, so the unit's address.
    assert task.location_source == "address"
    # A plain round's result is not for the public site.
    assert task.publication is Publication.NONE


def test_the_lead_recording_its_check_keeps_the_order_clock_the_inspection_started(
        db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    task = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"]).tasks[0]
    rounds.complete_task(db_session, task, answers=_all(task) | {"escape": "problem"},
                         notes="", lat=None, lon=None, actor=staff["grid_a"])
    case = db_session.get(Case, task.case_id)
    assert case is not None
    [started] = limits.clocks_of(db_session, case)
    lead = next(a for a in case.assignments if a.role is AssignmentRole.LEAD)
    workflow.accept_assignment(db_session, lead, actor=staff["fire_a"])
    workflow.record_check(db_session, case, actor=staff["fire_a"], confirmed=True,
                          findings="与排查记录一致")
    # The inspection was the check: its §19 clock runs on, not restarted from now.
    [order] = limits.clocks_of(db_session, case)
    assert order.rule is limits.Rule.ORDER and order.due_at == started.due_at
    assert order.state is not limits.ClockState.CANCELLED


def test_a_problem_corrected_on_the_spot_opens_no_case(db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    task = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"]).tasks[0]
    cases = db_session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
    rounds.complete_task(db_session, task, answers=_all(task) | {"escape": "corrected"},
                         notes="", lat=35.1, lon=113.2, actor=staff["grid_a"])
    assert task.result is TaskResult.CORRECTED and task.case_id is None
    assert db_session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) == cases
    assert (task.lat, task.lon, task.location_source) == (35.1, 113.2, "device")


def test_only_the_inspector_completes_a_task_and_only_once(db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    task = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"]).tasks[0]
    with pytest.raises(InspectionError, match="只有分派"):
        rounds.complete_task(db_session, task, answers=_all(task), notes="", lat=None,
                             lon=None, actor=staff["grid_b"])
    with pytest.raises(InspectionError, match="第 1 项"):
        rounds.complete_task(db_session, task, answers={}, notes="", lat=None, lon=None,
                             actor=staff["grid_a"])
    rounds.complete_task(db_session, task, answers=_all(task), notes="", lat=None, lon=None,
                         actor=staff["grid_a"])
    assert task.result is TaskResult.PASSED
    with pytest.raises(InspectionError, match="不能重复提交"):
        rounds.complete_task(db_session, task, answers=_all(task), notes="", lat=None,
                             lon=None, actor=staff["grid_a"])


def test_progress_counts_per_village_and_inspector_overdue_and_findings(
        db_session: Session) -> None:
    staff = people(db_session)
    for name, village in (("甲商店", "V01"), ("乙商店", "V01"), ("丙商店", "V02")):
        unit(db_session, name, village)
    round_ = plan(db_session, staff["supervisor"], [staff["grid_a"], staff["grid_b"]],
                  villages=["V01", "V02"])
    first = round_.tasks[0]
    inspector = next(u for u in staff.values() if u.id == first.inspector_id)
    rounds.complete_task(db_session, first, answers=_all(first) | {"escape": "problem"},
                         notes="", lat=None, lon=None, actor=inspector)
    during = rounds.progress(round_, today=END)
    assert (during.done, during.total) == (1, 3)
    assert {(t.label, t.done, t.total) for t in during.by_village} == {
        (factories.village(db_session, "V01").name, 1, 2),
        (factories.village(db_session, "V02").name, 0, 1)}
    assert sorted((t.done, t.total) for t in during.by_inspector) == [(0, 1), (1, 2)]
    assert during.overdue == [] and [t.id for t in during.findings] == [first.id]
    after = rounds.progress(round_, today=END + dt.timedelta(days=1))
    assert len(after.overdue) == 2
    # The list's one-query figures say the same.
    listed = rounds.summaries(db_session, [round_.id], END + dt.timedelta(days=1))[round_.id]
    assert (listed.done, listed.total, listed.overdue, listed.findings) == (1, 3, 2, 1)
    assert [r.id for r in rounds.rounds_for(db_session, staff["supervisor"]).items] == [
        round_.id]
    assert rounds.rounds_for(db_session, staff["supervisor_b"]).items == []


def test_an_inspectors_open_tasks_come_first(db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    unit(db_session, "乙商店")
    round_ = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"])
    first, second = round_.tasks
    rounds.complete_task(db_session, first, answers=_all(first), notes="", lat=None,
                         lon=None, actor=staff["grid_a"])
    assert [t.id for t in rounds.tasks_of(db_session, staff["grid_a"])] == [second.id,
                                                                             first.id]
    assert rounds.tasks_of(db_session, staff["grid_b"]) == []


def test_a_submission_that_read_the_task_before_another_was_written_is_refused(
        db_session: Session) -> None:
    """Two tabs (or a double tap) at once: the page of the second still says open, the
    conditional write of the result tells it the truth."""
    staff = people(db_session)
    unit(db_session, "甲商店")
    task = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"]).tasks[0]
    db_session.commit()
    # The first submission, written behind this session's back.
    db_session.execute(update(InspectionTask).where(InspectionTask.id == task.id).values(
        status=TaskStatus.DONE, result=TaskResult.PASSED, completed_at=utcnow()
    ).execution_options(synchronize_session=False))
    assert task.status is TaskStatus.OPEN  # what the second one read
    cases = db_session.scalar(select(func.count()).select_from(Case))
    with pytest.raises(InspectionError, match="不能重复提交"), db_session.begin_nested():
        rounds.complete_task(db_session, task, answers=_all(task, "problem"), notes="",
                             lat=None, lon=None, actor=staff["grid_a"])
    db_session.expire_all()
    assert db_session.get(InspectionTask, task.id).result is TaskResult.PASSED
    # The case the refused submission had opened went with its transaction.
    assert db_session.scalar(select(func.count()).select_from(Case)) == cases
