"""Routing: which departments a case goes to (派单), by rules that are data.

``propose_routing`` reads the routing table and the jurisdiction settings; it names no
department itself. ``route_case`` hands the case to the departments a moderator confirmed (or
chose instead, with a reason), through the workflow.

What the department reads about the hazard is the case's summary (``internal_summary``), and
only that: never the tip itself, nor the reporter. ``draft_department_summary`` pre-fills it on
the routing screen from the tips' descriptions as the moderators left them (redacted) and
masked; the moderator edits it and ``route_case`` stores what they submitted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from portal.domain import clock
from portal.domain.administration import townships
from portal.domain.casework import limits, notifications
from portal.domain.casework.workflow import (
    WorkflowError,
    log_event,
    require_role,
    require_serving,
    transition,
)
from portal.domain.clock import utcnow
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.enums import (
    AssignmentRole,
    CaseEventKind,
    CaseStatus,
    Role,
    Severity,
    SupervisionLevel,
)
from portal.domain.models import (
    Assignment,
    Case,
    Category,
    Department,
    RoutingRule,
    Tip,
    Township,
    User,
    VenueType,
    Village,
)

SUMMARY_MAX = 4000


@dataclass
class Proposal:
    """What the routing table proposes for a case; the moderator confirms or overrides it."""

    lead: Department
    assists: list[Department]
    rule: RoutingRule | None
    reasons: list[str] = field(default_factory=list)
    # A major hazard is flagged for supervision (挂牌督办).
    supervision: bool = False

    @property
    def manual(self) -> bool:
        """No rule matched: the township office triages by hand, so any choice is its own."""
        return self.rule is None

    def matches(self, lead: Department, assists: Sequence[Department]) -> bool:
        return lead.id == self.lead.id and {d.id for d in assists} == {
            d.id for d in self.assists}




def _criterion(column: InstrumentedAttribute[int | None],
               value_id: int | None) -> ColumnElement[bool]:
    """A rule's criterion matches when the rule leaves it open or names this value."""
    if value_id is None:
        return column.is_(None)
    return or_(column.is_(None), column == value_id)


def matching_rules(
    session: Session, category: Category, venue_type: VenueType | None, village: Village
) -> list[RoutingRule]:
    """Active rules that match, best first: most specific, then the township's own over the
    county's default, then priority, then oldest. The county's defaults apply in a township
    only through departments that serve it."""
    township_id = village.township_id
    rules = session.scalars(
        select(RoutingRule)
        .join(Department, RoutingRule.lead_department_id == Department.id)
        .where(
            RoutingRule.active.is_(True),
            Department.active.is_(True),
            or_(RoutingRule.township_id.is_(None), RoutingRule.township_id == township_id),
            Department.serves.any(Township.id == township_id),
            _criterion(RoutingRule.category_id, category.id),
            _criterion(RoutingRule.venue_type_id, venue_type.id if venue_type else None),
            _criterion(RoutingRule.village_id, village.id),
        )
    ).all()
    return sorted(rules, key=lambda r: (-r.specificity, r.township_id is None, -r.priority,
                                        r.id))


def propose_routing(
    session: Session,
    category: Category,
    venue_type: VenueType | None,
    village: Village,
    *,
    severity: Severity = Severity.GENERAL,
) -> Proposal:
    rules = matching_rules(session, category, venue_type, village)
    township_id = village.township_id

    def duty(key: str) -> Department | None:
        return townships.duty_department(session, key, village.township)

    if rules:
        rule: RoutingRule | None = rules[0]
        assert rule is not None
        lead = rule.lead_department
        assists = [d for d in rule.assisting_departments
                   if d.active and d.id != lead.id and townships.serves(d, township_id)]
        reasons = [f"分派规则：{_describe(rule)}"]
    else:
        office = duty("office_department")
        if office is None:
            raise WorkflowError("尚未设置乡消安办（office_department），无法分派，请先载入辖区设置")
        rule, lead, assists = None, office, []
        reasons = ["没有匹配的分派规则，由乡消安办人工分派"]
    proposal = Proposal(lead, assists, rule, reasons)

    if severity is Severity.MAJOR:
        major = duty("major_hazard_department")
        if major is not None and major.id != lead.id:
            proposal.assists = [lead] + [d for d in assists if d.id != major.id]
            proposal.lead = major
            proposal.reasons.append(f"重大隐患：由{major.name}牵头，原牵头部门配合")
        proposal.supervision = True
        proposal.reasons.append("重大隐患：列入挂牌督办")
    if category.needs_penalty:
        penalty = duty("penalty_department")
        if penalty is not None and penalty.id != proposal.lead.id and penalty.id not in {
            d.id for d in proposal.assists
        }:
            proposal.assists.append(penalty)
            proposal.reasons.append(f"该类别需行政处罚：{penalty.name}配合")
    return proposal


def _describe(rule: RoutingRule) -> str:
    parts = [p.name for p in (rule.category, rule.venue_type, rule.village) if p is not None]
    return "＋".join(parts) or "默认规则"


def propose_for_case(session: Session, case: Case) -> Proposal:
    return propose_routing(session, case.category, case.unit.venue_type, case.village,
                           severity=case.severity)


def draft_department_summary(session: Session, case: Case) -> str:
    """The summary the routing screen offers for the department to read, for the moderator to
    edit before routing. A summary a moderator already wrote (when accepting the tip, or at an
    earlier routing) is theirs and is offered as it is; otherwise the descriptions of the
    case's tips, oldest first, as moderators left them (``redact_description`` replaces the
    text and keeps the original for moderators only), with phone, ID-card and plate numbers
    masked. Nothing from the reporter's own fields (name, phone) is ever part of it."""
    if case.internal_summary.strip():
        return case.internal_summary
    descriptions = session.scalars(
        select(Tip.description).where(Tip.case_id == case.id).order_by(Tip.created_at, Tip.id))
    return "\n\n".join(mask_personal_data(d.strip()) for d in descriptions if d.strip())


def check_department_summary(summary: str) -> str:
    """The summary as it will be stored: what the moderator submitted, trimmed. Empty would
    leave the department with nothing to act on."""
    text = summary.strip()
    if not text:
        raise WorkflowError("请填写交给部门的情况摘要：部门只能看到这段文字")
    if len(text) > SUMMARY_MAX:
        raise WorkflowError(f"情况摘要不能超过 {SUMMARY_MAX} 个字")
    return text


def serving_departments(session: Session, case: Case) -> list[Department]:
    """The active departments ``route_case`` accepts for the case: those serving its
    township (the county's that serve it and the township's own)."""
    return list(session.scalars(
        select(Department).where(Department.active.is_(True),
                                 Department.serves.any(Township.id == case.village.township_id))
        .order_by(Department.id)))


def check_route_case(case: Case, actor: User) -> None:
    """Who may route a case, and when: a moderator (the township office, ``cases:route``),
    while the case waits in triage."""
    require_role(actor, Role.MODERATOR, action="分派案件")
    if case.status is not CaseStatus.TRIAGE:
        raise WorkflowError(f"只有待分派的案件可以派单，本案件当前为“{case.status.label}”")


def route_case(
    session: Session,
    case: Case,
    *,
    lead: Department,
    assists: Sequence[Department] = (),
    actor: User,
    override_reason: str = "",
    summary: str | None = None,
    now: dt.datetime | None = None,
    tz: str | ZoneInfo | None = None,
) -> list[Assignment]:
    """Hand a case in triage to a lead department and any assisting departments.

    Earlier assignments (returned, transferred) are kept as they are; new ones are added. A
    choice other than the rules' proposal needs ``override_reason``, which is recorded on each
    new assignment and in the routing event. ``summary`` is what the moderator submitted for
    the department to read (the routing screen always sends it); it replaces the case's
    summary. ``None`` keeps the summary the case has.
    """
    check_route_case(case, actor)
    return _route(session, case, lead=lead, assists=assists, actor=actor,
                  override_reason=override_reason, summary=summary, now=now, tz=tz)


def route_by_rules(session: Session, case: Case, *, actor: User, note: str = "",
                   now: dt.datetime | None = None,
                   tz: str | ZoneInfo | None = None) -> list[Assignment] | None:
    """Route a case in triage exactly as the routing rules propose, for a channel that needs
    no moderator's choice: a finding staff recorded on an inspection (``actor``, who filed
    it). None when no rule matches: the case stays in triage for the office to route.
    ``note`` heads the routing event's internal text (how the case came)."""
    if case.status is not CaseStatus.TRIAGE:
        raise WorkflowError(f"只有待分派的案件可以派单，本案件当前为“{case.status.label}”")
    proposal = propose_for_case(session, case)
    if proposal.manual:
        return None
    return _route(session, case, lead=proposal.lead, assists=proposal.assists, actor=actor,
                  now=now, tz=tz, note=note)


def _route(session: Session, case: Case, *, lead: Department, assists: Sequence[Department],
           actor: User, override_reason: str = "", summary: str | None = None,
           now: dt.datetime | None = None, tz: str | ZoneInfo | None = None,
           note: str = "") -> list[Assignment]:
    new_summary = None if summary is None else check_department_summary(summary)
    assists = list({d.id: d for d in assists if d.id != lead.id}.values())
    for department in (lead, *assists):
        if not department.active:
            raise WorkflowError(f"{department.name}已停用，不能接收派单")
        require_serving(department, case, receiving="派单")
    proposal = propose_for_case(session, case)
    override_reason = override_reason.strip()
    overridden = not proposal.matches(lead, assists)
    if overridden and not proposal.manual and not override_reason:
        raise WorkflowError("所选部门与分派规则的建议不同，请填写调整理由")

    now = now or utcnow()
    summary_changed = new_summary is not None and new_summary != case.internal_summary
    if new_summary is not None:
        case.internal_summary = new_summary
    new = [
        Assignment(case=case, department=department, role=role, routed_at=now,
                   routed_by_id=actor.id, override_reason=override_reason)
        for department, role in [(lead, AssignmentRole.LEAD),
                                 *((d, AssignmentRole.ASSIST) for d in assists)]
    ]
    session.add_all(new)
    check_by = limits.check_due(session, case, tz=tz)
    names = "、".join(d.name for d in assists)
    transition(
        session, case, CaseStatus.ROUTED, actor=actor, department=lead, now=now,
        internal_text=note + f"牵头：{lead.name}" + (f"；配合：{names}" if names else "")
        + (f"。调整理由：{override_reason}" if overridden and override_reason else ""),
        public_text=f"已交由{lead.name}牵头办理",
        data={
            "lead": lead.code,
            "assists": [d.code for d in assists],
            "proposal": {"lead": proposal.lead.code,
                         "assists": [d.code for d in proposal.assists],
                         "rule_id": proposal.rule.id if proposal.rule else None,
                         "reasons": proposal.reasons},
            "overridden": overridden,
            "override_reason": override_reason,
            "check_by": check_by.isoformat() if check_by else None,
            # That the summary changed, not the text: the audit log is read widely.
            "summary_changed": summary_changed,
        },
        routed_at=now,
        check_by=check_by,
    )
    if proposal.supervision and case.supervision_level is SupervisionLevel.NONE:
        case.supervision_level = SupervisionLevel.TOWNSHIP
        log_event(session, case, CaseEventKind.SUPERVISION_CHANGED, actor=actor,
                  internal_text="重大隐患，列入乡级挂牌督办",
                  data={"from": SupervisionLevel.NONE.value,
                        "to": SupervisionLevel.TOWNSHIP.value})
    for assignment in new:
        notifications.notify(
            session, "assignment_new",
            f"新派单：案件 #{case.id} {case.unit.name}（{assignment.role.label}）",
            f"类别：{case.category.name}\n核查时限："
            + (clock.format_local(check_by, tz) if check_by else "巡查发现，无需另行核查"),
            department=assignment.department,
            payload={"case_id": case.id, "assignment_id": assignment.id},
        )
    return new
