"""Judging a major fire hazard on a case (重大火灾隐患判定): GB 35181's elements, the collective
decision, and the §21 clocks they open.

The lead department records, at or after its check, which judgement elements it found that
cannot be corrected on the spot, for the kind of premises, and which exclusions apply
(``record_elements``); ``judgement.propose`` says whether they make a major hazard and why. A
suspected major hazard starts §21's clock for the written report to the government (7 working
days from the check that found it). The decision stays with staff (``judge``): at least three
people, a reason, and whether an expert panel reviewed it (which adds 10 working days to the
report's clock). A hazard judged major is major from then on and its rectification notice is
due within 3 working days; one judged general stops the report's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.casework import judgement, limits, workflow
from portal.domain.casework.events import WorkflowError, flush, log_event
from portal.domain.casework.limits import Rule
from portal.domain.clock import utcnow
from portal.domain.enums import CaseEventKind, CaseStatus, Severity
from portal.domain.models import Assignment, Case, CaseEvent, User

# The check has been made (confirmed) and the case is not closed.
_JUDGED_IN = (CaseStatus.CHECKING, CaseStatus.RECTIFYING, CaseStatus.RECTIFIED)


def decision_of(case: Case) -> CaseEvent | None:
    for event in reversed(case.events):
        if event.kind is CaseEventKind.MAJOR_JUDGED:
            return event
    return None


def check_record_elements(case: Case, actor: User) -> Assignment:
    if case.status not in _JUDGED_IN:
        raise WorkflowError(f"案件当前为“{case.status.label}”，不能登记重大火灾隐患判定要素")
    lead = workflow.lead_for(case, actor, "登记判定要素")
    if decision_of(case) is not None:
        raise WorkflowError("本案件已集体判定，不能再改判定要素")
    return lead


def check_judge(case: Case, actor: User) -> Assignment:
    if case.status not in (CaseStatus.RECTIFYING, CaseStatus.RECTIFIED):
        raise WorkflowError("核查属实后才能集体判定是否构成重大火灾隐患")
    lead = workflow.lead_for(case, actor, "登记集体判定")
    if decision_of(case) is not None:
        raise WorkflowError("本案件已集体判定")
    return lead


@dataclass(frozen=True)
class Recorded:
    """The latest elements recorded on the case, with the portal's proposal."""

    edition: judgement.Edition
    premises_kind: str
    found: tuple[str, ...]
    exclusions: tuple[str, ...]
    proposal: judgement.Proposal
    suspected: bool


def recorded(case: Case) -> Recorded | None:
    for event in reversed(case.events):
        if event.kind is CaseEventKind.MAJOR_SUSPECTED or (
                event.kind is CaseEventKind.NOTE and (event.data or {}).get("elements")):
            data: dict[str, Any] = event.data or {}
            edition = judgement.edition(data["edition"])
            found, excluded = tuple(data["found"]), tuple(data["exclusions"])
            return Recorded(edition, data["premises_kind"], found, excluded,
                            judgement.propose(edition, data["premises_kind"], found, excluded),
                            event.kind is CaseEventKind.MAJOR_SUSPECTED)
    return None


def _check_day(case: Case, tz: str | ZoneInfo | None) -> dt.date:
    return clock.local_today(case.checked_at, tz) if case.checked_at else clock.local_today(tz=tz)


def _report_clock(session: Session, case: Case, tz: str | ZoneInfo | None) -> None:
    """§21's report clock, counted from the check that found the suspected major hazard."""
    if any(c.rule == Rule.MAJOR_REPORT for c in case.clocks):
        return
    limits.start(session, case, Rule.MAJOR_REPORT, at=case.checked_at or utcnow(),
                 note="检查发现疑似重大火灾隐患", tz=tz)


def record_elements(session: Session, case: Case, *, actor: User, premises_kind: str,
                    found: Iterable[str], exclusions: Iterable[str] = (),
                    suspected: bool = False, note: str = "",
                    tz: str | ZoneInfo | None = None) -> judgement.Proposal:
    """Record the elements found (each not correctable on the spot) and the exclusions, on
    the edition in force on the day of the check; a proposal of "major", or the officer's own
    suspicion, makes the hazard a suspected major one and starts §21's report clock."""
    lead = check_record_elements(case, actor)
    edition = judgement.edition_for(_check_day(case, tz))
    found, exclusions = list(found), list(exclusions)
    try:
        proposal = judgement.propose(edition, premises_kind, found, exclusions)
    except ValueError:
        raise WorkflowError(f"所选判定要素或场所类别不在 {edition.code} 中，请刷新页面后重选") \
            from None
    is_suspected = proposal.major or suspected
    words = "；".join(proposal.reasons)
    log_event(
        session, case,
        CaseEventKind.MAJOR_SUSPECTED if is_suspected else CaseEventKind.NOTE,
        actor=actor, department=lead.department,
        internal_text=(f"依据 {edition.code} 登记判定要素。系统建议："
                       + ("构成重大火灾隐患" if proposal.major else "不构成重大火灾隐患")
                       + f"（{words}）"
                       + (f"。说明：{note.strip()}" if note.strip() else "")),
        data={"elements": True, "edition": edition.code, "premises_kind": premises_kind,
              "found": found, "exclusions": exclusions, "proposed_major": proposal.major,
              "suspected": is_suspected, "reasons": list(proposal.reasons)})
    if is_suspected:
        _report_clock(session, case, tz)
    flush(session)
    return proposal


def judge(session: Session, case: Case, *, actor: User, major: bool, participants: list[str],
          reason: str, expert_review: bool = False,
          tz: str | ZoneInfo | None = None) -> CaseEvent:
    """The collective decision (集体讨论判定): major or not, by whom, why. Major: the case is
    a major hazard from now, its rectification notice due within 3 working days (§21)."""
    lead = check_judge(case, actor)
    decision = judgement.validate_decision(participants, reason, expert_review=expert_review)
    now = utcnow()
    _report_clock(session, case, tz)
    if decision.expert_review:
        limits.extend(session, case, Rule.MAJOR_REPORT, limits.EXPERT_REVIEW,
                      note="组织专家论证，延长 10 个工作日", tz=tz)
        log_event(session, case, CaseEventKind.EXPERT_REVIEW, actor=actor,
                  department=lead.department, now=now,
                  internal_text="组织专家论证，报告期限延长 10 个工作日",
                  data={"extended_by_working_days": 10})
    old = case.severity
    if major:
        case.severity = Severity.MAJOR
        limits.start(session, case, Rule.MAJOR_NOTICE, at=now, note="集体判定为重大火灾隐患",
                     tz=tz)
    else:
        limits.cancel(case, Rule.MAJOR_REPORT, note="集体判定不构成重大火灾隐患", at=now)
    flush(session)
    verdict = "构成重大火灾隐患" if major else "不构成重大火灾隐患"
    return log_event(
        session, case, CaseEventKind.MAJOR_JUDGED, actor=actor, department=lead.department,
        now=now,
        internal_text=f"集体讨论判定{verdict}。参加人：{'、'.join(decision.participants)}。"
                      f"理由：{decision.reason}" + ("（经专家论证）" if expert_review else ""),
        data={"major": major, "participants": list(decision.participants),
              "reason": decision.reason, "expert_review": decision.expert_review},
        audit_before={"severity": old}, audit_after={"severity": case.severity})
