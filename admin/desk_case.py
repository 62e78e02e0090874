"""One case as staff work it (the department desk's case page): every step of the workflow
is one form and one call into ``portal.domain.casework.workflow``.

Views never set a status: they read a form, call the named step, and commit. Which forms the
page draws, and which steps it lists as not possible now with the reason, is the domain's
``actions.case_actions``: the steps' own preconditions. A step the domain refuses
(``WorkflowError``) is shown in Chinese next to its form; a step taken on a page that someone
else has since overtaken is refused with what happened in the meantime.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin import bp
from admin.access import require
from admin.acting import act
from admin.case_forms import (
    ApplicationForm,
    CaseActionForm,
    CheckForm,
    ClosureForm,
    DeadlineForm,
    ElementsForm,
    ExtensionDecisionForm,
    ExtensionForm,
    FollowUpForm,
    JudgeForm,
    ProgressForm,
    ReportForm,
    ReturnForm,
    SendBackForm,
    TransferForm,
    UnfoundedReviewForm,
)
from admin.forms import options
from portal.db import get_session
from portal.domain import clock
from portal.domain.access.permissions import Permission, case_scope
from portal.domain.casework import (
    documents,
    judgement,
    leads,
    limits,
    major,
    routing,
    workflow,
)
from portal.domain.casework.actions import STEPS, case_actions
from portal.domain.casework.events import CONFLICT_MESSAGE
from portal.domain.casework.workflow import WorkflowError
from portal.domain.clock import utcnow
from portal.domain.models import Attachment, Case, CaseEvent, Department
from portal.domain.reporting import evidence
from portal.web.files import send_attachment
from portal.web.photos import read_photos, store_photos

# ---------------------------------------------------------------- one case


def _case(case_id: int) -> Case:
    found = get_session().scalar(select(Case).where(Case.id == case_id,
                                                    case_scope(current_user)))
    if found is None:
        abort(404)
    return found


# One form per step of ``actions.STEPS`` drawn on this page, by the same names.
FORMS: dict[str, type[CaseActionForm]] = {
    "accept": CaseActionForm, "return": ReturnForm, "check": CheckForm,
    "deadline": DeadlineForm, "extension": ExtensionForm, "report": ReportForm,
    "progress": ProgressForm, "transfer": TransferForm, "closure": ClosureForm,
    "send_back": SendBackForm, "decide_extension": ExtensionDecisionForm,
    "follow_up": FollowUpForm, "review_unfounded": UnfoundedReviewForm,
    "application": ApplicationForm, "elements": ElementsForm, "judge": JudgeForm,
}


def _element_choices(form: ElementsForm, case: Case) -> judgement.Edition:
    """The elements and exclusions of the edition in force on the day of the check."""
    edition = judgement.edition_for(clock.local_today(case.checked_at))
    form.premises_kind.choices = options((k.id, k.label) for k in edition.premises_kinds)
    form.found.choices = [(e.id, f"{e.id} {e.text}" + ("（直接判定要素）"
                                                       if edition.is_direct(e) else ""))
                          for e in (*edition.direct, *edition.composite)]
    form.exclusions.choices = [(x.id, f"{x.id} {x.text}") for x in edition.exclusions]
    return edition


def _transfer_choices(form: TransferForm, case: Case) -> None:
    db = get_session()
    busy = {a.department_id for a in workflow.active_assignments(case)}
    form.department.choices = options(
        (d.id, d.name) for d in routing.serving_departments(db, case) if d.id not in busy)


def _render_case(case: Case, *, status: int = 200, failed: str = "", error: str = "",
                 form: CaseActionForm | None = None):
    forms: dict[str, CaseActionForm] = {}
    if form is not None:
        # Having been shown what changed, the officer may send the same form again.
        form.version.data = str(case.version)
    for name, cls in FORMS.items():
        forms[name] = form if form is not None and name == failed else cls(
            formdata=None, version=str(case.version))
    _transfer_choices(forms["transfer"], case)
    edition = _element_choices(forms["elements"], case)
    every = case_actions(case, current_user)
    actions = {n: a for n, a in every.items() if a.page == "desk"}
    # Refusals are listed only for steps this user's role takes at all, and not twice for
    # the step whose form failed (its error is shown with the form).
    withheld = [a for a in actions.values()
                if not a.allowed and a.in_role and a.name != failed]
    return render_template(
        "admin/desk_case.html", case=case, forms=forms, actions=actions, withheld=withheld,
        may_route=every["route"].allowed, may_list=every["list"].allowed,
        labels={s.name: s.label for s in STEPS},
        failed=failed, error_text=error, due=limits.due_of(case, utcnow()),
        clocks=limits.clocks_of(get_session(), case, utcnow()),
        edition=edition, recorded=major.recorded(case), decision=major.decision_of(case),
        decision_notice=judgement.DECISION_NOTICE,
        document_choices=documents.choices(case, current_user),
        unfounded_reason=(workflow.unfounded_reason(case)
                          if case.status.value == "unfounded" else ""),
        mine=workflow.own_assignment(case, current_user), lead=leads.active_lead(case),
        pending_extension=workflow.pending_extension(case),
        tip_photos=evidence.tip_photos(get_session(), case),
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
         check_version: bool = True, then: str | None = None):
    """Validate the step's form, call the domain once, commit; or show why not."""
    db = get_session()
    case = _case(case_id)
    form = FORMS[name]()
    if name == "transfer":
        _transfer_choices(form, case)
    if name == "elements":
        _element_choices(form, case)
    if not form.validate():
        return _render_case(case, status=400, failed=name, form=form,
                            error="请按提示填写后再提交")
    if check_version and form.version.data and form.version.data != str(case.version):
        return _render_case(case, status=409, failed=name, form=form,
                            error=f"{CONFLICT_MESSAGE}{_what_happened(case)}")

    def refused(error: str, status: int) -> Any:
        fresh = _case(case_id)
        if error == CONFLICT_MESSAGE:
            error += _what_happened(fresh)
        return _render_case(fresh, status=status, failed=name, form=form, error=error)

    return act(lambda: step(db, case, form), done=lambda message: message,
               then=then or url_for("admin.desk_case", case_id=case_id), refused=refused)


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


# ---------------------------------------------------------------- the steps


@bp.route("/desk/cases/<int:case_id>/accept", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_accept(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        mine = workflow.check_accept(case, current_user)
        workflow.accept_assignment(db, mine, actor=current_user)
        return f"已签收（{mine.role.label}）。"
    # Two officers signing at once: the domain's conditional update names the winner.
    return _act(case_id, "accept", step, check_version=False)


@bp.route("/desk/cases/<int:case_id>/return", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_return(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        workflow.return_assignment(db, workflow.check_return(case, current_user),
                                   actor=current_user, reason=form.reason.data)
        return f"已退回乡消安办，等待重新分派（退回理由：{form.reason.data.strip()}）。"
    # A department that returned a case no longer holds it (``case_scope``): back to the desk.
    return _act(case_id, "return", step, then=url_for("admin.desk"))


@bp.route("/desk/cases/<int:case_id>/check", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_check(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        confirmed = form.result.data == "confirmed"
        workflow.record_check(db, case, actor=current_user, confirmed=confirmed,
                              findings=form.findings.data, public_text=form.public_text.data,
                              attachments=_photos(form))
        return ("已登记核查属实，请在 3 个工作日内下达《责令限期改正通知书》和整改期限。"
                if confirmed else
                "已登记核查不属实，等待乡消安办审核；审核通过后举报人将收到结果。")
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
        return "已登记复查，报告整改完成，等待验收销案。"
    return _act(case_id, "report", step)


@bp.route("/desk/cases/<int:case_id>/elements", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_elements(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        proposal = major.record_elements(
            db, case, actor=current_user, premises_kind=form.premises_kind.data,
            found=form.found.data or [], exclusions=form.exclusions.data or [],
            suspected=bool(form.suspected.data), note=form.note.data or "")
        if proposal.major or form.suspected.data:
            return ("已登记判定要素：疑似重大火灾隐患，请在 7 个工作日内集体讨论判定并书面报告"
                    "（《消防监督检查规定》第二十一条）。")
        return "已登记判定要素：系统未建议判定为重大火灾隐患。"
    return _act(case_id, "elements", step)


@bp.route("/desk/cases/<int:case_id>/judge", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_judge(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        is_major = form.decision.data == "major"
        major.judge(db, case, actor=current_user, major=is_major,
                    participants=(form.participants.data or "").splitlines(),
                    reason=form.reason.data or "", expert_review=bool(form.expert_review.data))
        return ("已登记集体判定：构成重大火灾隐患，"
                "请在 3 个工作日内送达《重大火灾隐患整改通知书》。"
                if is_major else "已登记集体判定：不构成重大火灾隐患。")
    return _act(case_id, "judge", step)


@bp.route("/desk/cases/<int:case_id>/application", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_application(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        workflow.record_application(db, case, actor=current_user,
                                    applied_on=form.applied_on.data, note=form.note.data or "")
        return "已登记单位的复查申请，复查时限自申请之日起算。"
    return _act(case_id, "application", step)


@bp.route("/desk/cases/<int:case_id>/unfounded-review", methods=["POST"])
@require(Permission.CASES_CLOSE)
def desk_review_unfounded(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        if form.decision.data == "approve":
            workflow.approve_unfounded(db, case, actor=current_user,
                                       reason=form.reason.data or "")
            return "已审核通过，案件办结，举报人将收到结果和理由。"
        workflow.refuse_unfounded(db, case, actor=current_user, reason=form.reason.data or "")
        return "已退回牵头部门重新核查。"
    return _act(case_id, "review_unfounded", step)


@bp.route("/desk/cases/<int:case_id>/transfer", methods=["POST"])
@require(Permission.CASES_WORK)
def desk_transfer(case_id: int):
    def step(db: Session, case: Case, form: Any) -> str:
        target = db.get(Department, form.department.data)
        if target is None:
            raise WorkflowError("请选择接收移交的部门")
        workflow.transfer_assignment(db, workflow.check_transfer(case, current_user),
                                     actor=current_user, to_department=target,
                                     reason=form.reason.data)
        return (f"已移交{target.name}（移交理由：{form.reason.data.strip()}）。"
                "移交后本部门不再查看此案件。")
    # Once handed on, the case is the other department's: back to the desk.
    return _act(case_id, "transfer", step, then=url_for("admin.desk"))


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
    return row if evidence.is_tip_photo(get_session(), case, row) else None


@bp.route("/desk/cases/<int:case_id>/photos")
@require(Permission.CASES_READ)
def desk_photos(case_id: int):
    """The case's photos; ``?file=<id>`` (with ``thumb=1`` for the small one) is one image,
    served only if it belongs to this case, which the viewer may see."""
    case = _case(case_id)
    wanted = request.args.get("file", "")
    if not wanted:
        return render_template("admin/desk_photos.html", case=case,
                               tip_photos=evidence.tip_photos(get_session(), case))
    row = _case_photo(case, int(wanted)) if wanted.isdigit() else None
    if row is None:
        abort(404)
    return send_attachment(row, thumb=bool(request.args.get("thumb")))
