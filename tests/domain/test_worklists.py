"""The work lists: the department desk's groups, the closures lists, triage and the staff cases
list, each paged exactly (every row on one page only) with rows enough to page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from portal.domain import clock, paging
from portal.domain.casework import workflow, worklists
from portal.domain.clock import utcnow
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    Channel,
)
from portal.domain.models import Assignment, Case, CaseEvent, Unit
from tests import factories
from tests.domain.linkage_helpers import moderator, officer, supervisor
from tests.domain.supervision_helpers import case_at

pytestmark = pytest.mark.usefixtures("app")

MANY = 150


def bulk_cases(session: Session, n: int, stage: str, *, department: str = "FIRE",
               extension: bool = False) -> list[Case]:
    """``n`` cases at ``stage`` ("rectifying", "rectified" or "closed"), led by
    ``department``, built straight from the models in one flush: the workflow takes a tenth
    of a second a case, and these only need to be in the state. The i-th case has the i-th
    earliest date of its list (rectify-by, rectified-at, follow-up date); ``extension`` adds
    a pending extension request to each."""
    now = utcnow()
    today = clock.local_today()
    lead = factories.department(session, department)
    village, category = factories.village(session), factories.category(session)
    cases = []
    for i in range(n):
        name = f"批量单位{stage}{i:03d}"
        values: dict[str, Any] = {
            "status": CaseStatus(stage), "routed_at": now - dt.timedelta(days=40),
            "checked_at": now - dt.timedelta(days=35), "confirmed_at": now - dt.timedelta(days=35),
            "rectify_by": today + dt.timedelta(days=i + 1),
        }
        if stage in ("rectified", "closed"):
            values["rectified_at"] = now - dt.timedelta(days=10, minutes=n - i)
        if stage == "closed":
            values |= {"closed_at": now - dt.timedelta(days=5), "outcome": CaseOutcome.RECTIFIED,
                       "follow_up_by": today + dt.timedelta(days=i + 1)}
        case = Case(unit=Unit(name=name, normalized_name=name, village=village),
                    village=village, category=category, channel=Channel.WEB, **values)
        case.assignments.append(Assignment(
            department=lead, role=AssignmentRole.LEAD, routed_at=values["routed_at"],
            state=AssignmentState.COMPLETED if stage == "closed" else AssignmentState.ACCEPTED,
            accepted_at=values["routed_at"],
            ended_at=values.get("closed_at")))
        if extension:
            wanted = values["rectify_by"] + dt.timedelta(days=30)
            case.events.append(CaseEvent(
                kind=CaseEventKind.EXTENSION_REQUESTED, department=lead,
                internal_text=f"申请延期至 {wanted.isoformat()}：等待材料",
                data={"current": values["rectify_by"].isoformat(),
                      "requested": wanted.isoformat(), "reason": "等待材料"}))
        cases.append(case)
    session.add_all(cases)
    session.flush()
    return cases


def every_page(list_page: Callable[[int], paging.Page[Any]]) -> list[Any]:
    """The items of every page of a list, in order, checking the pages add up."""
    first = list_page(1)
    items = list(first.items)
    for number in range(2, first.pages + 1):
        page = list_page(number)
        assert page.number == number and page.total == first.total
        items.extend(page.items)
    assert len(items) == first.total
    return items


def ids(cases: list[Case]) -> list[int]:
    return [c.id for c in cases]


# ---------------------------------------------------------------- the closures lists


def test_all_150_pending_extension_requests_are_listed_once_over_the_pages(
        db_session: Session) -> None:
    cases = bulk_cases(db_session, MANY, "rectifying", extension=True)
    # Requests already decided, with deadlines among the earliest: never listed.
    for decided in bulk_cases(db_session, 40, "rectifying", extension=True):
        decided.events.append(CaseEvent(kind=CaseEventKind.EXTENSION_DECIDED,
                                        internal_text="不同意延期：理由不充分",
                                        data={"approved": False}))
    db_session.flush()
    rows = every_page(lambda n: worklists.pending_extensions(db_session, page=n))
    listed = [c.id for c, _request in rows]
    # Earliest current deadline first, each case once, the 50 latest deadlines included.
    assert listed == ids(cases)
    assert set(ids(cases[-50:])) <= set(listed)
    assert all(request.case_id == case.id and request.kind is CaseEventKind.EXTENSION_REQUESTED
               for case, request in rows)
    assert worklists.pending_extensions(db_session, page=1).pages == 5


def test_a_decided_request_is_not_listed_and_a_new_request_is(db_session: Session) -> None:
    fire = officer(db_session, "FIRE")
    case = case_at(db_session, "rectifying")
    untouched = case_at(db_session, "rectifying")

    def listed() -> dict[int, CaseEvent]:
        return {c.id: e for c, e in worklists.pending_extensions(db_session, size=100).items}

    assert listed() == {}
    first = workflow.request_extension(db_session, case, actor=fire, reason="材料未到",
                                       new_date=case.rectify_by + dt.timedelta(days=10))
    assert listed() == {case.id: first}
    workflow.decide_extension(db_session, case, actor=supervisor(db_session), approve=False,
                              reason="理由不充分")
    assert listed() == {}
    again = workflow.request_extension(db_session, case, actor=fire, reason="厂家延迟供货",
                                       new_date=case.rectify_by + dt.timedelta(days=20))
    assert listed() == {case.id: again}
    # The SQL says what ``workflow.pending_extension`` says, case by case.
    for each in (case, untouched):
        assert listed().get(each.id) is workflow.pending_extension(each)


def test_all_150_cases_awaiting_closure_are_listed_longest_waiting_first(
        db_session: Session) -> None:
    cases = bulk_cases(db_session, MANY, "rectified")
    listed = every_page(lambda n: worklists.awaiting_closure(db_session, page=n))
    assert ids(listed) == ids(cases)


def test_all_150_follow_ups_are_listed_earliest_date_first(db_session: Session) -> None:
    cases = bulk_cases(db_session, MANY, "closed")
    listed = every_page(lambda n: worklists.follow_ups(db_session, page=n))
    assert ids(listed) == ids(cases)


def test_a_page_past_the_end_is_the_last_page(db_session: Session) -> None:
    cases = bulk_cases(db_session, 35, "rectified")
    last = worklists.awaiting_closure(db_session, page="999")
    assert last.number == 2 and ids(last.items) == ids(cases[30:])
    assert worklists.awaiting_closure(db_session, page="nonsense").number == 1


# ---------------------------------------------------------------- the department desk


def test_each_desk_group_holds_its_stage(db_session: Session) -> None:
    stages = {"new": "routed", "checking": "checking", "rectifying": "rectifying",
              "rectified": "rectified"}
    made = {group: case_at(db_session, stage) for group, stage in stages.items()}
    closed = case_at(db_session, "closed")
    closed.follow_up_by = clock.local_today() + dt.timedelta(days=30)
    db_session.flush()
    made["follow_up"] = closed
    fire = factories.department(db_session, "FIRE").id
    for group in worklists.DESK_GROUPS:
        assert ids(worklists.desk_group(db_session, fire, group).items) == [made[group].id], group


def test_a_desk_group_previews_twenty_and_pages_the_rest(db_session: Session) -> None:
    cases = bulk_cases(db_session, 45, "rectifying")
    fire = factories.department(db_session, "FIRE").id
    preview = worklists.desk_group(db_session, fire, "rectifying", page=1,
                                   size=worklists.GROUP_PREVIEW)
    assert preview.total == 45 and ids(preview.items) == ids(cases[:20])
    listed = every_page(lambda n: worklists.desk_group(db_session, fire, "rectifying", page=n))
    assert ids(listed) == ids(cases)
    assert worklists.desk_group(db_session, fire, "rectifying", page=1).pages == 2


def test_a_department_sees_only_its_own_assignments_on_the_desk(db_session: Session) -> None:
    fire_cases = bulk_cases(db_session, 3, "rectifying", department="FIRE")
    police_cases = bulk_cases(db_session, 2, "rectifying", department="POLICE")
    routed_to_police = case_at(db_session, "routed", department="POLICE")
    fire = factories.department(db_session, "FIRE").id
    police = factories.department(db_session, "POLICE").id
    assert ids(worklists.desk_group(db_session, fire, "rectifying").items) == ids(fire_cases)
    assert ids(worklists.desk_group(db_session, police, "rectifying").items) \
        == ids(police_cases)
    assert worklists.desk_group(db_session, fire, "new").items == []
    assert ids(worklists.desk_group(db_session, police, "new").items) == [routed_to_police.id]
    assert worklists.role_on(fire_cases[0], fire) is AssignmentRole.LEAD
    assert worklists.role_on(fire_cases[0], police) is None


def test_an_unknown_desk_group_is_refused(db_session: Session) -> None:
    with pytest.raises(ValueError, match="no desk group"):
        worklists.desk_group(db_session, 1, "everything")


# ---------------------------------------------------------------- triage and the cases list


def test_triage_lists_waiting_cases_oldest_first_over_pages(db_session: Session) -> None:
    start = utcnow() - dt.timedelta(days=3)
    waiting = [case_at(db_session, "triage", created_at=start + dt.timedelta(minutes=i))
               for i in range(35)]
    case_at(db_session, "routed")
    listed = every_page(lambda n: worklists.triage(db_session, page=n))
    assert ids(listed) == ids(waiting)


def test_an_officer_s_cases_list_is_their_department_s_only(db_session: Session) -> None:
    fire_cases = bulk_cases(db_session, 32, "rectifying", department="FIRE")
    bulk_cases(db_session, 3, "rectifying", department="POLICE")
    fire = officer(db_session, "FIRE")
    listed = every_page(lambda n: worklists.staff_cases(db_session, fire, page=n))
    assert ids(listed) == sorted(ids(fire_cases), reverse=True)
    everything = worklists.staff_cases(db_session, moderator(db_session))
    assert everything.total >= 35
