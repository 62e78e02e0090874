"""Urging notices (督促函): a supervisor urges a department about its overdue cases.

Notices are numbered per office and year (〔2026〕第 3 号) with no gaps and no repeats, by
``portal.domain.numbering.allocate``: the year's highest plus one, a race decided by the
unique constraint on (township, year, seq).

The department answers in its inbox: an officer of the notice's department signs for it
(``acknowledge_notice``, 签收) and replies (``answer_notice``, 回复); the supervisor sees both on
the notice and in the list. Each happens once: a receipt is a fact, and the reply is the
department's formal written answer, which a supervisor may rely on and quote, so it is not
rewritten afterwards (anything further goes on the cases' timelines). Replying signs for the
notice too, if nobody had.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from portal.domain import clock, numbering, paging
from portal.domain.access import audit
from portal.domain.administration import settings as portal_settings
from portal.domain.administration import townships
from portal.domain.casework import notifications, sla
from portal.domain.casework.events import WorkflowError, log_event, require_role
from portal.domain.clock import utcnow
from portal.domain.enums import AssignmentState, CaseEventKind, Role
from portal.domain.models import Case, Department, Township, UrgingNotice, User
from portal.domain.paging import Page
from portal.domain.supervision import ledger

NUMBER_ATTEMPTS = 10
REPLY_WORKING_DAYS = 3
ANSWER_MAX = 5000
# A notice is a letter, not a ledger: the oldest overdue cases, the rest in the next one.
MAX_CASES = 50


def notice_number(notice: UrgingNotice) -> str:
    return f"督促函〔{notice.year}〕第 {notice.seq} 号"


def office_name(session: Session, township: Township | None) -> str:
    """The issuing office's place, as its letterhead names it: the county, or the county's
    township (numbering runs per office and year)."""
    return townships.place_name(portal_settings.jurisdiction(session)["name"], township)


def overdue_cases(session: Session, department_id: int, now: dt.datetime | None = None,
                  tz: str | ZoneInfo | None = None, limit: int = MAX_CASES,
                  township_id: int | None = None) -> list[Case]:
    """The department's oldest overdue cases (in ``township_id``, None: the county's), as
    the ledger filtered to them lists them."""
    f = ledger.LedgerFilter(department_id=department_id, overdue=ledger.Overdue.ANY,
                            township_id=township_id, sort="id", descending=False)
    return list(session.scalars(ledger.select_cases(f, now, tz).options(
        joinedload(Case.unit), joinedload(Case.category)).limit(limit)))


def draft_text(department: Department, cases: Sequence[Case], township: str) -> str:
    """The usual wording, which the supervisor may edit before issuing; the cases themselves
    are listed in the notice's table."""
    return "\n".join([
        f"{department.name}：",
        "",
        f"经{township}消防安全治本攻坚领导组办公室核查，你单位牵头办理的下列 {len(cases)} 件"
        "火灾隐患已超过规定的核查或整改时限（见附表）。",
        "",
        f"请你单位高度重视，于收到本函之日起 {REPLY_WORKING_DAYS} 个工作日内完成办理，"
        "并将办理情况书面报送乡消防安全治本攻坚领导组办公室。逾期未办的，将予以通报并约谈。",
    ])


def _has_department(case: Case, department_id: int) -> bool:
    return any(a.department_id == department_id and a.state in (
        AssignmentState.PENDING, AssignmentState.ACCEPTED) for a in case.assignments)


def _next_seq(session: Session, year: int, township_id: int | None) -> int:
    office = (UrgingNotice.township_id.is_(None) if township_id is None
              else UrgingNotice.township_id == township_id)
    top = session.scalar(select(func.max(UrgingNotice.seq)).where(UrgingNotice.year == year,
                                                                  office))
    return (top or 0) + 1


def issue_notice(session: Session, department: Department, cases: Sequence[Case], *,
                 actor: User, text: str, now: dt.datetime | None = None,
                 tz: str | ZoneInfo | None = None) -> UrgingNotice:
    """Issue a numbered notice about ``cases`` (each overdue, held by the department and, for
    a township's supervisor, in their township), record it on every case's timeline and tell
    the department."""
    require_role(actor, Role.SUPERVISOR, action="发送督促函")
    if not cases:
        raise WorkflowError("请至少选择一件超期工单")
    if not text.strip():
        raise WorkflowError("督促函正文不能为空")
    now = now or utcnow()
    for case in cases:
        if not sla.is_overdue(case, now, tz):
            raise WorkflowError(f"工单 {case.id} 未超期，不能据此发督促函")
        if not _has_department(case, department.id):
            raise WorkflowError(f"工单 {case.id} 不在{department.name}办理中")
        if actor.township_id is not None and case.village.township_id != actor.township_id:
            # A township's office urges about its own township's cases only.
            raise WorkflowError(f"工单 {case.id} 不属于本乡镇")
    year = clock.local_today(now, tz).year
    notice = numbering.allocate(session, lambda: UrgingNotice(
        department_id=department.id, year=year, township_id=actor.township_id,
        seq=_next_seq(session, year, actor.township_id), text=text.strip(),
        issued_by_id=actor.id, issued_at=now), NUMBER_ATTEMPTS)
    if notice is None:
        raise WorkflowError("督促函编号分配繁忙，请稍后重试")
    notice.cases.extend(cases)
    session.flush()
    number = notice_number(notice)
    for case in cases:
        log_event(session, case, CaseEventKind.URGED, actor=actor, department=department,
                  now=now, internal_text=f"向{department.name}发出{number}",
                  data={"notice_id": notice.id, "number": number})
    audit.record(session, "urging.issue", "urging_notice", notice.id, actor=actor,
                 after={"number": number, "department": department.code,
                        "cases": [c.id for c in cases]})
    notifications.notify(
        session, "urging_notice", f"【督促函】{number}",
        f"{department.name}：乡消安办就 {len(cases)} 件超期工单发来督促函，请登录后台查看。",
        department=department, payload={"notice_id": notice.id})
    return notice


def _check_own_department(notice: UrgingNotice, actor: User, action: str) -> None:
    require_role(actor, Role.OFFICER, action=action)
    if actor.department_id != notice.department_id:
        raise WorkflowError(f"只有{notice.department.name}的经办人可以{action}")


def check_acknowledge(notice: UrgingNotice, actor: User) -> None:
    """Only an officer of the notice's department signs for it, and only once."""
    _check_own_department(notice, actor, "签收本督促函")
    if notice.acknowledged_at is not None:
        raise WorkflowError(f"本督促函已于{clock.format_local(notice.acknowledged_at)}签收")


def check_answer(notice: UrgingNotice, actor: User) -> None:
    """Only an officer of the notice's department answers it, and only once."""
    _check_own_department(notice, actor, "回复本督促函")
    if notice.answered_at is not None:
        raise WorkflowError(f"本督促函已于{clock.format_local(notice.answered_at)}回复")


@dataclass(frozen=True)
class NoticeActions:
    """What an actor may do with a notice now, from the steps' own checks."""

    acknowledge: bool
    answer: bool


def notice_actions(notice: UrgingNotice, actor: User) -> NoticeActions:
    def allowed(check: Callable[[UrgingNotice, User], None]) -> bool:
        try:
            check(notice, actor)
        except WorkflowError:
            return False
        return True
    return NoticeActions(acknowledge=allowed(check_acknowledge), answer=allowed(check_answer))


def acknowledge_notice(session: Session, notice: UrgingNotice, *, actor: User,
                       now: dt.datetime | None = None) -> UrgingNotice:
    """The department signs for the notice (签收)."""
    check_acknowledge(notice, actor)
    notice.acknowledged_at = now or utcnow()
    notice.acknowledged_by_id = actor.id
    session.flush()
    audit.record(session, "urging.acknowledge", "urging_notice", notice.id, actor=actor,
                 after={"number": notice_number(notice),
                        "acknowledged_at": notice.acknowledged_at.isoformat()})
    return notice


def answer_notice(session: Session, notice: UrgingNotice, text: str, *, actor: User,
                  now: dt.datetime | None = None) -> UrgingNotice:
    """The department replies (回复); a reply also signs for a notice nobody signed for."""
    check_answer(notice, actor)
    answer = text.strip()
    if not answer:
        raise WorkflowError("请填写回复内容（办理情况）")
    if len(answer) > ANSWER_MAX:
        raise WorkflowError(f"回复内容不能超过 {ANSWER_MAX} 个字")
    now = now or utcnow()
    signed = notice.acknowledged_at is None
    if signed:
        notice.acknowledged_at = now
        notice.acknowledged_by_id = actor.id
    notice.answer = answer
    notice.answered_at = now
    notice.answered_by_id = actor.id
    session.flush()
    audit.record(session, "urging.answer", "urging_notice", notice.id, actor=actor,
                 after={"number": notice_number(notice), "answer": answer,
                        "answered_at": now.isoformat(), "acknowledged_now": signed})
    return notice


def notices_for_department(session: Session, department_id: int) -> list[UrgingNotice]:
    """The notices addressed to a department, newest first (its desk lists them)."""
    return list(session.scalars(
        select(UrgingNotice).where(UrgingNotice.department_id == department_id)
        .options(joinedload(UrgingNotice.issued_by), joinedload(UrgingNotice.acknowledged_by),
                 joinedload(UrgingNotice.answered_by))
        .order_by(UrgingNotice.issued_at.desc(), UrgingNotice.id.desc())))


def issued_by_office(notice: UrgingNotice, townships: Collection[int] | None) -> bool:
    """Whether a reader of ``townships`` (``permissions.townships_of``; None: the county's
    staff, who read every notice) reads the notice: one their township's office issued."""
    return townships is None or notice.township_id in townships


def notices_page(session: Session, *, page: str | int | None = 1, size: int = 30,
                 townships: Collection[int] | None = None) -> Page[UrgingNotice]:
    """The notices the reader's office issued (the county's staff: every one), newest
    first, a page at a time (the urging list)."""
    office = (() if townships is None
              else (UrgingNotice.township_id.in_(sorted(townships)),))
    return paging.paginate(session, select(UrgingNotice).where(*office)
                           .options(joinedload(UrgingNotice.department),
                                    joinedload(UrgingNotice.acknowledged_by),
                                    joinedload(UrgingNotice.answered_by))
                           .order_by(UrgingNotice.issued_at.desc(), UrgingNotice.id.desc()),
                           page=page, size=size)
