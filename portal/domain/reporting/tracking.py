"""What a reporter reads about their own tip: plain words, dates, nothing about anyone else.

The progress words come from portal.domain.reporting.reporter; this adds the headline and the public
progress notes of the case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.enums import CaseEventKind, CaseOutcome, CaseStatus, TipStatus
from portal.domain.models import Case, CaseEvent, Tip
from portal.domain.reporting.reporter import reporter_progress


@dataclass(frozen=True)
class Entry:
    at: dt.date
    text: str


_CASE_WORDS = {
    CaseStatus.TRIAGE: ("已受理", "您的举报已受理，正在确定责任部门。"),
    CaseStatus.ROUTED: ("已转交责任部门", "已交由责任部门，等待现场核查。"),
    CaseStatus.CHECKING: ("正在核查", "责任部门正在现场核查。"),
    CaseStatus.RECTIFYING: ("正在整改", "经核查隐患属实，正在限期整改。"),
    CaseStatus.RECTIFIED: ("整改完成待审核", "责任部门已报告整改完成，正在审核销案。"),
    CaseStatus.UNFOUNDED: ("核查结果审核中", "责任部门已完成现场核查，乡消安办正在审核核查结果，"
                           "审核后将告知您办理结果和理由。"),
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


def timeline(session: Session, tip: Tip, *, tz: str | None = None) -> list[Entry]:
    """The tip's progress in plain words, with the public progress notes of its case."""
    entries = [Entry(day, text) for day, text in reporter_progress(session, tip, tz=tz)]
    if tip.case_id and tip.decided_at:
        zone = clock.local_zone(tz)
        notes = session.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id == tip.case_id,
                CaseEvent.kind == CaseEventKind.PROGRESS,
                CaseEvent.public_text != "",
                CaseEvent.created_at >= tip.decided_at,
            ).order_by(CaseEvent.created_at, CaseEvent.id)
        )
        entries.extend(Entry(e.created_at.astimezone(zone).date(), e.public_text) for e in notes)
    entries.sort(key=lambda e: e.at)  # stable: same-day entries keep their order
    return entries
