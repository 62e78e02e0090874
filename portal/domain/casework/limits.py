"""The legal time limits: every rule with its basis, in one table, and the clocks they run.

公安部令第120号《消防监督检查规定》 and 国办发〔2017〕87号 set the limits a township's
fire-safety office and its departments are held to (DESIGN.md, "Time limits"). Each is a
``Limit`` below: what it is, its article, how long, counted in hours or in working days on
the working-day calendar (``sla.WorkdayCalendar``). A category may set a shorter §18 check
limit for itself (``check_limit``), never a longer one (``validate_check_limit``).

The §18 check keeps its columns on the case (``check_by``, ``checked_at``), which the lists
and the overdue clauses read; every later limit runs as a ``CaseClock`` row, started,
extended, met or cancelled by the workflow through the functions here. ``clocks_of`` gives
the case page every clock, the §18 check included, with its due time, basis and whether it
was met in time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from portal.domain.casework import leads, notifications, sla
from portal.domain.casework.events import WorkflowError
from portal.domain.clock import end_of_local_day, format_local, local_today, local_zone, utcnow
from portal.domain.enums import CaseStatus, Channel
from portal.domain.models import Case, CaseClock, Category, Department, Tip

ORDER_120 = "《消防监督检查规定》"
LISTING_87 = "《国务院办公厅关于印发消防安全责任制实施办法的通知》（国办发〔2017〕87号）"


class Rule(StrEnum):
    CHECK = "check"
    ORDER = "order"
    REINSPECT = "reinspect"
    MAJOR_REPORT = "major_report"
    MAJOR_NOTICE = "major_notice"
    LISTING_DECISION = "listing_decision"


@dataclass(frozen=True)
class Span:
    """A length of time: hours, or working days (the end of the n-th working day after)."""

    hours: int | None = None
    working_days: int | None = None

    def __post_init__(self) -> None:
        if (self.hours is None) == (self.working_days is None):
            raise ValueError("a span is hours or working days, exactly one of them")

    @property
    def label(self) -> str:
        if self.hours is not None:
            return f"{self.hours} 小时"
        return f"{self.working_days} 个工作日"

    def fits_within(self, other: Span) -> bool:
        """Whether this span is never longer than ``other`` (the legal maximum)."""
        if other.hours is not None:
            return self.hours is not None and self.hours <= other.hours
        assert other.working_days is not None
        if self.working_days is not None:
            return self.working_days <= other.working_days
        assert self.hours is not None
        # Hours within working days: a day's worth of hours per working day, at most.
        return self.hours <= 24 * other.working_days


@dataclass(frozen=True)
class Limit:
    rule: Rule
    name: str
    span: Span
    basis: str
    starts: str
    met_by: str


URGENT_CHECK = Span(hours=24)
CHECK = Span(working_days=3)
# The expert review a §21 judgement may add (第二十一条第二款).
EXPERT_REVIEW = Span(working_days=10)

LIMITS: dict[Rule, Limit] = {
    Rule.CHECK: Limit(
        Rule.CHECK, "现场核查", CHECK, f"{ORDER_120}第十八条",
        "自受理举报起（占用、堵塞、封闭疏散通道、安全出口或消防设施停用等为 24 小时）",
        "登记核查结果"),
    Rule.ORDER: Limit(
        Rule.ORDER, "送达责令限期改正通知书", Span(working_days=3), f"{ORDER_120}第十九条",
        "自检查发现违法行为之日起", "制发《责令限期改正通知书》"),
    Rule.REINSPECT: Limit(
        Rule.REINSPECT, "复查", Span(working_days=3), f"{ORDER_120}第二十条",
        "自整改期限届满之日或单位申请复查之日起", "登记复查（《复查意见书》）"),
    Rule.MAJOR_REPORT: Limit(
        Rule.MAJOR_REPORT, "重大火灾隐患书面报告政府", Span(working_days=7),
        f"{ORDER_120}第二十一条",
        "自检查发现疑似重大火灾隐患之日起（组织专家论证的，延长 10 个工作日）",
        "制发重大火灾隐患报告"),
    Rule.MAJOR_NOTICE: Limit(
        Rule.MAJOR_NOTICE, "送达重大火灾隐患整改通知书", Span(working_days=3),
        f"{ORDER_120}第二十一条", "自集体讨论作出判定之日起", "制发《重大火灾隐患整改通知书》"),
    Rule.LISTING_DECISION: Limit(
        Rule.LISTING_DECISION, "政府作出挂牌督办决定", Span(working_days=7),
        f"{LISTING_87}第六条", "自提请挂牌督办之日起", "登记挂牌督办"),
}


# ---------------------------------------------------------------- a category's check limit


def legal_check_limit(category: Category) -> Span:
    """§18's maximum for the category: 24 hours if urgent, else 3 working days."""
    return URGENT_CHECK if category.urgent else CHECK


def check_limit(category: Category) -> Span:
    """The category's own §18 limit where it set one, else the legal maximum."""
    if category.check_hours is not None:
        return Span(hours=category.check_hours)
    if category.check_working_days is not None:
        return Span(working_days=category.check_working_days)
    return legal_check_limit(category)


def validate_check_limit(*, urgent: bool, hours: int | None,
                         working_days: int | None) -> Span | None:
    """The category's own limit, if one is given and within §18's maximum; raises the Chinese
    ``WorkflowError`` otherwise. ``None``: the category keeps the legal maximum."""
    if hours is not None and working_days is not None:
        raise WorkflowError("核查时限只能按小时或按工作日之一填写")
    if hours is None and working_days is None:
        return None
    if (hours is not None and hours < 1) or (working_days is not None and working_days < 1):
        raise WorkflowError("核查时限须为正整数")
    span = Span(hours=hours, working_days=working_days)
    legal = URGENT_CHECK if urgent else CHECK
    if not span.fits_within(legal):
        raise WorkflowError(
            f"核查时限 {span.label} 超过《消防监督检查规定》第十八条的上限 {legal.label}"
            + ("（紧急类别）" if urgent else ""))
    return span


# ---------------------------------------------------------------- counting


def due_after(session: Session, start: dt.datetime, span: Span, *,
              tz: str | ZoneInfo | None = None,
              calendar: sla.WorkdayCalendar | None = None) -> dt.datetime:
    """When ``span`` counted from ``start`` ends: ``start`` plus the hours, or the end of the
    n-th working day after the local day of ``start`` (that day itself is not counted).

    A page counting many spans passes one ``calendar``, which reads each year once."""
    if span.hours is not None:
        return start + dt.timedelta(hours=span.hours)
    assert span.working_days is not None
    day = start.astimezone(local_zone(tz)).date()
    calendar = calendar or sla.WorkdayCalendar(session)
    return end_of_local_day(calendar.add_working_days(day, span.working_days), tz)


def due_after_day(session: Session, day: dt.date, span: Span, *,
                  tz: str | ZoneInfo | None = None) -> dt.datetime:
    """``span`` counted from a local date (a rectification deadline, an application)."""
    assert span.working_days is not None
    return end_of_local_day(sla.add_working_days(session, day, span.working_days), tz)


def received_at(session: Session, case: Case) -> dt.datetime | None:
    """When the case's first tip was received: §18's check is counted from it, not from
    routing. A case opened from an inspection has no §18 clock (its hazard is already
    checked); one opened by staff without a tip counts from its opening."""
    if case.channel is Channel.INSPECTION:
        return None
    first = session.scalar(select(func.min(Tip.created_at)).where(Tip.case_id == case.id))
    return first or case.created_at


def check_due(session: Session, case: Case, *,
              tz: str | ZoneInfo | None = None) -> dt.datetime | None:
    """The §18 check's due time for the case, counted from receipt on its category's limit."""
    start = received_at(session, case)
    if start is None:
        return None
    return due_after(session, start, check_limit(case.category), tz=tz)


# ---------------------------------------------------------------- the clocks on a case


def open_clock(case: Case, rule: Rule) -> CaseClock | None:
    for clock in reversed(case.clocks):
        if clock.rule == rule and clock.open:
            return clock
    return None


def start(session: Session, case: Case, rule: Rule, *, at: dt.datetime | None = None,
          due_at: dt.datetime | None = None, note: str = "",
          tz: str | ZoneInfo | None = None) -> CaseClock:
    """Start ``rule``'s clock from ``at`` (now), due after the rule's span unless ``due_at``
    says otherwise; a clock of the same rule still running is cancelled (it is superseded)."""
    at = at or utcnow()
    previous = open_clock(case, rule)
    if previous is not None:
        previous.cancelled_at = at
        previous.note = (previous.note + "；" if previous.note else "") + "已重新起算"
    clock = CaseClock(case=case, rule=rule.value, started_at=at,
                      due_at=due_at or due_after(session, at, LIMITS[rule].span, tz=tz),
                      note=note[:200], created_at=at)
    session.add(clock)
    return clock


def meet(case: Case, rule: Rule, *, at: dt.datetime | None = None) -> CaseClock | None:
    """The running clock of ``rule`` is met now (a no-op when none runs)."""
    clock = open_clock(case, rule)
    if clock is not None:
        clock.met_at = at or utcnow()
    return clock


def cancel(case: Case, rule: Rule, *, note: str, at: dt.datetime | None = None) -> None:
    clock = open_clock(case, rule)
    if clock is not None:
        clock.cancelled_at = at or utcnow()
        clock.note = ((clock.note + "；") if clock.note else "") + note
        clock.note = clock.note[:200]


def extend(session: Session, case: Case, rule: Rule, span: Span, *, note: str,
           tz: str | ZoneInfo | None = None) -> CaseClock:
    """Push the running clock's due time back by ``span`` counted from its current due day."""
    clock = open_clock(case, rule)
    if clock is None:
        raise WorkflowError(f"本案件没有正在计时的“{LIMITS[rule].name}”时限")
    clock.due_at = due_after(session, clock.due_at, span, tz=tz)
    clock.note = ((clock.note + "；") if clock.note else "") + note
    clock.note = clock.note[:200]
    return clock


class ClockState(StrEnum):
    RUNNING = "running"
    OVERDUE = "overdue"
    MET = "met"
    MET_LATE = "met_late"
    CANCELLED = "cancelled"


_STATE_LABELS = {
    ClockState.RUNNING: "计时中",
    ClockState.OVERDUE: "已超期",
    ClockState.MET: "按期完成",
    ClockState.MET_LATE: "超期完成",
    ClockState.CANCELLED: "已重新起算或不再适用",
}


@dataclass(frozen=True)
class ClockView:
    """One clock as the case page shows it."""

    rule: Rule
    name: str
    basis: str
    started_at: dt.datetime | None
    due_at: dt.datetime
    met_at: dt.datetime | None
    state: ClockState
    note: str = ""

    @property
    def state_label(self) -> str:
        return _STATE_LABELS[self.state]

    @property
    def late(self) -> bool:
        return self.state in (ClockState.OVERDUE, ClockState.MET_LATE)


def _state(due_at: dt.datetime, met_at: dt.datetime | None, cancelled: bool,
           now: dt.datetime) -> ClockState:
    if cancelled:
        return ClockState.CANCELLED
    if met_at is not None:
        return ClockState.MET if met_at <= due_at else ClockState.MET_LATE
    return ClockState.OVERDUE if due_at < now else ClockState.RUNNING


def clocks_of(session: Session, case: Case,
              now: dt.datetime | None = None) -> list[ClockView]:
    """Every clock of the case, the §18 check first, then the others as they started."""
    now = now or utcnow()
    views = []
    if case.check_by is not None:
        limit = LIMITS[Rule.CHECK]
        name = f"{limit.name}（{check_limit(case.category).label}）"
        views.append(ClockView(Rule.CHECK, name, limit.basis, received_at(session, case),
                               case.check_by,
                               case.checked_at,
                               _state(case.check_by, case.checked_at, False, now)))
    for clock in case.clocks:
        limit = LIMITS[Rule(clock.rule)]
        views.append(ClockView(limit.rule, limit.name, limit.basis, clock.started_at,
                               clock.due_at, clock.met_at,
                               _state(clock.due_at, clock.met_at, clock.cancelled_at is not None,
                                      now), clock.note))
    return views


def overdue_clocks(case: Case, now: dt.datetime | None = None) -> list[CaseClock]:
    """The case's running clocks (after the check) whose time is up."""
    now = now or utcnow()
    return [c for c in case.clocks if c.open and c.due_at < now]


# ---------------------------------------------------------------- a case's next limit, in words


@dataclass(frozen=True)
class Due:
    """What a staff page says about a case's next time limit, and whether it shows as late."""

    text: str
    overdue: bool


def _span(seconds: float) -> str:
    hours = int(seconds // 3600)
    if hours < 1:
        return f"{max(1, int(seconds // 60))} 分钟"
    if hours < 48:
        return f"{hours} 小时"
    return f"{hours // 24} 天"


def due_of(case: Case, now: dt.datetime | None = None,
           tz: str | ZoneInfo | None = None) -> Due | None:
    """The case's next time limit in words; late exactly when ``is_overdue`` says so (or, for a
    closed case, when its follow-up date has passed)."""
    now = now or utcnow()
    late = sla.is_overdue(case, now, tz)
    if case.status in sla.AWAITING_CHECK and case.check_by is not None:
        left = (case.check_by - now).total_seconds()
        when = format_local(case.check_by, tz)
        if late:
            return Due(f"核查已超期 {_span(-left)}（期限 {when}）", True)
        return Due(f"核查剩余 {_span(left)}（期限 {when}）", False)
    late_clocks = sorted((c for c in case.clocks if c.open and c.due_at < now),
                         key=lambda c: c.due_at)
    if late_clocks:
        first = late_clocks[0]
        left = (now - first.due_at).total_seconds()
        return Due(f"{LIMITS[Rule(first.rule)].name}已超期 {_span(left)}"
                   f"（期限 {format_local(first.due_at, tz)}）", True)
    if case.status is CaseStatus.RECTIFYING:
        if case.rectify_by is None:
            return Due("尚未下达整改期限", False)
        days = (case.rectify_by - local_today(now, tz)).days
        when = case.rectify_by.isoformat()
        if late:
            return Due(f"整改已超期 {-days} 天（期限 {when}）", True)
        if days == 0:
            return Due(f"整改今天到期（{when}）", False)
        return Due(f"整改剩余 {days} 天（期限 {when}）", False)
    if case.status is CaseStatus.CLOSED and case.follow_up_by is not None:
        return Due(f"回头看日期 {case.follow_up_by.isoformat()}",
                   case.follow_up_by < local_today(now, tz))
    return None


# ---------------------------------------------------------------- reminders


@dataclass
class ClockReminders:
    due_soon: int = 0
    overdue: int = 0
    written: int = 0


def remind(session: Session, now: dt.datetime | None = None, *,
           due_soon: dt.timedelta = dt.timedelta(hours=24),
           tz: str | ZoneInfo | None = None, batch: int = 500) -> ClockReminders:
    """Due-soon and overdue reminders of the later clocks, for ``sla scan``: the lead
    department is told, and the township office too once a limit has passed. Idempotent:
    each reminder's dedupe key names the clock, the kind and the due time."""
    now = now or utcnow()
    report = ClockReminders()
    offices: dict[int, Department | None] = {}
    last_id = 0
    while True:
        clocks = session.scalars(
            select(CaseClock).where(CaseClock.met_at.is_(None), CaseClock.cancelled_at.is_(None),
                                    CaseClock.due_at <= now + due_soon, CaseClock.id > last_id)
            .options(joinedload(CaseClock.case).joinedload(Case.unit))
            .order_by(CaseClock.id).limit(batch)).all()
        if not clocks:
            return report
        last_id = clocks[-1].id
        for clock in clocks:
            case = clock.case
            limit = LIMITS[Rule(clock.rule)]
            late = clock.due_at < now
            if late:
                report.overdue += 1
            else:
                report.due_soon += 1
            kind = f"{clock.rule}_{'overdue' if late else 'due_soon'}"
            label = f"{limit.name}期限 {format_local(clock.due_at, tz)}（{limit.basis}）"
            subject = f"【{'已超期' if late else '即将到期'}】案件 #{case.id} {label}"
            body = f"单位：{case.unit.name}\n{label}\n完成方式：{limit.met_by}"
            payload = {"case_id": case.id, "clock_id": clock.id,
                       "deadline": clock.due_at.isoformat()}
            lead = leads.active_lead(case)
            recipients = [lead.department] if lead is not None else []
            township = case.village.township
            if township.id not in offices:
                offices[township.id] = notifications.office_department(session, township)
            office = offices[township.id]
            if late and office is not None and all(d.id != office.id for d in recipients):
                recipients.append(office)
            for department in recipients:
                if notifications.notify(
                        session, kind, subject, body, department=department, payload=payload,
                        dedupe_key=f"{kind}:{clock.id}:{department.id}:{clock.due_at.isoformat()}"):
                    report.written += 1
