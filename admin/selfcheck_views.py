"""Units' self-checks in the back office (单位自查, issue 22): issue a unit's code for a new
cycle and print its notice (the clear code exists only on the page the issue answers with),
revoke a code, read a unit's self-checks, record reported problems fixed, and the list of
self-checks with problems and their fix-by dates. Staff see only their townships' units.
"""

from __future__ import annotations

from typing import Any

import segno
from flask import abort, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from admin import bp
from admin.access import require
from admin.acting import REFUSALS, act, flash_back
from admin.inspection_hub import link
from portal.db import get_session
from portal.domain.access.permissions import Permission, townships_of
from portal.domain.clock import local_today
from portal.domain.inspection import register, selfcheck
from portal.domain.models import Unit
from portal.domain.models.inspections import SelfCheck, SelfCheckCode
from portal.identity import receipt_key

REFUSED = (*REFUSALS, selfcheck.SelfCheckError)

link("admin.selfchecks", "单位自查与承诺", Permission.SELFCHECK_MANAGE, "单位自查",
     "自查发现的问题和整改期限；在底数的单位页发放自查码")


class IssueForm(FlaskForm):
    days = IntegerField("有效天数", validators=[
        InputRequired("请填写有效天数"),
        NumberRange(1, 3 * selfcheck.commitment().code_days,
                    f"有效天数应为 1 至 {3 * selfcheck.commitment().code_days} 天")])


class StepForm(FlaskForm):
    """A button's form: the CSRF token only."""


def _unit(unit_id: int) -> Unit:
    found = register.unit_in_scope(get_session(), current_user, unit_id)
    if found is None:
        abort(404)
    return found


def _code(code_id: int) -> SelfCheckCode:
    found = selfcheck.code_in_scope(get_session(), current_user, code_id)
    if found is None:
        abort(404)
    return found


def _unit_page(unit: Unit, form: IssueForm | None = None, error: str = "",
               status: int = 200) -> Any:
    db = get_session()
    if form is None:
        form = IssueForm(formdata=None, days=selfcheck.commitment().code_days)
    return render_template(
        "admin/selfcheck_unit.html", unit=unit, form=form, error=error,
        codes=selfcheck.codes_of(db, unit), checks=selfcheck.checks_of(db, unit),
        checklist=selfcheck.checklist_of(unit), step=StepForm(),
        status_of=selfcheck.code_status, state_of=selfcheck.check_state,
        lines_of=selfcheck.answer_lines, today=local_today()), status


@bp.route("/register/<int:unit_id>/selfcheck")
@require(Permission.SELFCHECK_MANAGE)
def selfcheck_unit(unit_id: int):
    """A unit's codes by cycle (never the code itself) and its self-checks."""
    return _unit_page(_unit(unit_id))


@bp.route("/register/<int:unit_id>/selfcheck", methods=["POST"])
@require(Permission.SELFCHECK_MANAGE)
def selfcheck_issue(unit_id: int):
    """Issue a new cycle's code and answer with its printable notice (A4, with a QR code):
    the only time the code is shown."""
    unit = _unit(unit_id)
    form = IssueForm()
    if not form.validate():
        return _unit_page(unit, form, "请按提示填写后再提交", 400)
    db = get_session()
    try:
        issued = selfcheck.issue_code(db, unit, actor=current_user, key=receipt_key(),
                                      days=form.days.data)
    except selfcheck.SelfCheckError as exc:
        db.rollback()
        return _unit_page(_unit(unit_id), form, str(exc), 400)
    db.commit()
    online = url_for("public.self_check_code", code=issued.code,
                     township=unit.village.township.code, _external=True)
    svg = segno.make(online, error="m").svg_inline(scale=4, border=2, omitsize=False)
    qr_svg = Markup(svg)  # noqa: S704  # nosec B704 - segno's SVG of our own URL
    entry = url_for("public.self_check", township=unit.village.township.code, _external=True)
    return render_template(
        "admin/selfcheck_notice.html", unit=unit, row=issued.row,
        code=selfcheck.group_code(issued.code), online=online, entry=entry, qr_svg=qr_svg,
        checklist=selfcheck.checklist_of(unit), commitment=selfcheck.commitment(),
        today=local_today())


@bp.route("/selfcheck/codes/<int:code_id>/revoke", methods=["POST"])
@require(Permission.SELFCHECK_MANAGE)
def selfcheck_revoke(code_id: int):
    row = _code(code_id)
    back = url_for("admin.selfcheck_unit", unit_id=row.unit_id)
    if not StepForm().validate():
        return flash_back("页面已过期，请重试", back)
    return act(lambda: selfcheck.revoke(get_session(), row, actor=current_user),
               done=f"第 {row.cycle} 期自查码已撤销，不能再使用。", then=back,
               refused=lambda message, status: flash_back(message, back),
               refusals=REFUSED)


@bp.route("/selfcheck/codes/<int:code_id>/fixed", methods=["POST"])
@require(Permission.SELFCHECK_MANAGE)
def selfcheck_fixed(code_id: int):
    """Record that the unit fixed the problems its self-check (the code's) reported."""
    row = _code(code_id)
    back = url_for("admin.selfcheck_unit", unit_id=row.unit_id)
    check = get_session().scalar(select(SelfCheck).where(SelfCheck.code_id == row.id))
    if check is None:
        return flash_back("该自查码尚未提交自查", back)
    if not StepForm().validate():
        return flash_back("页面已过期，请重试", back)
    return act(lambda: selfcheck.mark_fixed(get_session(), check, actor=current_user),
               done="已登记整改完成，逾期不再转为工单。", then=back,
               refused=lambda message, status: flash_back(message, back),
               refusals=REFUSED)


@bp.route("/selfchecks")
@require(Permission.SELFCHECK_MANAGE)
def selfchecks():
    """The self-checks with problems in the user's townships, still open first."""
    return render_template(
        "admin/selfchecks.html",
        checks=selfcheck.with_problems(get_session(), townships_of(current_user)),
        state_of=selfcheck.check_state, today=local_today())
