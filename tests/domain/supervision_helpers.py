"""Builders for the supervision tests: cases at each stage, and a seeded ledger."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.casework import limits, routing, workflow
from portal.domain.clock import utcnow
from portal.domain.enums import Severity
from portal.domain.models import Case
from tests import factories
from tests.domain.linkage_helpers import lead, moderator, new_case, officer, supervisor

STAGES = ("triage", "routed", "checking", "rectifying", "rectified", "closed", "unfounded")


def case_at(session: Session, stage: str, *, department: str = "FIRE", village: str = "V01",
            category: str = "wiring", severity: Severity = Severity.GENERAL,
            routed_days_ago: float = 0, rectify_by: dt.date | None = None,
            created_at: dt.datetime | None = None, venue_type: str | None = None,
            unit_name: str = "测试商店") -> Case:
    """A case taken through the real workflow to ``stage``, its lead being ``department``.

    ``routed_days_ago`` puts the routing and the check deadline in the past (as if the tip
    had been received then: §18 counts from receipt; the case's own dates stay this month's);
    an "unfounded" case is closed as unfounded after the review;
    ``rectify_by`` then overrides the deadline the department set (which must be today or
    later when set through the workflow).
    """
    case = new_case(session, category, venue_type=venue_type, village=village,
                    unit_name=unit_name, severity=severity)
    now = utcnow()
    if created_at is not None:
        case.created_at = created_at
    if stage == "triage":
        session.flush()
        return case
    routing.route_case(session, case, lead=factories.department(session, department),
                       actor=moderator(session),
                       override_reason="测试指定", now=now - dt.timedelta(days=routed_days_ago))
    if routed_days_ago:
        assert case.routed_at is not None
        case.check_by = limits.due_after(session, case.routed_at,
                                         limits.check_limit(case.category))
        session.flush()
    if stage == "routed":
        return case
    actor = officer(session, department)
    workflow.accept_assignment(session, lead(case), actor=actor)
    if stage == "checking":
        return case
    if stage == "unfounded":
        workflow.record_check(session, case, actor=actor, confirmed=False, findings="不属实")
        workflow.approve_unfounded(session, case, actor=moderator(session))
        return case
    workflow.record_check(session, case, actor=actor, confirmed=True, findings="属实")
    workflow.set_rectification(session, case, actor=actor,
                               deadline=clock.local_today() + dt.timedelta(days=30))
    if rectify_by is not None:
        case.rectify_by = rectify_by
        session.flush()
    if stage == "rectifying":
        return case
    workflow.report_rectified(session, case, actor=actor, report="已整改")
    if stage == "rectified":
        return case
    workflow.approve_closure(session, case, actor=supervisor(session))
    return case


def seed_ledger(session: Session) -> dict[str, Case]:
    """A small township: every stage, overdue and due-soon cases, two departments, three
    villages, major hazards old and new."""
    today = clock.local_today()
    old = dt.datetime(2023, 6, 1, 2, 0, tzinfo=dt.UTC)
    cases = {
        "triage": case_at(session, "triage", village="V02"),
        "routed_late": case_at(session, "routed", routed_days_ago=10, village="V01"),
        "routed_fresh": case_at(session, "routed", department="POLICE", village="V02"),
        "checking_late": case_at(session, "checking", routed_days_ago=12, village="V03"),
        "rectify_late": case_at(session, "rectifying", severity=Severity.MAJOR,
                                rectify_by=today - dt.timedelta(days=2), village="V01"),
        "rectify_soon": case_at(session, "rectifying", department="POLICE",
                                rectify_by=today + dt.timedelta(days=3), village="V03"),
        "rectify_later": case_at(session, "rectifying", village="V02",
                                 venue_type="restaurant", category="blocked_escape"),
        "rectified": case_at(session, "rectified", village="V01"),
        "closed_major_old": case_at(session, "closed", severity=Severity.MAJOR, created_at=old),
        "open_major_old": case_at(session, "rectifying", severity=Severity.MAJOR,
                                  created_at=old, village="V02"),
        "unfounded": case_at(session, "unfounded", department="POLICE"),
    }
    session.flush()
    return cases
