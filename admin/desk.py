"""The department desk (部门工作台): an officer's own department's assignments, and the case
page where every step of the workflow is one form and one call into
``portal.domain.casework.workflow``.

Views never set a status: they read a form, call the named step, and commit. A step the
domain refuses (``WorkflowError``) is shown in Chinese next to its form; a step taken on a page
that someone else has since overtaken is refused with what happened in the meantime.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session, selectinload

from admin import bp
from admin.access import can, require
from admin.case_forms import (
    CaseActionForm,
    CheckForm,
    ClosureForm,
    DeadlineForm,
    ExtensionDecisionForm,
    ExtensionForm,
    FollowUpForm,
    ProgressForm,
    ReportForm,
    ReturnForm,
    SendBackForm,
    TransferForm,
)
from admin.forms import options
from portal.db import get_session
from portal.domain import clock
from portal.domain.access.permissions import Permission, case_scope
from portal.domain.casework import sla, workflow
from portal.domain.casework.events import CONFLICT_MESSAGE
from portal.domain.casework.workflow import WorkflowError
from portal.domain.clock import utcnow
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    Role,
)
from portal.domain.models import Assignment, Attachment, Case, CaseEvent, Department, Tip
from portal.web.files import send_attachment
from portal.web.photos import read_photos, store_photos

GROUP_PREVIEW = 20
PAGE_SIZE = 30
ACTIVE = (AssignmentState.PENDING, AssignmentState.ACCEPTED)


# ---------------------------------------------------------------- time left


@dataclass(frozen=True)
class Due:
    text: str
    overdue: bool


def _span(seconds: float) -> str:
    hours = int(seconds // 3600)
    if hours < 1:
        return f"{max(1, int(seconds // 60))} 分钟"
    if hours < 48:
        return f"{hours} 小时"
    return f"{hours // 24} 天"


def due_of(case: Case, now: dt.datetime) -> Due | None:
    """What the desk says about the case's next time limit."""
    if case.status in sla.AWAITING_CHECK and case.check_by is not None:
        left = (case.check_by - now).total_seconds()
        when = clock.format_local(case.check_by)
        if left < 0:
            return Due(f"核查已超期 {_span(-left)}（期限 {when}）", True)
        return Due(f"核查剩余 {_span(left)}（期限 {when}）", False)
    if case.status is CaseStatus.RECTIFYING:
        if case.rectify_by is None:
            return Due("尚未下达整改期限", False)
        days = (case.rectify_by - clock.local_today(now)).days
        when = case.rectify_by.isoformat()
        if days < 0:
            return Due(f"整改已超期 {-days} 天（期限 {when}）", True)
        if days == 0:
            return Due(f"整改今天到期（{when}）", False)
        return Due(f"整改剩余 {days} 天（期限 {when}）", False)
    if case.status is CaseStatus.CLOSED and case.follow_up_by is not None:
        return Due(f"回头看日期 {case.follow_up_by.isoformat()}",
                   case.follow_up_by < clock.local_today(now))
    return None


# ---------------------------------------------------------------- the desk list


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    hint: str


GROUPS = [
    Group("new", "新派单", "签收后开始核查；不属于本部门职责的请退回并说明理由"),
    Group("checking", "核查中", "到现场核查，登记属实或不属实"),
    Group("rectifying", "整改中", "下达整改期限、发布进展、报告整改完成"),
    Group("rectified", "待销案", "已报告整改完成，等待验收销案"),
    Group("follow_up", "回头看", "已销案，到期回访，确认整改是否保持"),
]
GROUP_KEYS = {g.key: g for g in GROUPS}


def _group_query(key: str, department_id: int) -> Select[Any]:
    """Cases of one desk group, most urgent first (earliest limit first, so overdue on top)."""
    mine = and_(Assignment.case_id == Case.id, Assignment.department_id == department_id)
    if key == "follow_up":
        return (select(Case).where(
            Case.status == CaseStatus.CLOSED, Case.outcome == CaseOutcome.RECTIFIED,
            Case.follow_up_by.is_not(None),
            exists().where(mine, Assignment.role == AssignmentRole.LEAD,
                           Assignment.state == AssignmentState.COMPLETED))
            .order_by(Case.follow_up_by, Case.id))
    query = select(Case).join(Assignment, mine)
    if key == "new":
        return (query.where(Assignment.state == AssignmentState.PENDING)
                .order_by(Case.check_by.is_(None), Case.check_by, Assignment.routed_at))
    query = query.where(Assignment.state == AssignmentState.ACCEPTED)
    if key == "checking":
        return (query.where(Case.status.in_(sla.AWAITING_CHECK))
                .order_by(Case.check_by.is_(None), Case.check_by, Case.id))
    if key == "rectifying":
        # No deadline yet is the most pressing: setting it is the department's next step.
        return (query.where(Case.status == CaseStatus.RECTIFYING)
                .order_by(Case.rectify_by.is_not(None), Case.rectify_by, Case.id))
    return query.where(Case.status == CaseStatus.RECTIFIED).order_by(Case.rectified_at, Case.id)


def _count(db: Session, query: Select[Any]) -> int:
    return db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def _role_on(case: Case, department_id: int) -> AssignmentRole | None:
    mine = [a for a in case.assignments
            if a.department_id == department_id and a.state in ACTIVE]
    return mine[0].role if mine else None


@bp.route("/desk")
@require(Permission.CASES_WORK)
def desk():
    db = get_session()
    department_id = current_user.department_id
    if department_id is None:
        abort(404)
    now = utcnow()
    only = request.args.get("group")
    groups = []
    page = pages = 1
    for group in GROUPS:
        if only and only != group.key:
            continue
        query = _group_query(group.key, department_id)
        total = _count(db, query)
        if only:
            pages = max(1, math.ceil(total / PAGE_SIZE))
            arg = request.args.get("page", "1")
            page = min(max(int(arg) if arg.isdigit() else 1, 1), pages)
            query = query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        else:
            query = query.limit(GROUP_PREVIEW)
        rows = db.scalars(query.options(selectinload(Case.assignments))).unique().all()
        groups.append((group, total, [(c, due_of(c, now), _role_on(c, department_id))
                                      for c in rows]))
    return render_template(
        "admin/desk.html", groups=groups, only=only, page=page, pages=pages,
        department=db.get(Department, department_id), preview=GROUP_PREVIEW,
        # Urging notices (督促函) received by the department: filled in by issue 6.
        urging_notices=[],
    )


@bp.route("/closures")
@require(Permission.CASES_CLOSE)
def closures():
    """For moderators and supervisors: cases awaiting closure, extension requests to decide,
    and follow-ups (回头看) coming due."""
    db = get_session()
    now = utcnow()
    awaiting = db.scalars(select(Case).where(Case.status == CaseStatus.RECTIFIED)
                          .order_by(Case.rectified_at, Case.id).limit(100)).all()
    asked = db.scalars(select(Case).where(
        Case.status == CaseStatus.RECTIFYING,
        exists().where(CaseEvent.case_id == Case.id,
                       CaseEvent.kind == CaseEventKind.EXTENSION_REQUESTED))
        .order_by(Case.rectify_by, Case.id).limit(100)).all()
    extensions = [(c, e) for c in asked if (e := workflow.pending_extension(c)) is not None]
    follow_ups = db.scalars(select(Case).where(
        Case.status == CaseStatus.CLOSED, Case.outcome == CaseOutcome.RECTIFIED,
        Case.follow_up_by.is_not(None)).order_by(Case.follow_up_by, Case.id).limit(100)).all()
    return render_template("admin/desk_closures.html", awaiting=awaiting,
                           extensions=extensions, follow_ups=follow_ups,
                           due_of=lambda c: due_of(c, now))


# ---------------------------------------------------------------- one case


def _case(case_id: int) -> Case:
    found = get_session().scalar(select(Case).where(Case.id == case_id,
                                                    case_scope(current_user)))
    if found is None:
        abort(404)
    return found


def _is_officer() -> bool:
    return current_user.role is Role.OFFICER and current_user.department_id is not None


def _my_assignment(case: Case) -> Assignment | None:
    """The current user's department's active assignment on the case (lead preferred)."""
    if not _is_officer():
        return None
    mine = [a for a in workflow.active_assignments(case)
            if a.department_id == current_user.department_id]
    mine.sort(key=lambda a: a.role is not AssignmentRole.LEAD)
    return mine[0] if mine else None


def _last_lead(case: Case) -> Assignment | None:
    leads = [a for a in case.assignments if a.role is AssignmentRole.LEAD]
    return leads[-1] if leads else None


def _available(case: Case) -> dict[str, bool]:
    """Which forms to draw. The domain decides in the end; this only spares people forms
    that cannot succeed."""
    mine = _my_assignment(case)
    accepted = mine is not None and mine.state is AssignmentState.ACCEPTED
    lead = accepted and mine is not None and mine.role is AssignmentRole.LEAD
    status = case.status
    rectifying = status is CaseStatus.RECTIFYING
    closer = can(Permission.CASES_CLOSE)
    last = _last_lead(case)
    follow_up = (status is CaseStatus.CLOSED and case.outcome is CaseOutcome.RECTIFIED
                 and case.follow_up_by is not None and can(Permission.CASES_FOLLOW_UP)
                 and (closer or (_is_officer() and last is not None
                                 and last.department_id == current_user.department_id)))
    return {
        "accept": mine is not None and mine.state is AssignmentState.PENDING,
        "return": mine is not None and mine.state is AssignmentState.PENDING,
        "check": lead and status is CaseStatus.CHECKING,
        "deadline": lead and rectifying and case.rectify_by is None,
        "extension": lead and rectifying and case.rectify_by is not None
        and workflow.pending_extension(case) is None,
        "report": lead and rectifying,
        "progress": accepted and status in (CaseStatus.CHECKING, CaseStatus.RECTIFYING),
        "transfer": mine is not None,
        "closure": closer and status is CaseStatus.RECTIFIED,
        "send_back": closer and status is CaseStatus.RECTIFIED,
        "decide_extension": closer and rectifying and workflow.pending_extension(case) is not None,
        "follow_up": follow_up,
    }


FORMS: dict[str, type[CaseActionForm]] = {
    "accept": CaseActionForm, "return": ReturnForm, "check": CheckForm,
    "deadline": DeadlineForm, "extension": ExtensionForm, "report": ReportForm,
    "progress": ProgressForm, "transfer": TransferForm, "closure": ClosureForm,
    "send_back": SendBackForm, "decide_extension": ExtensionDecisionForm,
    "follow_up": FollowUpForm,
}


def _transfer_choices(form: TransferForm, case: Case) -> None:
    db = get_session()
    busy = {a.department_id for a in workflow.active_assignments(case)}
    form.department.choices = options(
        (d.id, d.name) for d in db.scalars(select(Department).where(Department.active)
                                           .order_by(Department.id))
        if d.id not in busy)


def _tip_photos(case: Case) -> list[Attachment]:
    """Photos of the tips behind the case that the moderators did not withhold."""
    return list(get_session().scalars(
        select(Attachment).join(Tip, Attachment.tip_id == Tip.id)
        .where(Tip.case_id == case.id, Attachment.withheld.is_(False)).order_by(Attachment.id)))


def _render_case(case: Case, *, status: int = 200, failed: str = "", error: str = "",
                 form: CaseActionForm | None = None):
    forms: dict[str, CaseActionForm] = {}
    if form is not None:
        # Having been shown what changed, the officer may send the same form again.
        form.version.data = str(case.version)
    for name, cls in FORMS.items():
        forms[name] = form if form is not None and name == failed else cls(
            formdata=None, version=str(case.version))
    _transfer_choices(forms["transfer"], case)  # type: ignore[arg-type]
    pending = workflow.pending_extension(case)
    return render_template(
        "admin/desk_case.html", case=case, forms=forms, show=_available(case),
        failed=failed, error_text=error, due=due_of(case, utcnow()),
        mine=_my_assignment(case), lead=workflow.current_lead(case),
        pending_extension=pending, tip_photos=_tip_photos(case),
        public_photo_ids={a.id for e in case.events for a in e.attachments if a.public},
    ), status


@bp.route("/desk/cases/<int:case_id>")
@require(Permission.CASES_READ)
def desk_case(case_id: int):
    return _render_case(_case(case_id))


def _what_happened(case: Case) -> str:
    """The latest step on the case, for someone whose page was overtaken."""
    if not case.events:
        return ""
    last = case.events[-1]
    who = last.department.name if last.department else (
        last.actor.display_name or last.actor.username if last.actor else "")
    text = f"最新办理记录：{clock.format_local(last.created_at)} {who}“{last.kind.label}”"
    return text + (f"（{last.internal_text}）" if last.internal_text else "")


def _act(case_id: int, name: str, step: Callable[[Session, Case, Any], str], *,
         check_version: bool = True):
    """Validate the step's form, call the domain once, commit; or show why not."""
    db = get_session()
    case = _case(case_id)
    form = FORMS[name]()
    if name == "transfer":
        _transfer_choices(form, case)  # type: ignore[arg-type]
    if not form.validate():
        return _render_case(case, status=400, failed=name, form=form,
                            error="请按提示填写后再提交")
    if check_version and form.version.data and form.version.data != str(case.version):
        return _render_case(case, status=409, failed=name, form=form,
                            error=f"{CONFLICT_MESSAGE}{_what_happened(case)}")
    try:
        message = step(db, case, form)
    except WorkflowError as exc:
        db.rollback()
        case = _case(case_id)
        error = str(exc)
        if error == CONFLICT_MESSAGE:
            error += _what_happened(case)
        return _render_case(case, status=409 if error.startswith(CONFLICT_MESSAGE) else 400,
                            failed=name, form=form, error=error)
    db.commit()
    flash(message, "success")
    return redirect(url_for("admin.desk_case", case_id=case_id), 303)


class _PhotoError(WorkflowError):
    pass


def _photos(form: Any) -> list[Attachment]:
    """The form's photos through the one upload pipeline; public only when ticked."""
    batch = read_photos(request.files.getlist(form.photos.name))
    if batch.errors:
        raise _PhotoError("；".join(batch.errors))
    attachments = store_photos(get_session(), batch)
    for attachment in attachments:
        attachment.uploaded_by_id = current_user.id
        attachment.public = bool(form.photos_public.data)
    return attachments


def _own_assignment(case: Case) -> Assignment:
    mine = _my_assignment(case)
    if mine is None:
        raise WorkflowError("本部门在此案件上没有待办的派单")
    return mine


# ---------------------------------------------------------------- the steps


@bp.route("/desk/cases/<int:case_id>/accept", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_accept(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        mine = _own_assignment(case)
        workflow.accept_assignment(db, mine, actor=current_user)
        return f"已签收（{mine.role.label}）。"
    # Two officers signing at once: the domain's conditional update names the winner.
    return _act(case_id, "accept", step, check_version=False)


@bp.route("/desk/cases/<int:case_id>/return", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_return(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        workflow.return_assignment(db, _own_assignment(case), actor=current_user,
                                   reason=form.reason.data)
        return "已退回乡消安办，等待重新分派。"
    return _act(case_id, "return", step)


@bp.route("/desk/cases/<int:case_id>/check", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_check(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        confirmed = form.result.data == "confirmed"
        workflow.record_check(db, case, actor=current_user, confirmed=confirmed,
                              findings=form.findings.data, public_text=form.public_text.data,
                              attachments=_photos(form))
        return ("已登记核查属实，请下达整改期限。" if confirmed
                else "已登记核查不属实，案件办结，举报人将收到结果。")
    return _act(case_id, "check", step)


@bp.route("/desk/cases/<int:case_id>/deadline", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_deadline(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        workflow.set_rectification(db, case, actor=current_user, deadline=form.deadline.data,
                                   notice_no=form.notice_no.data or "",
                                   public_text=form.public_text.data or "")
        return f"整改期限已下达：{form.deadline.data.isoformat()}。"
    return _act(case_id, "deadline", step)


@bp.route("/desk/cases/<int:case_id>/progress", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_progress(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        if form.photos_public.data and not (form.public_text.data or "").strip():
            raise WorkflowError("照片要随公开进展一起公布时，请同时填写公开进展")
        workflow.post_progress(db, case, actor=current_user,
                               internal_text=form.internal_text.data or "",
                               public_text=form.public_text.data or "",
                               attachments=_photos(form))
        return "进展已发布。"
    # Progress changes nothing that another officer could have overtaken.
    return _act(case_id, "progress", step, check_version=False)


@bp.route("/desk/cases/<int:case_id>/extension", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_extension(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        workflow.request_extension(db, case, actor=current_user, new_date=form.new_date.data,
                                   reason=form.reason.data)
        return "延期申请已提交，等待审批。"
    return _act(case_id, "extension", step)


@bp.route("/desk/cases/<int:case_id>/report", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_report(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        workflow.report_rectified(db, case, actor=current_user, report=form.report.data,
                                  public_text=form.public_text.data or "",
                                  attachments=_photos(form))
        return "已报告整改完成，等待验收销案。"
    return _act(case_id, "report", step)


@bp.route("/desk/cases/<int:case_id>/transfer", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_transfer(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        target = db.get(Department, form.department.data)
        if target is None:
            raise WorkflowError("请选择接收移交的部门")
        workflow.transfer_assignment(db, _own_assignment(case), actor=current_user,
                                     to_department=target, reason=form.reason.data)
        return f"已移交{target.name}。"
    return _act(case_id, "transfer", step)


@bp.route("/desk/cases/<int:case_id>/close", methods=["POST"])
@require(Permission.CASES_CLOSE)
def desk_close(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        workflow.approve_closure(db, case, actor=current_user, note=form.note.data or "",
                                 public_text=form.public_text.data or "",
                                 follow_up_by=form.follow_up_by.data)
        return "已销案，举报人将收到办理结果。"
    return _act(case_id, "closure", step)


@bp.route("/desk/cases/<int:case_id>/send-back", methods=["POST"])
@require(Permission.CASES_CLOSE)
def desk_send_back(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        workflow.send_back(db, case, actor=current_user, reason=form.reason.data)
        return "已退回继续整改。"
    return _act(case_id, "send_back", step)


@bp.route("/desk/cases/<int:case_id>/extension-decision", methods=["POST"])
@require(Permission.CASES_CLOSE)
def desk_decide_extension(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        approve = form.decision.data == "approve"
        workflow.decide_extension(db, case, actor=current_user, approve=approve,
                                  reason=form.reason.data or "")
        return "已同意延期。" if approve else "已不同意延期。"
    return _act(case_id, "decide_extension", step)


@bp.route("/desk/cases/<int:case_id>/follow-up", methods=["POST"])
@require(Permission.CASES_FOLLOW_UP)
def desk_follow_up(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        still_ok = form.result.data == "still_ok"
        workflow.follow_up(db, case, actor=current_user, still_ok=still_ok,
                           findings=form.findings.data, new_deadline=form.new_deadline.data)
        return "已登记回头看：整改保持。" if still_ok else "已登记回头看：隐患反弹，案件重新整改。"
    return _act(case_id, "follow_up", step)


# ---------------------------------------------------------------- photos


def _case_photo(case: Case, attachment_id: int) -> Attachment | None:
    row = get_session().get(Attachment, attachment_id)
    if row is None:
        return None
    if row.case_event_id is not None:
        event = get_session().get(CaseEvent, row.case_event_id)
        return row if event is not None and event.case_id == case.id else None
    if row.tip_id is not None and not row.withheld:
        tip = get_session().get(Tip, row.tip_id)
        return row if tip is not None and tip.case_id == case.id else None
    return None


@bp.route("/desk/cases/<int:case_id>/photos")
@require(Permission.CASES_READ)
def desk_photos(case_id: int):
    """The case's photos; ``?file=<id>`` (with ``thumb=1`` for the small one) is one image,
    served only if it belongs to this case, which the viewer may see."""
    case = _case(case_id)
    wanted = request.args.get("file", "")
    if not wanted:
        return render_template("admin/desk_photos.html", case=case,
                               tip_photos=_tip_photos(case))
    row = _case_photo(case, int(wanted)) if wanted.isdigit() else None
    if row is None:
        abort(404)
    return send_attachment(row, thumb=bool(request.args.get("thumb")))
