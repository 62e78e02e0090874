"""What the reporter of a tip is told: progress in plain words, and the outcome at closure.

Nothing here names another tip, another reporter, or who in a department did what; the
reporter sees their own tip, the departments handling the hazard, and the stages it passed.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.casework import leads, notifications, sms
from portal.domain.casework.events import log_event
from portal.domain.enums import (
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    MessageDirection,
    TipStatus,
)
from portal.domain.models import Case, CaseEvent, Department, Message, Tip, User

# The outbox kind by which the office is asked to call a reporter back.
REPORTER_CALLBACK = "reporter_callback"

OUTCOME_WORDS = {
    CaseOutcome.RECTIFIED: "隐患已整改到位",
    CaseOutcome.UNFOUNDED: "经现场核查，举报的情况不属实",
}


def linked_tips(session: Session, case: Case) -> list[Tip]:
    return list(session.scalars(
        select(Tip).where(Tip.case_id == case.id,
                          Tip.status.in_([TipStatus.ACCEPTED, TipStatus.MERGED]))
        .order_by(Tip.id)))



def outcome_text(case: Case, reason: str = "") -> str:
    assert case.outcome is not None
    department = leads.lead_name(case)
    text = f"您举报的火灾隐患已办结。办理结果：{OUTCOME_WORDS[case.outcome]}。"
    if reason and reason.rstrip("。") != OUTCOME_WORDS[case.outcome]:
        text += f"理由：{reason.rstrip('。')}。"
    if department:
        text += f"办理部门：{department}。"
    return text + "感谢您对消防安全的关心和支持！"


def post_outcome(session: Session, case: Case, *, actor: User | None,
                 reason: str = "") -> list[Message]:
    """At closure: an outcome message on every linked tip. Where the reporter asked for
    feedback and left no way to reach them, that is recorded on the case; where they did leave
    a phone number, the office is asked to call them."""
    messages = []
    text = outcome_text(case, reason)
    office = notifications.office_department(session, case.village.township)
    for tip in linked_tips(session, case):
        message = Message(tip_id=tip.id, direction=MessageDirection.TO_REPORTER, body=text,
                          author_id=actor.id if actor else None)
        session.add(message)
        messages.append(message)
        if not tip.wants_feedback:
            continue
        sms.case_closed(session, case, tip)
        if tip.reporter_phone_enc is None:
            log_event(
                session, case, CaseEventKind.NOTE, actor=actor,
                internal_text=f"举报 #{tip.id} 的举报人希望得到反馈，但未留联系电话，无法主动告知；"
                "办理结果已发到其举报查询页。",
                data={"tip_id": tip.id, "feedback": "unreachable"})
        elif office is not None:
            notifications.notify(
                session, REPORTER_CALLBACK, f"请电话告知举报人办理结果：举报 #{tip.id}",
                text, department=office, payload={"tip_id": tip.id, "case_id": case.id},
                dedupe_key=f"reporter_callback:{tip.id}:{case.closed_at.isoformat()}"
                if case.closed_at else None)
    session.flush()
    return messages


def _department_name(session: Session, event: CaseEvent, key: str) -> str:
    code = (event.data or {}).get(key)
    if not code:
        return event.department.name if event.department else ""
    department = session.scalar(select(Department).where(Department.code == code))
    return department.name if department else ""


def _event_words(session: Session, event: CaseEvent, case: Case) -> str | None:
    kind = event.kind
    data = event.data or {}
    if kind is CaseEventKind.ROUTED:
        return f"已交由{_department_name(session, event, 'lead')}办理"
    if kind is CaseEventKind.TRANSFERRED:
        if data.get("role") != "lead":
            return None
        return f"已移交{_department_name(session, event, 'to')}办理"
    if kind is CaseEventKind.RETURNED and data.get("role") == "lead":
        return "正在重新确定办理部门"
    if kind is CaseEventKind.ACCEPTED and event.department and data.get("role") == "lead":
        doing = "正在整改" if data.get("status") == CaseStatus.RECTIFYING else "正在现场核查"
        return f"{event.department.name}已签收，{doing}"
    if kind is CaseEventKind.CHECK_CONFIRMED:
        return "经现场核查，隐患属实，正在整改"
    if kind is CaseEventKind.DEADLINE_SET and data.get("rectify_by"):
        return f"已责令限期整改，整改期限至{_cn_date(data['rectify_by'])}"
    if kind is CaseEventKind.EXTENSION_DECIDED and data.get("approved"):
        return f"整改期限延长至{_cn_date(data['new'])}"
    if kind is CaseEventKind.RECTIFICATION_REPORTED:
        return "单位已报告整改完成，等待验收"
    if kind is CaseEventKind.SENT_BACK:
        return "验收未通过，继续整改"
    if kind is CaseEventKind.CHECK_UNFOUNDED:
        return f"已办结：{OUTCOME_WORDS[CaseOutcome.UNFOUNDED]}"
    if kind is CaseEventKind.CLOSED:
        return f"已办结：{OUTCOME_WORDS[CaseOutcome.RECTIFIED]}"
    if kind is CaseEventKind.REOPENED:
        if data.get("after") == "rating":
            return ("根据您的评价，重新核查" if data.get("to") == CaseStatus.CHECKING.value
                    else "根据您的评价，重新整改")
        return "回头看发现隐患反弹，重新整改"
    if kind is CaseEventKind.FOLLOW_UP_OK:
        return "回头看：整改保持"
    return None


def _cn_date(value: str) -> str:
    day = dt.date.fromisoformat(value)
    return f"{day.year}年{day.month}月{day.day}日"


_DEPARTMENT_KINDS = frozenset(
    {CaseEventKind.ROUTED, CaseEventKind.TRANSFERRED, CaseEventKind.ACCEPTED})


def _summary(earlier: dict[bool, str], when: dt.date) -> list[tuple[dt.date, str]]:
    return [(when, earlier[key]) for key in (True, False) if key in earlier]


def reporter_progress(
    session: Session, tip: Tip, *, tz: str | ZoneInfo | None = None
) -> list[tuple[dt.date, str]]:
    """The tip's progress for its tracking page, oldest first, in plain Chinese."""
    zone = clock.local_zone(tz)

    def day(value: dt.datetime) -> dt.date:
        return value.astimezone(zone).date()

    lines: list[tuple[dt.date, str]] = [(day(tip.created_at), "您的举报已收到，正在审核")]
    if tip.status is TipStatus.PENDING or tip.decided_at is None:
        return lines
    if tip.status is TipStatus.REJECTED:
        reason = tip.reject_reason.label if tip.reject_reason else ""
        lines.append((day(tip.decided_at), f"经审核不予受理：{reason}"))
        return lines
    lines.append((day(tip.decided_at), "已受理，进入核查处置"))
    case = session.get(Case, tip.case_id) if tip.case_id else None
    if case is None:
        return lines
    # What happened to the hazard before this tip joined it is summed up at joining: the
    # department handling it and the stage it had reached.
    earlier: dict[bool, str] = {}
    for event in case.events:
        words = _event_words(session, event, case)
        if words is None:
            continue
        if event.created_at < tip.decided_at:
            earlier[event.kind in _DEPARTMENT_KINDS] = words
            continue
        lines.extend(_summary(earlier, day(tip.decided_at)))
        earlier = {}
        lines.append((day(event.created_at), words))
    lines.extend(_summary(earlier, day(tip.decided_at)))
    if case.status is CaseStatus.TRIAGE and len(lines) == 2:
        lines.append((day(tip.decided_at), "正在确定办理部门"))
    return lines
