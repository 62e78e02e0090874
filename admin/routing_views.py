"""The moderators' routing screen (分派): cases waiting in triage, the routing table's proposal
for each, and confirming or overriding it through ``portal.domain.casework.routing.route_case``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from admin import bp
from admin.access import require
from admin.acting import act, refusal_status
from admin.case_forms import RouteForm, SeverityForm
from admin.forms import options
from portal.db import get_session
from portal.domain.access.permissions import Permission, case_scope
from portal.domain.casework import routing, worklists
from portal.domain.casework.events import CONFLICT_MESSAGE
from portal.domain.casework.workflow import WorkflowError, set_severity
from portal.domain.enums import AssignmentRole, AssignmentState, CaseStatus, Severity
from portal.domain.models import Assignment, Case, Department


class RouteWithSummaryForm(RouteForm):
    # What the department reads; pre-filled by ``routing.draft_department_summary``.
    summary = TextAreaField("交给部门的情况摘要", validators=[
        Optional(), Length(max=routing.SUMMARY_MAX)])


def returned_by(case: Case) -> Assignment | None:
    """The lead assignment that sent the case back to triage last, if any."""
    returned = [a for a in case.assignments
                if a.role is AssignmentRole.LEAD and a.state is AssignmentState.RETURNED]
    return returned[-1] if returned else None


@bp.route("/route")
@require(Permission.CASES_ROUTE)
def triage():
    found = worklists.triage(get_session(), page=request.args.get("page"),
                             scope=case_scope(current_user))
    return render_template("admin/route_list.html",
                           page=found.map(lambda c: (c, returned_by(c))))


def _case(case_id: int) -> Case:
    case = get_session().scalar(select(Case).where(Case.id == case_id,
                                                   case_scope(current_user)))
    if case is None:
        abort(404)
    return case


def _departments(case: Case) -> list[Department]:
    return routing.serving_departments(get_session(), case)


def _render(case: Case, *, route: RouteWithSummaryForm | None = None,
            severity: SeverityForm | None = None,
            error: str = "", failed: str = "", status: int = 200):
    db = get_session()
    proposal, proposal_error = None, ""
    if case.status is CaseStatus.TRIAGE:
        try:
            proposal = routing.propose_for_case(db, case)
        except WorkflowError as exc:
            proposal_error = str(exc)
    if route is None:
        route = RouteWithSummaryForm(
            formdata=None, version=str(case.version),
            lead=proposal.lead.id if proposal else None,
            assists=[d.id for d in proposal.assists] if proposal else [],
            summary=routing.draft_department_summary(db, case))
    route.version.data = str(case.version)
    choices = options((d.id, d.name) for d in _departments(case))
    route.lead.choices = choices
    route.assists.choices = choices
    if severity is None:
        severity = SeverityForm(formdata=None, version=str(case.version),
                                severity=case.severity.value)
    severity.version.data = str(case.version)
    return render_template(
        "admin/route_case.html", case=case, proposal=proposal, proposal_error=proposal_error,
        route=route, severity=severity, error_text=error, failed=failed,
        returned=returned_by(case), Severity=Severity,
    ), status


@bp.route("/route/<int:case_id>")
@require(Permission.CASES_ROUTE)
def route_case(case_id: int):
    return _render(_case(case_id))


def _stale(case: Case, version: str | None) -> bool:
    return bool(version) and version != str(case.version)


@bp.route("/route/<int:case_id>", methods=["POST"])
@require(Permission.CASES_ROUTE)
def route_case_post(case_id: int):
    db = get_session()
    case = _case(case_id)
    form = RouteWithSummaryForm()
    choices = options((d.id, d.name) for d in _departments(case))
    form.lead.choices = choices
    form.assists.choices = choices
    # A department not offered (not serving the case's township) is refused by
    # ``routing.route_case``, with its reason in Chinese.
    form.lead.validate_choice = form.assists.validate_choice = False
    if not form.validate():
        return _render(case, route=form, failed="route", status=400,
                       error="请选择牵头部门后再提交")
    if _stale(case, form.version.data):
        return _render(case, route=form, failed="route", status=409,
                       error=f"{CONFLICT_MESSAGE}本案件当前为“{case.status.label}”。")
    lead = db.get(Department, form.lead.data)
    assists = [d for d in (db.get(Department, i) for i in form.assists.data or []) if d]
    if lead is None:
        abort(400)
    return act(
        lambda: routing.route_case(db, case, lead=lead, assists=assists, actor=current_user,
                                   override_reason=form.override_reason.data or "",
                                   summary=form.summary.data),
        done=f"工单 {case.id} 已派给{lead.name}牵头办理。", then=url_for("admin.triage"),
        refused=lambda error, status: _render(_case(case_id), route=form, failed="route",
                                              status=status, error=error))


@bp.route("/route/<int:case_id>/severity", methods=["POST"])
@require(Permission.CASES_ROUTE)
def route_severity(case_id: int):
    """Judge the hazard general or major (GB 35181) before routing; a major hazard is led by
    the major-hazard department and listed for supervision when routed."""
    db = get_session()
    case = _case(case_id)
    form = SeverityForm()
    if not form.validate():
        return _render(case, severity=form, failed="severity", status=400,
                       error="请填写判定依据")
    if _stale(case, form.version.data):
        return _render(case, severity=form, failed="severity", status=409,
                       error=CONFLICT_MESSAGE)
    new = Severity(form.severity.data)
    try:
        changed = set_severity(db, case, new, basis=form.basis.data or "", actor=current_user)
    except WorkflowError as exc:
        # Not ``act``: an unchanged severity records nothing and says nothing.
        db.rollback()
        return _render(_case(case_id), severity=form, failed="severity",
                       status=refusal_status(str(exc)), error=str(exc))
    if changed is not None:
        db.commit()
        flash(f"隐患等级已调整为“{new.label}”，分派建议已更新。", "success")
    return redirect(url_for("admin.route_case", case_id=case.id), 303)
