"""What a reporter reads about their own tip: plain words, dates, nothing about anyone else."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.enums import AssignmentRole, CaseOutcome, CaseStatus, TipStatus
from portal.domain.models import Assignment, Case, CaseEvent, Tip


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    text: str


_CASE_WORDS = {
    CaseStatus.TRIAGE: ("已受理", "您的举报已受理，正在确定责任部门。"),
    CaseStatus.ROUTED: ("已转交责任部门", "已交由责任部门，等待现场核查。"),
    CaseStatus.CHECKING: ("正在核查", "责任部门正在现场核查。"),
    CaseStatus.RECTIFYING: ("正在整改", "经核查隐患属实，正在限期整改。"),
    CaseStatus.RECTIFIED: ("整改完成待审核", "责任部门已报告整改完成，正在审核销案。"),
}


def _case(session: Session, tip: Tip) -> Case | None:
    return session.get(Case, tip.case_id) if tip.case_id else None


def status_summary(session: Session, tip: Tip) -> tuple[str, str]:
    """A heading and one sentence saying where the tip stands."""
    if tip.status is TipStatus.PENDING:
        return "等待审核", "乡消安办已收到您的举报，正在审核。"
    if tip.status is TipStatus.REJECTED:
        reason = tip.reject_reason.label if tip.reject_reason else ""
        return "不予受理", f"经审核，您的举报不予受理（{reason}）。"
    case = _case(session, tip)
    if case is None:
        return "已受理", "您的举报已受理。"
    if case.status is CaseStatus.CLOSED:
        if case.outcome is CaseOutcome.UNFOUNDED:
            return "已办结", "经责任部门现场核查，反映的情况不属实，已办结。"
        return "已办结", "隐患已整改完毕，经审核已销案。感谢您的举报！"
    return _CASE_WORDS[case.status]


def timeline(session: Session, tip: Tip) -> list[Entry]:
    entries = [Entry(tip.created_at, "收到您的举报。")]
    if tip.status is TipStatus.REJECTED and tip.decided_at:
        text = "经审核不予受理"
        if tip.reject_reason:
            text += f"：{tip.reject_reason.label}"
        entries.append(Entry(tip.decided_at, text + "。"))
        return entries
    case = _case(session, tip)
    if tip.decided_at and tip.status in (TipStatus.ACCEPTED, TipStatus.MERGED):
        word = "已受理，立案办理。" if tip.status is TipStatus.ACCEPTED else (
            "已受理，与反映同一隐患的举报合并办理。")
        entries.append(Entry(tip.decided_at, word))
    if case is None:
        return entries
    leads = session.scalars(
        select(Assignment).where(Assignment.case_id == case.id,
                                 Assignment.role == AssignmentRole.LEAD)
        .order_by(Assignment.id)
    ).all()
    for assignment in leads:
        entries.append(Entry(assignment.routed_at, f"已交由{assignment.department.name}办理。"))
    if case.confirmed_at:
        entries.append(Entry(case.confirmed_at, "经现场核查，隐患属实。"))
    if case.rectify_by and case.status in (CaseStatus.RECTIFYING, CaseStatus.RECTIFIED):
        entries.append(Entry(case.confirmed_at or case.updated_at,
                             f"责任单位须在 {case.rectify_by:%Y-%m-%d} 前完成整改。"))
    public_events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.public_text != "")
        .order_by(CaseEvent.created_at, CaseEvent.id)
    ).all()
    entries.extend(Entry(e.created_at, e.public_text) for e in public_events)
    if case.status is CaseStatus.CLOSED and case.closed_at:
        outcome = case.outcome.label if case.outcome else ""
        entries.append(Entry(case.closed_at, f"已办结：{outcome}。"))
    entries.sort(key=lambda e: e.at)
    return entries
