"""Routing proposals come from the rules and the jurisdiction settings; routing keeps a trail."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.administration import settings as portal_settings
from portal.domain.casework import routing
from portal.domain.casework.workflow import WorkflowError
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    CaseEventKind,
    CaseStatus,
    Severity,
    SupervisionLevel,
    TipStatus,
)
from portal.domain.models import AuditLog, Notification, RoutingRule
from tests import factories
from tests.domain.linkage_helpers import moderator, new_case, officer

pytestmark = pytest.mark.usefixtures("app")


def propose(session: Session, category: str, venue_type: str | None = None,
            village: str = "V01", severity: Severity = Severity.GENERAL) -> routing.Proposal:
    return routing.propose_routing(
        session, factories.category(session, category),
        factories.venue_type(session, venue_type) if venue_type else None,
        factories.village(session, village), severity=severity)


def codes(proposal: routing.Proposal) -> tuple[str, list[str]]:
    return proposal.lead.code, [d.code for d in proposal.assists]


def test_a_category_rule_names_lead_and_assisting_departments(db_session: Session) -> None:
    proposal = propose(db_session, "blocked_escape")
    assert codes(proposal) == ("FIRE", ["POLICE"])
    assert proposal.rule is not None and not proposal.manual
    assert not proposal.supervision


def test_the_most_specific_rule_wins(db_session: Session) -> None:
    # Category alone → fire station; category + restaurant → market supervision.
    assert codes(propose(db_session, "fire_electric_gas_misuse")) == ("FIRE", ["POLICE"])
    assert codes(propose(db_session, "fire_electric_gas_misuse", "restaurant")) == (
        "SCJG", ["FIRE"])
    # Category + village beats the category rule.
    assert codes(propose(db_session, "illegal_dwelling", village="V03")) == (
        "VC-V03", ["POLICE"])
    assert codes(propose(db_session, "illegal_dwelling", village="V02")) == ("POLICE", ["FIRE"])


def test_among_equally_specific_rules_priority_then_age_decides(db_session: Session) -> None:
    # The kindergarten rule (priority 10) beats the wiring rule (0) ...
    assert codes(propose(db_session, "wiring", "kindergarten")) == ("JY", ["FIRE"])
    # ... but not the blocked-escape rule (20).
    assert codes(propose(db_session, "blocked_escape", "kindergarten")) == ("FIRE", ["POLICE"])
    # Two rules alike in every way: the older one wins.
    older = RoutingRule(category=factories.category(db_session, "other"),
                        lead_department=factories.department(db_session, "YJB"))
    newer = RoutingRule(category=factories.category(db_session, "other"),
                        lead_department=factories.department(db_session, "ZJ"))
    db_session.add_all([older, newer])
    db_session.flush()
    assert propose(db_session, "other").rule is older


def test_inactive_rules_are_ignored(db_session: Session) -> None:
    rule = propose(db_session, "wiring").rule
    assert rule is not None and rule.township is not None  # 阳高乡's own rule
    rule.active = False
    db_session.flush()
    # The county's default for the same criteria now applies ...
    county = propose(db_session, "wiring")
    assert county.lead.code == "DADUI" and county.rule is not None
    assert county.rule.township_id is None
    county.rule.active = False
    db_session.flush()
    # ... and without it the township office triages.
    assert propose(db_session, "wiring").lead.code == "XAB"


def test_no_matching_rule_goes_to_the_office_for_manual_triage(db_session: Session) -> None:
    proposal = propose(db_session, "other", "street_shop")
    assert codes(proposal) == ("XAB", [])
    assert proposal.rule is None and proposal.manual
    assert "人工分派" in proposal.reasons[0]


def test_a_major_hazard_brings_in_the_major_hazard_department_as_lead(
    db_session: Session,
) -> None:
    proposal = propose(db_session, "illegal_dwelling", severity=Severity.MAJOR)
    # The police station led by the rules, with the township's fire team; both now assist
    # the county's fire brigade (公安部令第120号 §21).
    assert codes(proposal) == ("DADUI", ["POLICE", "FIRE"])
    assert proposal.supervision
    assert any("重大隐患" in r for r in proposal.reasons)


def test_departments_come_from_the_jurisdiction_settings_not_code(db_session: Session) -> None:
    settings = portal_settings.jurisdiction(db_session)
    portal_settings.put(db_session, portal_settings.JURISDICTION_KEY,
                        {**settings, "major_hazard_department": "YJB"})
    township = factories.township(db_session)
    township.penalty_department, township.office_department = "POLICE", "MZ"
    db_session.flush()
    assert codes(propose(db_session, "wiring", severity=Severity.MAJOR)) == ("YJB", ["FIRE"])
    assert codes(propose(db_session, "hot_work")) == ("ZFD", ["FIRE", "POLICE"])
    assert propose(db_session, "other", "street_shop").lead.code == "MZ"
    # A township that names no office of its own falls back to the county's.
    township.office_department = ""
    db_session.flush()
    assert propose(db_session, "other", "street_shop").lead.code == "XAW"


def test_a_penalty_category_adds_the_law_enforcement_team(db_session: Session) -> None:
    wiring = factories.category(db_session, "wiring")
    assert codes(propose(db_session, "wiring")) == ("FIRE", [])
    wiring.needs_penalty = True
    db_session.flush()
    proposal = propose(db_session, "wiring")
    assert codes(proposal) == ("FIRE", ["ZFD"])
    assert any("行政处罚" in r for r in proposal.reasons)
    # Not added twice when the rule already names it, nor as assistant to itself.
    assert codes(propose(db_session, "sandwich_panel")) == ("ZJ", ["ZFD"])
    assert codes(propose(db_session, "hot_work")) == ("ZFD", ["FIRE"])


def test_routing_as_proposed_creates_assignments_events_and_notifications(
    db_session: Session,
) -> None:
    case = new_case(db_session, "blocked_escape")
    proposal = routing.propose_for_case(db_session, case)
    received = dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.UTC)
    factories.make_tip(db_session, case_id=case.id, status=TipStatus.ACCEPTED,
                       created_at=received, decided_at=received)
    now = received + dt.timedelta(hours=5)
    routing.route_case(db_session, case, lead=proposal.lead, assists=proposal.assists,
                       actor=moderator(db_session), now=now)

    assert case.status is CaseStatus.ROUTED
    # §18 counts the check from the receipt of the tip, not from routing (issue 20).
    assert case.routed_at == now and case.check_by == received + dt.timedelta(hours=24)
    assert [(a.department.code, a.role, a.state) for a in case.assignments] == [
        ("FIRE", AssignmentRole.LEAD, AssignmentState.PENDING),
        ("POLICE", AssignmentRole.ASSIST, AssignmentState.PENDING),
    ]
    event = case.events[-1]
    assert event.kind is CaseEventKind.ROUTED and event.department.code == "FIRE"
    assert event.data["proposal"]["lead"] == "FIRE" and not event.data["overridden"]
    assert "FIRE" not in event.public_text and "消防" in event.public_text
    audit_row = db_session.scalar(select(AuditLog).where(AuditLog.action == "case.routed"))
    assert audit_row.object_id == str(case.id) and audit_row.after["status"] == "routed"
    notified = db_session.scalars(select(Notification).where(
        Notification.kind == "assignment_new")).all()
    assert {n.recipient_department_id for n in notified} == {
        a.department_id for a in case.assignments}


def test_an_override_needs_a_reason_which_is_recorded(db_session: Session) -> None:
    case = new_case(db_session, "wiring")
    police = factories.department(db_session, "POLICE")
    with pytest.raises(WorkflowError, match="调整理由"):
        routing.route_case(db_session, case, lead=police, actor=moderator(db_session))
    assert case.status is CaseStatus.TRIAGE and case.assignments == []

    routing.route_case(db_session, case, lead=police, actor=moderator(db_session),
                       override_reason="该店由派出所日常管理")
    assert case.assignments[0].override_reason == "该店由派出所日常管理"
    event = case.events[-1]
    assert event.data["overridden"] and event.data["proposal"]["lead"] == "FIRE"
    assert "该店由派出所日常管理" in event.internal_text


def test_manual_triage_needs_no_override_reason(db_session: Session) -> None:
    case = new_case(db_session, "other", "street_shop")
    routing.route_case(db_session, case, lead=factories.department(db_session, "SCJG"),
                       actor=moderator(db_session))
    assert case.status is CaseStatus.ROUTED
    assert case.assignments[0].department.code == "SCJG"


def test_a_major_case_is_flagged_for_supervision(db_session: Session) -> None:
    case = new_case(db_session, "illegal_dwelling", severity=Severity.MAJOR)
    proposal = routing.propose_for_case(db_session, case)
    routing.route_case(db_session, case, lead=proposal.lead, assists=proposal.assists,
                       actor=moderator(db_session))
    assert case.assignments[0].department.code == "DADUI"
    assert case.supervision_level is SupervisionLevel.TOWNSHIP
    assert CaseEventKind.SUPERVISION_CHANGED in [e.kind for e in case.events]


def test_only_cases_in_triage_are_routed_and_only_by_moderators(db_session: Session) -> None:
    case = new_case(db_session, "wiring")
    fire = factories.department(db_session, "FIRE")
    with pytest.raises(WorkflowError, match="只有"):
        routing.route_case(db_session, case, lead=fire, actor=officer(db_session, "FIRE"))
    routing.route_case(db_session, case, lead=fire, actor=moderator(db_session))
    with pytest.raises(WorkflowError, match="待分派"):
        routing.route_case(db_session, case, lead=fire, actor=moderator(db_session))
    assert len(case.assignments) == 1
