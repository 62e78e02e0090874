"""The case workflow: the one function that changes a case's status, and the named steps.

```
triage ─route▶ routed ─accept▶ checking ─confirmed▶ rectifying ─复查▶ rectified ─approve▶ closed
  ▲             │             │  ▲                 ▲  ▲                   │                 │ ▲
  └───return────┘    unfounded│  │refuse           │  └────send back──────┘                 │ │
                              ▼  │                 └────────── reopen (回头看) ◀────────────┘ │
                         unfounded (review) ───────────────approve────────────────────────────┘
```

The legal clocks after the check (``limits``) start and stop with these steps: the §19 order
at a confirmed check (met when the rectification order is served with its deadline), the §20
re-inspection at the deadline or the unit's application (met by the re-inspection that
reports the hazard rectified); closure cancels whatever still runs.

``transition`` refuses any other move, stamps the times, and writes the CaseEvent and the audit
row. Views call the named steps below; none of them, and nothing else, assigns ``Case.status``.
Officers act only on their own department's assignments; closure, send-back and extensions are
decided by moderators or supervisors.

Who may take a step now is each step's precondition, ``check_<step>(case, actor)``: it reads
the case and the actor, never the form, and raises the Chinese ``WorkflowError``. The step
calls it first and ``actions.case_actions`` calls it to decide which forms a page draws, so
the page and the workflow cannot disagree; what depends on the form (a reason, a date) is
checked by the step after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session, object_session

from portal.domain import clock
from portal.domain.administration import townships
from portal.domain.casework import leads, limits, notifications
from portal.domain.casework.events import WorkflowError, flush, log_event, require_role
from portal.domain.clock import utcnow
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    Role,
    Severity,
)
from portal.domain.models import Assignment, Attachment, Case, CaseEvent, Department, User
from portal.domain.reporting import reporter
from portal.domain.supervision import tallies

__all__ = [
    "MOVES",
    "WorkflowError",
    "accept_assignment",
    "active_assignments",
    "allowed_moves",
    "approve_closure",
    "approve_unfounded",
    "check_accept",
    "check_approve_closure",
    "check_decide_extension",
    "check_follow_up",
    "check_post_progress",
    "check_record_application",
    "check_record_check",
    "check_reopen_on_rating",
    "check_report_rectified",
    "check_request_extension",
    "check_return",
    "check_review_unfounded",
    "check_send_back",
    "check_set_rectification",
    "check_set_severity",
    "check_transfer",
    "decide_extension",
    "follow_up",
    "lead_for",
    "log_event",
    "own_assignment",
    "pending_extension",
    "post_progress",
    "record_application",
    "record_check",
    "refuse_unfounded",
    "reopen_on_rating",
    "report_rectified",
    "request_extension",
    "require_role",
    "return_assignment",
    "send_back",
    "set_rectification",
    "set_severity",
    "transfer_assignment",
    "transition",
]

S = CaseStatus
Stamps = Callable[[dt.datetime], dict[str, Any]]


@dataclass(frozen=True)
class Move:
    kind: CaseEventKind
    # Columns the move sets, from the time of the move; callers may add or override.
    stamps: Stamps


MOVES: dict[tuple[CaseStatus, CaseStatus], Move] = {
    (S.TRIAGE, S.ROUTED): Move(CaseEventKind.ROUTED, lambda now: {"routed_at": now}),
    (S.ROUTED, S.TRIAGE): Move(CaseEventKind.RETURNED, lambda now: {"check_by": None}),
    (S.ROUTED, S.CHECKING): Move(CaseEventKind.ACCEPTED, lambda now: {}),
    (S.CHECKING, S.RECTIFYING): Move(
        CaseEventKind.CHECK_CONFIRMED, lambda now: {"checked_at": now, "confirmed_at": now}),
    (S.CHECKING, S.UNFOUNDED): Move(CaseEventKind.CHECK_UNFOUNDED,
                                    lambda now: {"checked_at": now}),
    (S.UNFOUNDED, S.CLOSED): Move(
        CaseEventKind.UNFOUNDED_APPROVED,
        lambda now: {"closed_at": now, "outcome": CaseOutcome.UNFOUNDED}),
    (S.UNFOUNDED, S.CHECKING): Move(CaseEventKind.UNFOUNDED_REFUSED,
                                    lambda now: {"checked_at": None}),
    (S.RECTIFYING, S.RECTIFIED): Move(
        CaseEventKind.RECTIFICATION_REPORTED, lambda now: {"rectified_at": now}),
    (S.RECTIFIED, S.RECTIFYING): Move(CaseEventKind.SENT_BACK, lambda now: {"rectified_at": None}),
    (S.RECTIFIED, S.CLOSED): Move(
        CaseEventKind.CLOSED, lambda now: {"closed_at": now, "outcome": CaseOutcome.RECTIFIED}),
    (S.CLOSED, S.RECTIFYING): Move(
        CaseEventKind.REOPENED,
        lambda now: {"closed_at": None, "outcome": None, "rectified_at": None,
                     "follow_up_by": None}),
    # A reporter's 不满意 with a case closed as unfounded: checked again. No event kind of its
    # own (that needs a migration of case_events.kind): REOPENED, its data saying why.
    (S.CLOSED, S.CHECKING): Move(
        CaseEventKind.REOPENED,
        lambda now: {"closed_at": None, "outcome": None, "checked_at": None,
                     "follow_up_by": None}),
}

STAMPABLE = frozenset({
    "routed_at", "check_by", "checked_at", "confirmed_at", "rectify_by", "rectify_notice_no",
    "rectified_at", "closed_at", "outcome", "follow_up_by",
})
ACTIVE = (AssignmentState.PENDING, AssignmentState.ACCEPTED)


def allowed_moves(status: CaseStatus) -> list[CaseStatus]:
    return [to for (frm, to) in MOVES if frm is status]


def transition(
    session: Session,
    case: Case,
    to: CaseStatus,
    *,
    actor: User,
    department: Department | None = None,
    internal_text: str = "",
    public_text: str = "",
    data: dict[str, Any] | None = None,
    attachments: Sequence[Attachment] = (),
    now: dt.datetime | None = None,
    **stamps: Any,
) -> CaseEvent:
    """Move ``case`` to ``to`` if DESIGN.md's workflow allows it; the only status writer."""
    frm = case.status
    move = MOVES.get((frm, to))
    if move is None:
        allowed = "、".join(f"“{s.label}”" for s in allowed_moves(frm)) or "无"
        raise WorkflowError(
            f"案件当前为“{frm.label}”，不能改为“{to.label}”（此状态下只能改为：{allowed}）")
    unknown = set(stamps) - STAMPABLE
    if unknown:
        raise TypeError(f"transition() cannot stamp {', '.join(sorted(unknown))}")
    now = now or utcnow()
    values = {**move.stamps(now), **stamps}
    before = {"status": frm, **{k: getattr(case, k) for k in values}}
    case.status = to
    for key, value in values.items():
        setattr(case, key, value)
    flush(session)  # the version check: a concurrent change of this case loses here
    return log_event(
        session, case, move.kind, actor=actor, department=department,
        internal_text=internal_text, public_text=public_text, data=data,
        attachments=attachments, now=now, touch=False,
        audit_before=before, audit_after={"status": to, **values},
    )


# ---------------------------------------------------------------- helpers


def active_assignments(case: Case) -> list[Assignment]:
    return [a for a in case.assignments if a.state in ACTIVE]


def own_assignment(case: Case, actor: User) -> Assignment | None:
    """The assignment an officer acts on: their department's active assignment on the case,
    the lead one first (a department holds at most one at a time)."""
    if actor.role is not Role.OFFICER or actor.department_id is None:
        return None
    mine = [a for a in active_assignments(case) if a.department_id == actor.department_id]
    mine.sort(key=lambda a: a.role is not AssignmentRole.LEAD)
    return mine[0] if mine else None


def _require_own(actor: User, assignment: Assignment) -> None:
    if actor.role is not Role.OFFICER or actor.department_id != assignment.department_id:
        raise WorkflowError(f"只能办理本部门的派单（此派单属于{assignment.department.name}）")


def lead_for(case: Case, actor: User, action: str) -> Assignment:
    """The accepted lead assignment, if ``actor`` is one of its department's officers."""
    lead = leads.active_lead(case)
    if lead is None:
        raise WorkflowError("本案件目前没有牵头部门")
    if actor.role is not Role.OFFICER or actor.department_id != lead.department_id:
        raise WorkflowError(f"只有牵头部门（{lead.department.name}）的经办人可以{action}")
    if lead.state is not AssignmentState.ACCEPTED:
        raise WorkflowError(f"请先签收派单，再{action}")
    return lead


def _require_status(case: Case, action: str, *statuses: CaseStatus) -> None:
    if case.status not in statuses:
        raise WorkflowError(f"案件当前为“{case.status.label}”，不能{action}")


def _required(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise WorkflowError(f"请填写{what}")
    return text


def _end(assignment: Assignment, state: AssignmentState, actor: User, now: dt.datetime,
         reason: str) -> None:
    assignment.state = state
    assignment.ended_at = now
    assignment.ended_by_id = actor.id
    assignment.end_reason = reason


def _finish_assignments(case: Case, actor: User, now: dt.datetime, reason: str) -> None:
    for a in active_assignments(case):
        state = (AssignmentState.COMPLETED if a.state is AssignmentState.ACCEPTED
                 else AssignmentState.WITHDRAWN)
        _end(a, state, actor, now, reason)


def _ended_message(session: Session | None, assignment: Assignment,
                   tz: str | ZoneInfo | None = None) -> str:
    """What the loser of a race (or a stale page) is told about the assignment."""
    if assignment.state is AssignmentState.ACCEPTED:
        user = (session.get(User, assignment.accepted_by_id)
                if session is not None and assignment.accepted_by_id is not None else None)
        who = (user.display_name or user.username) if user else "其他经办人"
        when = clock.format_local(assignment.accepted_at, tz) if assignment.accepted_at else ""
        return f"该派单已于 {when} 由 {who} 签收，无需重复签收"
    if assignment.state is AssignmentState.TRANSFERRED:
        return "该派单已移交其他部门，不能再办理"
    return f"该派单{assignment.state.label}，不能再办理"


def _claim(session: Session, assignment: Assignment, expected: tuple[AssignmentState, ...],
           *, tz: str | ZoneInfo | None = None, **values: Any) -> None:
    """Change the assignment only if its state is still one of ``expected``: a conditional
    UPDATE, so that of two people acting on it at once exactly one succeeds and the other
    is told what happened instead of overwriting it."""
    if assignment.state not in expected:
        raise WorkflowError(_ended_message(session, assignment, tz))
    flush(session)
    with tallies.tracked(session, [assignment.case_id]):
        result = session.execute(
            update(Assignment)
            .where(Assignment.id == assignment.id, Assignment.state.in_(expected))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    session.refresh(assignment)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise WorkflowError(_ended_message(session, assignment, tz))


# ---------------------------------------------------------------- preconditions
# One function per step: whether ``actor`` may take it on the case as it stands, whatever the
# form says. Each returns what the step acts through (the assignment, the lead, the request).


def _own(case: Case, actor: User) -> Assignment:
    mine = own_assignment(case, actor)
    if mine is None:
        raise WorkflowError("本部门在此案件上没有待办的派单")
    return mine


def _can_accept(assignment: Assignment, actor: User, tz: str | ZoneInfo | None) -> None:
    _require_own(actor, assignment)
    if assignment.state is not AssignmentState.PENDING:
        raise WorkflowError(_ended_message(object_session(assignment), assignment, tz))


def _can_return(assignment: Assignment, actor: User) -> None:
    _require_own(actor, assignment)
    if assignment.state is not AssignmentState.PENDING:
        raise WorkflowError("只能退回尚未签收的派单；已签收的请办理或移交")
    status = assignment.case.status
    if assignment.role is AssignmentRole.LEAD and status is not CaseStatus.ROUTED:
        raise WorkflowError(
            f"本案件已{status.label}，牵头部门不能退回；如不属本部门职责，请移交")


def _can_transfer(assignment: Assignment, actor: User, tz: str | ZoneInfo | None) -> None:
    _require_own(actor, assignment)
    if assignment.state not in ACTIVE:
        raise WorkflowError(_ended_message(object_session(assignment), assignment, tz))


def check_accept(case: Case, actor: User, *, tz: str | ZoneInfo | None = None) -> Assignment:
    """The officer's own assignment, if it waits to be signed for (签收)."""
    mine = _own(case, actor)
    _can_accept(mine, actor, tz)
    return mine


def check_return(case: Case, actor: User) -> Assignment:
    """The officer's own assignment, if it may still be sent back (退回)."""
    mine = _own(case, actor)
    _can_return(mine, actor)
    return mine


def check_transfer(case: Case, actor: User, *, tz: str | ZoneInfo | None = None) -> Assignment:
    """The officer's own assignment, if it may be handed on (移交)."""
    mine = _own(case, actor)
    _can_transfer(mine, actor, tz)
    return mine


def check_record_check(case: Case, actor: User) -> Assignment:
    _require_status(case, "登记核查结果", CaseStatus.CHECKING)
    return lead_for(case, actor, "登记核查结果")


def check_set_rectification(case: Case, actor: User) -> Assignment:
    _require_status(case, "下达整改期限", CaseStatus.RECTIFYING)
    lead = lead_for(case, actor, "下达整改期限")
    if case.rectify_by is not None:
        raise WorkflowError("整改期限已经下达；如需延长，请申请延期")
    return lead


def check_post_progress(case: Case, actor: User) -> Assignment:
    """A lead or assisting department that has signed for its assignment."""
    _require_status(case, "发布进展", CaseStatus.CHECKING, CaseStatus.RECTIFYING)
    mine = own_assignment(case, actor)
    if mine is None:
        raise WorkflowError("只有承办本案件的部门可以发布进展")
    if mine.state is not AssignmentState.ACCEPTED:
        raise WorkflowError("请先签收派单，再发布进展")
    return mine


def check_request_extension(case: Case, actor: User) -> Assignment:
    _require_status(case, "申请延期", CaseStatus.RECTIFYING)
    lead = lead_for(case, actor, "申请延期")
    if case.rectify_by is None:
        raise WorkflowError("尚未下达整改期限，请直接下达")
    if pending_extension(case) is not None:
        raise WorkflowError("已有一项延期申请等待审批")
    return lead


def check_decide_extension(case: Case, actor: User) -> CaseEvent:
    """The pending extension request, for a moderator or supervisor to decide."""
    require_role(actor, Role.MODERATOR, Role.SUPERVISOR, action="审批延期")
    request = pending_extension(case)
    if request is None or case.status is not CaseStatus.RECTIFYING:
        raise WorkflowError("没有等待审批的延期申请")
    return request


def check_report_rectified(case: Case, actor: User) -> Assignment:
    _require_status(case, "报告整改完成", CaseStatus.RECTIFYING)
    return lead_for(case, actor, "报告整改完成")


def check_approve_closure(case: Case, actor: User) -> None:
    require_role(actor, Role.MODERATOR, Role.SUPERVISOR, action="批准销案")
    _require_status(case, "销案", CaseStatus.RECTIFIED)


def check_send_back(case: Case, actor: User) -> None:
    require_role(actor, Role.MODERATOR, Role.SUPERVISOR, action="退回继续整改")
    _require_status(case, "退回继续整改", CaseStatus.RECTIFIED)


def check_follow_up(case: Case, actor: User) -> Assignment | None:
    """The department that led the case (who is asked to rectify again if the hazard is
    back), if ``actor`` may record the follow-up: that department's officers, moderators and
    supervisors."""
    _require_status(case, "回头看", CaseStatus.CLOSED)
    if case.outcome is not CaseOutcome.RECTIFIED:
        raise WorkflowError("只有整改销案的案件需要回头看")
    last = leads.lead_assignment(case)
    if actor.role is Role.OFFICER:
        if last is None or actor.department_id != last.department_id:
            raise WorkflowError("只有原牵头部门或督办人员可以登记回头看")
    else:
        require_role(actor, Role.MODERATOR, Role.SUPERVISOR, action="登记回头看")
    return last


# ---------------------------------------------------------------- assignments


def accept_assignment(session: Session, assignment: Assignment, *, actor: User,
                      now: dt.datetime | None = None,
                      tz: str | ZoneInfo | None = None) -> Assignment:
    """An officer signs for a new assignment (签收). Of two officers accepting at once exactly
    one wins: the state is changed by a conditional UPDATE, and the other is told who did."""
    _can_accept(assignment, actor, tz)
    now = now or utcnow()
    _claim(session, assignment, (AssignmentState.PENDING,), tz=tz,
           state=AssignmentState.ACCEPTED, accepted_at=now, accepted_by_id=actor.id)
    case = assignment.case
    session.refresh(case)
    department = assignment.department
    if assignment.role is AssignmentRole.LEAD and case.status is CaseStatus.ROUTED:
        transition(session, case, CaseStatus.CHECKING, actor=actor, department=department,
                   now=now, internal_text=f"{department.name}签收，开始核查",
                   public_text=f"{department.name}已签收，正在核查",
                   data={"assignment_id": assignment.id, "role": assignment.role,
                         "status": CaseStatus.CHECKING})
    else:
        log_event(session, case, CaseEventKind.ACCEPTED, actor=actor, department=department,
                  now=now, internal_text=f"{department.name}签收（{assignment.role.label}）",
                  data={"assignment_id": assignment.id, "role": assignment.role,
                        "status": case.status})
    return assignment


def return_assignment(session: Session, assignment: Assignment, *, actor: User,
                      reason: str) -> Assignment:
    """A department sends a new assignment back (退回) with a reason. A returned lead puts the
    case back in triage for the moderators to re-route; the trail keeps both routings."""
    _can_return(assignment, actor)
    reason = _required(reason, "退回理由")
    case = assignment.case
    now = utcnow()
    _claim(session, assignment, (AssignmentState.PENDING,), state=AssignmentState.RETURNED,
           ended_at=now, ended_by_id=actor.id, end_reason=reason)
    department = assignment.department
    data = {"assignment_id": assignment.id, "reason": reason, "role": assignment.role}
    if assignment.role is AssignmentRole.LEAD:
        for other in active_assignments(case):
            _end(other, AssignmentState.WITHDRAWN, actor, now, "牵头部门退回，待重新分派")
        transition(session, case, CaseStatus.TRIAGE, actor=actor, department=department,
                   now=now, internal_text=f"{department.name}退回：{reason}", data=data)
    else:
        log_event(session, case, CaseEventKind.RETURNED, actor=actor, department=department,
                  now=now, internal_text=f"{department.name}退回：{reason}", data=data)
    notifications.notify_office(
        session, case, "assignment_returned",
        f"派单被退回：案件 #{case.id} {case.unit.name}（{department.name}）",
        f"退回理由：{reason}",
        payload={"case_id": case.id, "assignment_id": assignment.id})
    return assignment


def require_serving(department: Department, case: Case, *, receiving: str) -> None:
    """A department takes part in a case only in a township it serves (issue 18)."""
    if not townships.serves(department, case.village.township_id):
        raise WorkflowError(f"{department.name}不负责{case.village.township.name}，"
                            f"不能接收本案件的{receiving}")


def transfer_assignment(session: Session, assignment: Assignment, *, actor: User,
                        to_department: Department, reason: str) -> Assignment:
    """Hand an assignment on to another department (移交). The old row ends and points at the
    new one, which starts as pending for the receiving department to accept."""
    _can_transfer(assignment, actor, None)
    reason = _required(reason, "移交理由")
    case = assignment.case
    if to_department.id == assignment.department_id:
        raise WorkflowError("不能移交给本部门")
    if not to_department.active:
        raise WorkflowError(f"{to_department.name}已停用，不能接收移交")
    require_serving(to_department, case, receiving="移交")
    if any(a.department_id == to_department.id for a in active_assignments(case)):
        raise WorkflowError(f"{to_department.name}已在办理本案件")
    now = utcnow()
    _claim(session, assignment, ACTIVE, state=AssignmentState.TRANSFERRED, ended_at=now,
           ended_by_id=actor.id, end_reason=reason)
    new = Assignment(case=case, department=to_department, role=assignment.role, routed_at=now,
                     routed_by_id=actor.id)
    session.add(new)
    flush(session)
    assignment.transferred_to_id = new.id
    log_event(session, case, CaseEventKind.TRANSFERRED, actor=actor,
              department=assignment.department, now=now,
              internal_text=f"{assignment.department.name}移交{to_department.name}：{reason}",
              public_text=(f"移交{to_department.name}办理"
                           if assignment.role is AssignmentRole.LEAD else ""),
              data={"from_assignment_id": assignment.id, "to_assignment_id": new.id,
                    "from": assignment.department.code, "to": to_department.code,
                    "reason": reason, "role": assignment.role})
    notifications.notify(
        session, "assignment_new",
        f"移交派单：案件 #{case.id} {case.unit.name}（{new.role.label}）",
        f"由{assignment.department.name}移交，理由：{reason}", department=to_department,
        payload={"case_id": case.id, "assignment_id": new.id})
    return new


# ---------------------------------------------------------------- check and rectification


def record_check(session: Session, case: Case, *, actor: User, confirmed: bool, findings: str,
                 public_text: str = "", attachments: Sequence[Attachment] = (),
                 tz: str | ZoneInfo | None = None) -> CaseEvent:
    """Record the on-site check: confirmed (属实) moves to rectifying and starts the §19
    order's clock (unless an inspection's finding started it already); unfounded (不属实)
    waits for the closure review, with the reason the reporters will be told
    (``public_text``)."""
    lead = check_record_check(case, actor)
    findings = _required(findings, "核查情况")
    now = utcnow()
    if confirmed:
        event = transition(
            session, case, CaseStatus.RECTIFYING, actor=actor, department=lead.department,
            now=now, internal_text=findings,
            public_text=public_text or "经现场核查，隐患属实，责令整改",
            attachments=attachments, data={"confirmed": True})
        # A hazard found on an inspection was checked there, and its order's clock runs
        # from then (the round's finding); the lead's check does not restart it.
        if limits.open_clock(case, limits.Rule.ORDER) is None:
            limits.start(session, case, limits.Rule.ORDER, at=now, tz=tz)
        return event
    # Unfounded (不属实): the reason is what the reporter will be told; the closure review
    # decides (§18: the reporter is told the result, or why not is recorded).
    reason = public_text.strip() or reporter.OUTCOME_WORDS[CaseOutcome.UNFOUNDED]
    event = transition(
        session, case, CaseStatus.UNFOUNDED, actor=actor, department=lead.department, now=now,
        internal_text=findings, public_text="", attachments=attachments,
        data={"confirmed": False, "reason": reason})
    notifications.notify_office(
        session, case, "awaiting_closure", f"核查不属实待审核：案件 #{case.id} {case.unit.name}",
        f"{lead.department.name}核查认为举报不属实：{findings}",
        payload={"case_id": case.id})
    return event


UNFOUNDED_WORDS = reporter.OUTCOME_WORDS[CaseOutcome.UNFOUNDED]


def check_review_unfounded(case: Case, actor: User) -> None:
    require_role(actor, Role.MODERATOR, Role.SUPERVISOR, action="审核核查不属实")
    _require_status(case, "审核核查不属实", CaseStatus.UNFOUNDED)


def unfounded_reason(case: Case) -> str:
    """What the check said the reporter is to be told about an unfounded tip."""
    for event in reversed(case.events):
        if event.kind is CaseEventKind.CHECK_UNFOUNDED:
            return str((event.data or {}).get("reason") or UNFOUNDED_WORDS)
    return UNFOUNDED_WORDS


def approve_unfounded(session: Session, case: Case, *, actor: User,
                      reason: str = "") -> CaseEvent:
    """The supervisor agrees the tip was unfounded: the case closes, and every reporter is told
    the result with the reason (the check's, or the reviewer's wording of it)."""
    check_review_unfounded(case, actor)
    reason = reason.strip() or unfounded_reason(case)
    now = utcnow()
    _finish_assignments(case, actor, now, "核查不属实，审核通过，办结")
    _end_clocks(case, now)
    event = transition(session, case, CaseStatus.CLOSED, actor=actor, now=now,
                       internal_text=f"审核通过：{reason}", public_text=reason,
                       data={"reason": reason})
    reporter.post_outcome(session, case, actor=actor, reason=reason)
    return event


def refuse_unfounded(session: Session, case: Case, *, actor: User, reason: str) -> CaseEvent:
    """The review does not accept "unfounded": the lead department checks again."""
    check_review_unfounded(case, actor)
    reason = _required(reason, "不予通过的理由")
    event = transition(session, case, CaseStatus.CHECKING, actor=actor,
                       internal_text=f"核查不属实未获通过：{reason}", data={"reason": reason})
    lead = leads.active_lead(case)
    if lead is not None:
        notifications.notify(
            session, "sent_back", f"请重新核查：案件 #{case.id} {case.unit.name}",
            f"核查不属实未获通过，理由：{reason}", department=lead.department,
            payload={"case_id": case.id})
    return event


def _end_clocks(case: Case, now: dt.datetime) -> None:
    """At closure nothing is owed any more: a clock still running is closed, saying so."""
    for rule in limits.Rule:
        limits.cancel(case, rule, note="案件办结时尚未完成", at=now)


def set_rectification(session: Session, case: Case, *, actor: User, deadline: dt.date,
                      notice_no: str = "", public_text: str = "",
                      tz: str | ZoneInfo | None = None) -> CaseEvent:
    """The lead department sets the rectification deadline (and the notice's number)."""
    lead = check_set_rectification(case, actor)
    if deadline < clock.local_today(tz=tz):
        raise WorkflowError("整改期限不能早于今天")
    case.rectify_by = deadline
    case.rectify_notice_no = notice_no.strip()[:64]
    now = utcnow()
    limits.meet(case, limits.Rule.ORDER, at=now)
    _reinspection_from(session, case, deadline, "自整改期限届满之日起算", tz)
    flush(session)
    return log_event(
        session, case, CaseEventKind.DEADLINE_SET, actor=actor, department=lead.department,
        internal_text=f"整改期限 {deadline.isoformat()}"
        + (f"，通知书编号 {case.rectify_notice_no}" if case.rectify_notice_no else ""),
        public_text=public_text or f"责令限期整改，整改期限至{deadline:%Y年%m月%d日}",
        data={"rectify_by": deadline, "notice_no": case.rectify_notice_no},
        audit_after={"rectify_by": deadline, "rectify_notice_no": case.rectify_notice_no})


def _reinspection_from(session: Session, case: Case, day: dt.date, note: str,
                       tz: str | ZoneInfo | None = None) -> None:
    """(Re)start the §20 re-inspection clock: 3 working days after ``day``."""
    limits.start(session, case, limits.Rule.REINSPECT, note=note,
                 due_at=limits.due_after_day(
                     session, day, limits.LIMITS[limits.Rule.REINSPECT].span, tz=tz), tz=tz)


def check_record_application(case: Case, actor: User) -> Assignment:
    _require_status(case, "登记复查申请", CaseStatus.RECTIFYING)
    lead = lead_for(case, actor, "登记复查申请")
    if case.rectify_by is None:
        raise WorkflowError("尚未下达整改期限")
    return lead


def record_application(session: Session, case: Case, *, actor: User, applied_on: dt.date,
                       note: str = "", tz: str | ZoneInfo | None = None) -> CaseEvent:
    """The unit applied for re-inspection before its deadline (§20): the re-inspection is
    then due 3 working days after the application."""
    lead = check_record_application(case, actor)
    today = clock.local_today(tz=tz)
    if applied_on > today:
        raise WorkflowError("申请日期不能晚于今天")
    _reinspection_from(session, case, applied_on, f"单位 {applied_on.isoformat()} 申请复查", tz)
    flush(session)
    return log_event(
        session, case, CaseEventKind.REINSPECTION_APPLIED, actor=actor,
        department=lead.department,
        internal_text=f"单位于 {applied_on.isoformat()} 申请复查" + (f"：{note}" if note else ""),
        public_text="单位已申请复查", data={"applied_on": applied_on})


def post_progress(session: Session, case: Case, *, actor: User, internal_text: str = "",
                  public_text: str = "", attachments: Sequence[Attachment] = ()) -> CaseEvent:
    """A lead or assisting department posts an update: internal text for staff, public text
    for the disclosure page (either may be empty, not both)."""
    mine = check_post_progress(case, actor)
    if not internal_text.strip() and not public_text.strip() and not attachments:
        raise WorkflowError("请填写进展情况")
    return log_event(session, case, CaseEventKind.PROGRESS, actor=actor,
                     department=mine.department, internal_text=internal_text,
                     public_text=public_text, attachments=attachments,
                     data={"role": mine.role})


def pending_extension(case: Case) -> CaseEvent | None:
    """The latest extension request that has not been decided yet."""
    for event in reversed(case.events):
        if event.kind is CaseEventKind.EXTENSION_DECIDED:
            return None
        if event.kind is CaseEventKind.EXTENSION_REQUESTED:
            return event
    return None


def request_extension(session: Session, case: Case, *, actor: User, new_date: dt.date,
                      reason: str) -> CaseEvent:
    """The lead department asks for a later rectification deadline, with a reason."""
    lead = check_request_extension(case, actor)
    reason = _required(reason, "延期理由")
    assert case.rectify_by is not None
    if new_date <= case.rectify_by:
        raise WorkflowError(f"新的期限须晚于现有期限 {case.rectify_by.isoformat()}")
    event = log_event(
        session, case, CaseEventKind.EXTENSION_REQUESTED, actor=actor,
        department=lead.department, internal_text=f"申请延期至 {new_date.isoformat()}：{reason}",
        data={"current": case.rectify_by, "requested": new_date, "reason": reason})
    notifications.notify_office(
        session, case, "extension_requested",
        f"延期申请：案件 #{case.id} {case.unit.name}",
        f"{lead.department.name}申请延期至 {new_date.isoformat()}：{reason}",
        payload={"case_id": case.id, "event_id": event.id})
    return event


def decide_extension(session: Session, case: Case, *, actor: User, approve: bool,
                     reason: str = "") -> CaseEvent:
    """A moderator or supervisor approves or refuses the pending extension request."""
    request = check_decide_extension(case, actor)
    if not approve:
        reason = _required(reason, "不予延期的理由")
    assert request.data is not None
    old = case.rectify_by
    new = dt.date.fromisoformat(request.data["requested"])
    if approve:
        case.rectify_by = new
        _reinspection_from(session, case, new, f"整改期限延长至 {new.isoformat()}")
        flush(session)
    event = log_event(
        session, case, CaseEventKind.EXTENSION_DECIDED, actor=actor,
        internal_text=("同意延期" if approve else "不同意延期") + (f"：{reason}" if reason else ""),
        public_text=f"整改期限延长至{new:%Y年%m月%d日}" if approve else "",
        data={"approved": approve, "request_event_id": request.id, "old": old,
              "new": new if approve else old, "reason": reason},
        audit_before={"rectify_by": old}, audit_after={"rectify_by": case.rectify_by})
    lead = leads.active_lead(case)
    if lead is not None:
        notifications.notify(
            session, "extension_decided",
            f"延期申请{'已同意' if approve else '未同意'}：案件 #{case.id} {case.unit.name}",
            f"整改期限：{case.rectify_by.isoformat() if case.rectify_by else '-'}"
            + (f"\n理由：{reason}" if reason else ""),
            department=lead.department, payload={"case_id": case.id})
    return event


def report_rectified(session: Session, case: Case, *, actor: User, report: str,
                     public_text: str = "",
                     attachments: Sequence[Attachment] = ()) -> CaseEvent:
    """The lead department re-inspects (复查, §20) and reports the hazard rectified, with
    evidence, for closure; the re-inspection's clock is met."""
    lead = check_report_rectified(case, actor)
    report = _required(report, "复查情况")
    now = utcnow()
    event = transition(
        session, case, CaseStatus.RECTIFIED, actor=actor, department=lead.department, now=now,
        internal_text=report, public_text=public_text or "经复查整改完成，等待验收销案",
        attachments=attachments)
    limits.meet(case, limits.Rule.REINSPECT, at=now)
    notifications.notify_office(
        session, case, "awaiting_closure", f"待销案：案件 #{case.id} {case.unit.name}",
        f"{lead.department.name}报告整改完成：{report}",
        payload={"case_id": case.id})
    return event


# ---------------------------------------------------------------- closure and follow-up


def approve_closure(session: Session, case: Case, *, actor: User, note: str = "",
                    public_text: str = "", follow_up_by: dt.date | None = None) -> CaseEvent:
    """Close a rectified case (销案), optionally setting the follow-up (回头看) date; every
    linked tip's reporter is told the outcome."""
    check_approve_closure(case, actor)
    now = utcnow()
    _finish_assignments(case, actor, now, "销案")
    _end_clocks(case, now)
    event = transition(
        session, case, CaseStatus.CLOSED, actor=actor, now=now, internal_text=note,
        public_text=public_text or "隐患已整改，予以销案", follow_up_by=follow_up_by,
        data={"follow_up_by": follow_up_by})
    reporter.post_outcome(session, case, actor=actor)
    return event


def send_back(session: Session, case: Case, *, actor: User, reason: str) -> CaseEvent:
    """Refuse closure: the rectification is not good enough, back to rectifying."""
    check_send_back(case, actor)
    reason = _required(reason, "退回理由")
    event = transition(session, case, CaseStatus.RECTIFYING, actor=actor,
                       internal_text=reason, public_text="验收未通过，继续整改",
                       data={"reason": reason})
    # Rectification goes on: the re-inspection is owed again, after the deadline if it is
    # still ahead, else from today.
    today = clock.local_today()
    _reinspection_from(session, case, max(case.rectify_by or today, today),
                       "验收未通过，重新复查")
    lead = leads.active_lead(case)
    if lead is not None:
        notifications.notify(
            session, "sent_back", f"退回继续整改：案件 #{case.id} {case.unit.name}",
            f"理由：{reason}", department=lead.department, payload={"case_id": case.id})
    return event


def follow_up(session: Session, case: Case, *, actor: User, still_ok: bool, findings: str,
              new_deadline: dt.date | None = None) -> CaseEvent:
    """The follow-up check (回头看) of a closed, rectified case: still rectified, or the
    hazard is back and the case reopens with the department that led it."""
    last = check_follow_up(case, actor)
    findings = _required(findings, "回头看情况")
    if still_ok:
        case.follow_up_by = None
        flush(session)
        return log_event(session, case, CaseEventKind.FOLLOW_UP_OK, actor=actor,
                         internal_text=findings, public_text="回头看：整改保持",
                         audit_after={"follow_up_by": None})
    if last is None:
        raise WorkflowError("找不到原牵头部门，无法重新整改")
    return _reopen(session, case, last, actor=actor, to=CaseStatus.RECTIFYING,
                   internal_text=findings, public_text="回头看发现隐患反弹，重新整改",
                   new_deadline=new_deadline, note="回头看重新整改")


def _reopen(session: Session, case: Case, last: Assignment, *, actor: User, to: CaseStatus,
            internal_text: str, public_text: str, new_deadline: dt.date | None, note: str,
            data: dict[str, Any] | None = None) -> CaseEvent:
    """Reopen a closed case with the department that led it, on a new lead assignment:
    back to rectifying (with ``new_deadline``) or, for a case closed as unfounded, to
    checking (with the category's check limit from now)."""
    if new_deadline is not None and new_deadline < clock.local_today():
        raise WorkflowError("整改期限不能早于今天")
    now = utcnow()
    stamps: dict[str, Any] = {}
    if to is CaseStatus.RECTIFYING:
        stamps["rectify_by"] = new_deadline
    else:
        stamps["check_by"] = limits.due_after(session, now, limits.check_limit(case.category))
    event = transition(
        session, case, to, actor=actor, department=last.department, now=now,
        internal_text=internal_text, public_text=public_text,
        data={**(data or {}), **stamps}, **stamps)
    if to is CaseStatus.RECTIFYING and new_deadline is not None:
        _reinspection_from(session, case, new_deadline, note)
    reopened = Assignment(case=case, department=last.department, role=AssignmentRole.LEAD,
                          routed_by_id=actor.id)
    session.add(reopened)
    flush(session)
    notifications.notify(
        session, "assignment_new", f"{note}：案件 #{case.id} {case.unit.name}",
        internal_text, department=last.department,
        payload={"case_id": case.id, "assignment_id": reopened.id})
    return event


def check_reopen_on_rating(case: Case, actor: User) -> Assignment:
    """A supervisor may reopen a closed case on a reporter's 不满意, with the department that
    led it."""
    require_role(actor, Role.SUPERVISOR, action="根据举报人评价重新办理")
    _require_status(case, "重新办理", CaseStatus.CLOSED)
    last = leads.lead_assignment(case)
    if last is None:
        raise WorkflowError("找不到原牵头部门，无法重新办理")
    return last


def reopen_on_rating(session: Session, case: Case, *, actor: User, reason: str,
                     new_deadline: dt.date | None, rating_id: int) -> CaseEvent:
    """The reporter is not satisfied and the supervisor agrees: a rectified case goes back
    to rectification with a new deadline, a case closed as unfounded back to checking."""
    last = check_reopen_on_rating(case, actor)
    reason = _required(reason, "重新办理的理由")
    if case.outcome is CaseOutcome.UNFOUNDED:
        return _reopen(session, case, last, actor=actor, to=CaseStatus.CHECKING,
                       internal_text=f"举报人不满意，重新核查：{reason}",
                       public_text="根据您的评价，已要求责任部门重新核查", new_deadline=None,
                       note="举报人不满意，重新核查",
                       data={"after": "rating", "rating_id": rating_id, "reason": reason,
                             "to": CaseStatus.CHECKING})
    if new_deadline is None:
        raise WorkflowError("请填写新的整改期限")
    return _reopen(session, case, last, actor=actor, to=CaseStatus.RECTIFYING,
                   internal_text=f"举报人不满意，重新整改：{reason}",
                   public_text="根据您的评价，已要求责任部门重新整改", new_deadline=new_deadline,
                   note="举报人不满意，重新整改",
                   data={"after": "rating", "rating_id": rating_id, "reason": reason,
                         "to": CaseStatus.RECTIFYING})


# ---------------------------------------------------------------- severity (GB 35181 judgement)



def check_set_severity(case: Case, actor: User) -> None:
    """The hazard is judged general or major while the case waits to be routed, by the
    moderators who route it: routing then follows the judgement."""
    require_role(actor, Role.MODERATOR, action="调整隐患等级")
    if case.status is not CaseStatus.TRIAGE:
        raise WorkflowError(
            f"只有待分派的案件可以在此调整隐患等级，本案件当前为“{case.status.label}”")


def set_severity(session: Session, case: Case, severity: Severity, *, basis: str,
                 actor: User) -> CaseEvent | None:
    """Judge the hazard general or major (GB 35181), with the basis for the judgement; a
    major hazard is led by the major-hazard department and listed when routed. Nothing is
    recorded if the severity does not change."""
    check_set_severity(case, actor)
    basis = _required(basis, "判定依据")
    old = case.severity
    if severity is old:
        return None
    case.severity = severity
    flush(session)  # the version check: a concurrent change of this case loses here
    return log_event(
        session, case, CaseEventKind.SEVERITY_CHANGED, actor=actor,
        internal_text=f"隐患等级由“{old.label}”调整为“{severity.label}”：{basis}",
        data={"from": old, "to": severity, "basis": basis},
        audit_before={"severity": old}, audit_after={"severity": severity})
