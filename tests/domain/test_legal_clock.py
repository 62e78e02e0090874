"""The whole legal clock (issue 20): every limit counted from what the rule says, on the
working-day calendar injected here (2026 as published, 2027 unknown: the law's holidays),
shown with its basis, met by the step that fulfils it, and overdue on every list."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.casework import limits, major, routing, sla, workflow
from portal.domain.casework.events import WorkflowError
from portal.domain.casework.limits import Rule
from portal.domain.clock import utcnow
from portal.domain.enums import Channel, Severity, SupervisionLevel, TipStatus
from portal.domain.models import Case, CaseClock, Notification, Tip
from portal.domain.reporting import tracking
from portal.domain.supervision import ledger, listings, review
from tests import factories
from tests.domain.linkage_helpers import (
    in_days,
    lead,
    moderator,
    new_case,
    officer,
    supervisor,
)
from tests.test_calendar_statutory import official_calendar  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("app", "official_calendar")

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(dt.UTC)


def end_of(day: str) -> dt.datetime:
    return local(f"{day} 23:59:59")


def received_case(session: Session, category: str, received: dt.datetime) -> Case:
    """A case whose tip was received at ``received``, routed a day and a half later."""
    case = new_case(session, category)
    factories.make_tip(session, case_id=case.id, status=TipStatus.ACCEPTED,
                       created_at=received, decided_at=received)
    proposal = routing.propose_for_case(session, case)
    routing.route_case(session, case, lead=proposal.lead, assists=proposal.assists,
                       actor=moderator(session), now=received + dt.timedelta(hours=36))
    return case


# ---------------------------------------------------------------- §18, from receipt


def test_a_non_urgent_tip_of_30_september_is_due_on_the_make_up_saturday(
        db_session: Session) -> None:
    case = received_case(db_session, "wiring", local("2026-09-30 16:00"))
    # 3 working days after 30 September 2026: 8, 9 and 10 October (a make-up Saturday).
    assert case.check_by == end_of("2026-10-10")


def test_an_urgent_tip_is_due_24_hours_after_receipt_not_after_routing(
        db_session: Session) -> None:
    received = local("2026-09-30 16:00")
    case = received_case(db_session, "blocked_escape", received)
    assert case.routed_at == received + dt.timedelta(hours=36)
    assert case.check_by == received + dt.timedelta(hours=24)


def test_a_category_limit_set_to_two_working_days_is_followed(db_session: Session) -> None:
    wiring = factories.category(db_session, "wiring")
    wiring.check_working_days = 2
    db_session.flush()
    case = received_case(db_session, "wiring", local("2026-09-30 16:00"))
    assert case.check_by == end_of("2026-10-09")
    assert limits.check_limit(wiring).label == "2 个工作日"


def test_a_category_limit_cannot_exceed_the_legal_maximum() -> None:
    with pytest.raises(WorkflowError, match="超过《消防监督检查规定》第十八条的上限 3 个工作日"):
        limits.validate_check_limit(urgent=False, hours=None, working_days=4)
    with pytest.raises(WorkflowError, match="上限 24 小时"):
        limits.validate_check_limit(urgent=True, hours=None, working_days=1)
    with pytest.raises(WorkflowError, match="之一"):
        limits.validate_check_limit(urgent=False, hours=12, working_days=1)
    assert limits.validate_check_limit(urgent=True, hours=12, working_days=None) == \
        limits.Span(hours=12)
    assert limits.validate_check_limit(urgent=False, hours=None, working_days=None) is None


def test_a_case_opened_from_an_inspection_has_no_check_clock(db_session: Session) -> None:
    case = new_case(db_session, "wiring", channel=Channel.INSPECTION)
    routing.route_case(db_session, case, lead=factories.department(db_session, "FIRE"),
                       actor=moderator(db_session), override_reason="巡查发现")
    assert case.check_by is None
    assert not sla.is_overdue(case, utcnow() + dt.timedelta(days=30))


# ---------------------------------------------------------------- §19 and §20


def test_a_violation_found_on_29_december_has_its_order_due_across_new_year(
        db_session: Session) -> None:
    case = received_case(db_session, "wiring", local("2026-12-28 09:00"))
    clock = limits.start(db_session, case, Rule.ORDER, at=local("2026-12-29 10:00"))
    # 30 and 31 December, then New Year's Day 2027 off by the law (2027's notice is not in:
    # the fallback), the weekend, and Monday 4 January.
    assert clock.due_at == end_of("2027-01-04")
    assert sla.calendar_status(db_session, 2027).missing


def test_a_rectify_by_of_5_february_2027_has_its_reinspection_after_the_spring_festival(
        db_session: Session) -> None:
    case = received_case(db_session, "wiring", utcnow() - dt.timedelta(hours=2))
    fire = officer(db_session, "FIRE")
    workflow.accept_assignment(db_session, lead(case), actor=fire)
    workflow.record_check(db_session, case, actor=fire, confirmed=True, findings="属实")
    order = limits.open_clock(case, Rule.ORDER)
    assert order is not None and order.due_at > utcnow()
    workflow.set_rectification(db_session, case, actor=fire, deadline=dt.date(2027, 2, 5))
    assert order.met_at is not None
    reinspect = limits.open_clock(case, Rule.REINSPECT)
    # 除夕 5 February, the Spring Festival 6–8 February (the law's four days), then 9, 10, 11.
    assert reinspect is not None and reinspect.due_at == end_of("2027-02-11")
    # The unit applies early: the re-inspection is due 3 working days after its application.
    applied = in_days(0)
    workflow.record_application(db_session, case, actor=fire, applied_on=applied)
    again = limits.open_clock(case, Rule.REINSPECT)
    assert again is not None and again is not reinspect and reinspect.cancelled_at is not None
    assert again.due_at == limits.due_after_day(db_session, applied,
                                                limits.LIMITS[Rule.REINSPECT].span)
    # The re-inspection that reports the hazard rectified meets it.
    workflow.report_rectified(db_session, case, actor=fire, report="复查合格")
    assert again.met_at is not None
    views = {v.rule: v for v in limits.clocks_of(db_session, case)}
    assert views[Rule.ORDER].basis == "《消防监督检查规定》第十九条"
    assert views[Rule.REINSPECT].basis == "《消防监督检查规定》第二十条"
    assert views[Rule.REINSPECT].state is limits.ClockState.MET
    assert views[Rule.CHECK].state is limits.ClockState.MET
    # Closure leaves nothing running.
    workflow.approve_closure(db_session, case, actor=supervisor(db_session))
    assert all(not c.open for c in case.clocks)


# ---------------------------------------------------------------- overdue everywhere


def _late_order(session: Session) -> Case:
    """A confirmed case whose §19 order was due yesterday and never served."""
    case = received_case(session, "wiring", utcnow() - dt.timedelta(days=10))
    fire = officer(session, "FIRE")
    workflow.accept_assignment(session, lead(case), actor=fire)
    workflow.record_check(session, case, actor=fire, confirmed=True, findings="属实")
    clock = limits.open_clock(case, Rule.ORDER)
    assert clock is not None
    clock.due_at = utcnow() - dt.timedelta(days=1)
    session.flush()
    return case


def test_an_overdue_order_is_overdue_on_the_ledger_and_its_counts(db_session: Session) -> None:
    late = _late_order(db_session)
    on_time = received_case(db_session, "wiring", utcnow() - dt.timedelta(hours=1))
    now = utcnow()
    assert sla.is_overdue(late, now) and not sla.is_overdue(on_time, now)
    assert limits.due_of(late, now).overdue
    for overdue in (ledger.Overdue.ANY, ledger.Overdue.CLOCK):
        f = ledger.LedgerFilter(overdue=overdue)
        ids = set(db_session.scalars(select(Case.id).where(*ledger.conditions(f, now))))
        assert ids == {late.id}, overdue
        # The tallies (minus the cases not yet due) count what a scan of the rows counts.
        assert ledger._from_tallies(db_session, f, None, now, None) == \
            ledger._scan_count(db_session, f, now, None) == 1
    # A rectification still within its deadline is not "rectification overdue".
    f = ledger.LedgerFilter(overdue=ledger.Overdue.RECTIFY)
    assert ledger._from_tallies(db_session, f, None, now, None) == \
        ledger._scan_count(db_session, f, now, None) == 0


def test_sla_scan_reminds_the_lead_and_the_office_of_an_overdue_order(
        db_session: Session) -> None:
    case = _late_order(db_session)
    first = limits.remind(db_session)
    assert first.overdue == 1 and first.written >= 1
    sent = db_session.scalars(select(Notification).where(
        Notification.kind == "order_overdue")).all()
    assert lead(case).department_id in {n.recipient_department_id for n in sent}
    assert "《消防监督检查规定》第十九条" in sent[0].subject
    assert limits.remind(db_session).written == 0  # idempotent


def test_a_met_clock_is_not_overdue(db_session: Session) -> None:
    case = _late_order(db_session)
    fire = officer(db_session, "FIRE")
    workflow.set_rectification(db_session, case, actor=fire, deadline=in_days(10))
    clock = db_session.scalars(select(CaseClock).where(CaseClock.case_id == case.id,
                                                       CaseClock.rule == "order")).one()
    assert clock.met_at is not None
    view = next(v for v in limits.clocks_of(db_session, case) if v.rule is Rule.ORDER)
    assert view.state is limits.ClockState.MET_LATE and view.late
    assert not sla.is_overdue(case)


# ---------------------------------------------------------------- §21: a major hazard


def _confirmed(session: Session) -> Case:
    case = received_case(session, "wiring", utcnow() - dt.timedelta(hours=3))
    fire = officer(session, "FIRE")
    workflow.accept_assignment(session, lead(case), actor=fire)
    workflow.record_check(session, case, actor=fire, confirmed=True, findings="属实")
    return case


def test_one_direct_element_proposes_major_and_the_decision_opens_the_clocks(
        db_session: Session) -> None:
    case = _confirmed(db_session)
    fire = officer(db_session, "FIRE")
    proposal = major.record_elements(db_session, case, actor=fire, premises_kind="crowded",
                                     found=["P-2"])
    assert proposal.major and any("直接判定要素 P-2" in r for r in proposal.reasons)
    report = limits.open_clock(case, Rule.MAJOR_REPORT)
    assert report is not None
    assert case.checked_at is not None
    seven = limits.due_after(db_session, case.checked_at, limits.Span(working_days=7))
    assert report.due_at == seven
    # Two people are not a collective judgement.
    with pytest.raises(WorkflowError, match="不少于 3 人"):
        major.judge(db_session, case, actor=fire, major=True, participants=["张三", "李四"],
                    reason="符合直接判定要素")
    assert case.severity.value == "general"
    major.judge(db_session, case, actor=fire, major=True,
                participants=["张三", "李四", "王五"], reason="符合直接判定要素 P-2",
                expert_review=True)
    assert case.severity.value == "major"
    # The expert review adds 10 working days to the report's 7.
    assert report.due_at == limits.due_after(db_session, seven, limits.EXPERT_REVIEW)
    notice = limits.open_clock(case, Rule.MAJOR_NOTICE)
    assert notice is not None and notice.due_at == limits.due_after(
        db_session, notice.started_at, limits.Span(working_days=3))
    assert major.decision_of(case) is not None
    with pytest.raises(WorkflowError, match="已集体判定"):
        major.judge(db_session, case, actor=fire, major=False,
                    participants=["张三", "李四", "王五"], reason="再议")


def test_a_hazard_judged_general_stops_the_report_clock(db_session: Session) -> None:
    case = _confirmed(db_session)
    fire = officer(db_session, "FIRE")
    proposal = major.record_elements(db_session, case, actor=fire, premises_kind="other",
                                     found=[], suspected=True, note="现场情况复杂")
    assert not proposal.major
    assert limits.open_clock(case, Rule.MAJOR_REPORT) is not None
    major.judge(db_session, case, actor=fire, major=False,
                participants=["张三", "李四", "王五"], reason="未达到判定条件")
    assert limits.open_clock(case, Rule.MAJOR_REPORT) is None
    assert limits.open_clock(case, Rule.MAJOR_NOTICE) is None
    assert case.severity.value == "general"


def test_only_the_lead_records_elements_and_unknown_ones_are_refused(
        db_session: Session) -> None:
    case = _confirmed(db_session)
    with pytest.raises(WorkflowError, match="牵头部门"):
        major.record_elements(db_session, case, actor=supervisor(db_session),
                              premises_kind="crowded", found=["P-2"])
    with pytest.raises(WorkflowError, match="不在 GB 35181-2025 中"):
        major.record_elements(db_session, case, actor=officer(db_session, "FIRE"),
                              premises_kind="crowded", found=["9.9"])


def test_listing_meets_a_requested_listing_decision(db_session: Session) -> None:
    case = _confirmed(db_session)
    case.severity = Severity.MAJOR
    limits.start(db_session, case, Rule.LISTING_DECISION, note="提请挂牌督办")
    db_session.flush()
    listings.list_case(db_session, case, actor=supervisor(db_session),
                       level=SupervisionLevel.COUNTY, deadline=in_days(30),
                       responsible_leader="副县长")
    assert all(c.met_at is not None for c in case.clocks if c.rule == "listing_decision")


def test_the_reporter_is_told_an_unfounded_check_is_being_reviewed(db_session: Session) -> None:
    case = received_case(db_session, "wiring", utcnow() - dt.timedelta(hours=3))
    tip = db_session.scalars(select(Tip).where(Tip.case_id == case.id)).one()
    fire = officer(db_session, "FIRE")
    workflow.accept_assignment(db_session, lead(case), actor=fire)
    workflow.record_check(db_session, case, actor=fire, confirmed=False, findings="未见")
    assert tracking.status_summary(db_session, tip)[0] == "核查结果审核中"
    workflow.approve_unfounded(db_session, case, actor=supervisor(db_session))
    assert tracking.status_summary(db_session, tip)[0] == "已办结"


def test_the_department_review_counts_the_later_limits(db_session: Session) -> None:
    late = _late_order(db_session)
    on_time = _confirmed(db_session)
    fire = officer(db_session, "FIRE")
    workflow.set_rectification(db_session, on_time, actor=fire, deadline=in_days(10))
    today = utcnow().date()
    rows = {r.department.code: r for r in review.review(
        db_session, today - dt.timedelta(days=30), today + dt.timedelta(days=1))}
    fire_row = rows[lead(late).department.code]
    # The late order (due yesterday, never served) and the one served at once.
    assert (fire_row.limits_on_time, fire_row.limits_due) == (1, 2)
    assert fire_row.limits_on_time_pct == 50.0
