"""Urging notices (督促函): drafted from a department's overdue cases, numbered, printable;
officers read the ones addressed to their department in their inbox, sign for them (签收) and
answer them (回复), and the supervisor sees both on the notice and in the list."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectMultipleField, TextAreaField
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget

from admin import bp
from admin.access import require
from admin.acting import act
from admin.forms import options
from admin.ledger import ledger_scope
from portal.db import get_session
from portal.domain.access.permissions import Permission, townships_of
from portal.domain.administration import settings as portal_settings
from portal.domain.administration import townships
from portal.domain.clock import utcnow
from portal.domain.models import Department, UrgingNotice
from portal.domain.supervision import ledger, urging


class AcknowledgeForm(FlaskForm):
    pass


class AnswerForm(FlaskForm):
    answer = TextAreaField("回复（办理情况）", validators=[Length(max=urging.ANSWER_MAX)])


class UrgingForm(FlaskForm):
    cases = SelectMultipleField("超期工单", coerce=int, option_widget=CheckboxInput(),
                                widget=ListWidget(prefix_label=False))
    text = TextAreaField("正文", validators=[Length(max=20000)])


def _tz() -> str:
    return current_app.config["TIMEZONE"]


@bp.route("/urging")
@require(Permission.SUPERVISION_VIEW)
def urging_list():
    notices = urging.notices_page(get_session(), page=request.args.get("page"),
                                  townships=townships_of(current_user))
    return render_template("admin/urging_list.html", notices=notices,
                           departments=_late_departments(), number=urging.notice_number)


def _late(**narrowing: Any) -> ledger.LedgerFilter:
    """The overdue cases the user may urge about."""
    return ledger_scope(ledger.LedgerFilter(overdue=ledger.Overdue.ANY, **narrowing))


def _department(raw: str) -> Department | None:
    """The posted department, if it serves the user's township; one that does not answers
    404, as if it did not exist."""
    department = get_session().get(Department, int(raw)) if raw.isdigit() else None
    scope = townships_of(current_user)
    if department is not None and scope is not None and not any(
            townships.serves(department, t) for t in scope):
        abort(404)
    return department


def _late_departments() -> list[tuple[Department, int]]:
    """Departments leading overdue cases of the user's township (county staff: any), with
    how many."""
    db = get_session()
    late = ledger.counts_by(db, _late(), "department", utcnow(), _tz())
    return [(d, late[d.id]) for d in db.scalars(
        select(Department).where(Department.id.in_(list(late))).order_by(Department.name))]


@bp.route("/urging/new", methods=["GET", "POST"])
@require(Permission.URGING_ISSUE)
def urging_new():
    db = get_session()
    department = _department(request.values.get("department", ""))
    if department is None:
        status = 400 if request.method == "POST" else 200
        return render_template("admin/urging_new.html", department=None,
                               departments=_late_departments(),
                               error="请先选择部门。" if status == 400 else None), status
    now = utcnow()
    township_id = _late().township_id
    overdue = urging.overdue_cases(db, department.id, now, _tz(), township_id=township_id)
    form = UrgingForm()
    form.cases.choices = options((c.id, f"工单 {c.id}：{c.unit.name}（{c.status.label}）")
                                 for c in overdue)

    def page(error: str | None = None, status: int = 200) -> Any:
        total = ledger.count(db, _late(department_id=department.id), now, _tz())
        return render_template("admin/urging_new.html", form=form, department=department,
                               error=error, has_cases=bool(overdue), total=total,
                               shown=len(overdue)), status

    if request.method == "GET":
        form.cases.data = [c.id for c in overdue]
        form.text.data = urging.draft_text(department, overdue,
                                           urging.office_name(db, current_user.township))
        return page()
    if not form.validate():
        return page("请按提示填写后再提交", 400)
    chosen = [c for c in overdue if c.id in (form.cases.data or [])]
    return act(
        lambda: urging.issue_notice(db, department, chosen, actor=current_user,
                                    text=form.text.data or "", now=now, tz=_tz()),
        done=lambda notice: f"已发出{urging.notice_number(notice)}。",
        then=lambda notice: url_for("admin.urging_notice", notice_id=notice.id),
        refused=page)


@bp.route("/urging/<int:notice_id>")
@require(Permission.SUPERVISION_VIEW)
def urging_notice(notice_id: int):
    db = get_session()
    notice = db.get(UrgingNotice, notice_id)
    if notice is None or not urging.issued_by_office(notice, townships_of(current_user)):
        abort(404)
    return render_template("admin/urging.html", notice=notice,
                           number=urging.notice_number(notice),
                           j=portal_settings.jurisdiction(db),
                           office=urging.office_name(db, notice.township),
                           reply_days=urging.REPLY_WORKING_DAYS)


def _own_notice(notice_id: int) -> UrgingNotice:
    """A notice addressed to the officer's department; any other answers 404."""
    notice = get_session().get(UrgingNotice, notice_id)
    if notice is None or notice.department_id != current_user.department_id:
        abort(404)
    return notice


def _inbox(error: str = "", failed: int | None = None, answer: AnswerForm | None = None,
           status: int = 200) -> Any:
    db = get_session()
    department_id = current_user.department_id
    notices = urging.notices_for_department(db, department_id) if department_id else []
    return render_template(
        "admin/urging_inbox.html",
        notices=[(n, urging.notice_actions(n, current_user)) for n in notices],
        number=urging.notice_number, acknowledge=AcknowledgeForm(),
        answer=answer, blank=AnswerForm(formdata=None), error=error, failed=failed), status


@bp.route("/urging/inbox")
@require(Permission.URGING_INBOX)
def urging_inbox():
    """The notices addressed to the officer's own department, each to sign for and answer."""
    return _inbox()


@bp.route("/urging/<int:notice_id>/acknowledge", methods=["POST"])
@require(Permission.URGING_INBOX)
def urging_acknowledge(notice_id: int):
    notice = _own_notice(notice_id)
    return act(lambda: urging.acknowledge_notice(get_session(), notice, actor=current_user),
               done=f"已签收{urging.notice_number(notice)}。",
               then=url_for("admin.urging_inbox") + f"#notice-{notice_id}",
               refused=lambda error, status: _inbox(error, notice_id, status=status))


@bp.route("/urging/<int:notice_id>/answer", methods=["POST"])
@require(Permission.URGING_INBOX)
def urging_answer(notice_id: int):
    notice = _own_notice(notice_id)
    form = AnswerForm()
    if not form.validate():
        return _inbox(f"回复内容不能超过 {urging.ANSWER_MAX} 个字", notice_id, form, 400)
    return act(lambda: urging.answer_notice(get_session(), notice, form.answer.data or "",
                                            actor=current_user),
               done=f"已回复{urging.notice_number(notice)}。",
               then=url_for("admin.urging_inbox") + f"#notice-{notice_id}",
               refused=lambda error, status: _inbox(error, notice_id, form, status))
