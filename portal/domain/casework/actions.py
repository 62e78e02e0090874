"""What an actor may do on a case now (可办理事项), and why not, for the pages to draw.

``case_actions(case, actor)`` answers, for every step a case page offers (the desk's case
page, the routing screen's routing and severity judgement, the supervisor's listing and
delisting), whether ``actor`` may take it now and, if not, the step's own Chinese reason. It
decides nothing itself: each answer is the step's precondition (``workflow.check_<step>``,
``routing.check_route_case``, ``listings.check_list_case`` …), the function the step calls
first, so a form is drawn exactly when the step would accept it (given valid input) and a
refusal shown on the page is the one the step would give.

A new case step needs its move and precondition in ``workflow``, one line in ``STEPS``, its form
and its template section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portal.domain.access.permissions import Permission, has_permission
from portal.domain.casework import major, routing, workflow
from portal.domain.casework.events import WorkflowError
from portal.domain.models import Case, User
from portal.domain.supervision import listings

__all__ = ["STEPS", "STEPS_BY_NAME", "Action", "Step", "case_actions", "may"]


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    # What the step's page needs; a role without it never takes the step.
    permission: Permission
    check: Callable[[Case, User], object]
    # Whether the step is on the case's agenda at all (see ``follow_up`` below).
    listed: Callable[[Case], bool] = lambda case: True
    # The page that draws the step's form: the desk's case page or the routing screen.
    page: str = "desk"


def _follow_up_scheduled(case: Case) -> bool:
    # The page offers the follow-up (回头看) that closure scheduled, until it is recorded.
    # The workflow also takes an unscheduled one (a supervisor reopening a closed case on
    # later evidence); no page offers that.
    return case.follow_up_by is not None


# In the order the case page shows them.
STEPS: tuple[Step, ...] = (
    Step("accept", "签收派单", Permission.CASES_WORK, workflow.check_accept),
    Step("return", "退回派单", Permission.CASES_WORK, workflow.check_return),
    Step("check", "登记现场核查结果", Permission.CASES_WORK, workflow.check_record_check),
    Step("elements", "登记重大火灾隐患判定要素", Permission.CASES_WORK,
         major.check_record_elements),
    Step("judge", "集体判定重大火灾隐患", Permission.CASES_WORK, major.check_judge),
    Step("deadline", "下达整改期限", Permission.CASES_WORK, workflow.check_set_rectification),
    Step("progress", "发布进展", Permission.CASES_WORK, workflow.check_post_progress),
    Step("application", "登记单位复查申请", Permission.CASES_WORK,
         workflow.check_record_application),
    Step("report", "复查并报告整改完成", Permission.CASES_WORK, workflow.check_report_rectified),
    Step("extension", "申请延期", Permission.CASES_WORK, workflow.check_request_extension),
    Step("closure", "验收销案", Permission.CASES_CLOSE, workflow.check_approve_closure),
    Step("send_back", "退回继续整改", Permission.CASES_CLOSE, workflow.check_send_back),
    Step("review_unfounded", "审核核查不属实", Permission.CASES_CLOSE,
         workflow.check_review_unfounded),
    Step("decide_extension", "审批延期申请", Permission.CASES_CLOSE,
         workflow.check_decide_extension),
    Step("follow_up", "回头看", Permission.CASES_FOLLOW_UP, workflow.check_follow_up,
         listed=_follow_up_scheduled),
    Step("transfer", "移交其他部门", Permission.CASES_WORK, workflow.check_transfer),
    Step("route", "分派", Permission.CASES_ROUTE, routing.check_route_case, page="route"),
    Step("list", "挂牌督办", Permission.LISTINGS_MANAGE, listings.check_list_case,
         page="listing"),
    Step("delist", "摘牌", Permission.LISTINGS_MANAGE, listings.check_delist_case,
         page="listing"),
    Step("severity", "判定隐患等级", Permission.CASES_ROUTE, workflow.check_set_severity,
         page="route"),
)
STEPS_BY_NAME: dict[str, Step] = {s.name: s for s in STEPS}


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    allowed: bool
    # The workflow's refusal, in Chinese; empty when allowed.
    reason: str
    # The actor's role may take this step in some state of some case (it holds the
    # permission of the step's page); pages list only such refusals.
    in_role: bool
    page: str


def _answer(step: Step, case: Case, actor: User) -> Action:
    try:
        step.check(case, actor)
    except WorkflowError as exc:
        allowed, reason = False, str(exc)
    else:
        allowed, reason = True, ""
    return Action(step.name, step.label, allowed, reason,
                  has_permission(actor.role, step.permission), step.page)


def case_actions(case: Case, actor: User) -> dict[str, Action]:
    """Every step on the case's agenda, by name, in ``STEPS`` order."""
    return {step.name: _answer(step, case, actor) for step in STEPS if step.listed(case)}


def may(case: Case, actor: User, name: str) -> bool:
    """Whether ``actor`` may take the one step ``name`` now: for a list that draws one button
    per row, without running every other step's check."""
    step = STEPS_BY_NAME[name]
    return step.listed(case) and _answer(step, case, actor).allowed
