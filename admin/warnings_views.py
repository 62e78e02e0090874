"""Risk warnings (风险预警提示): draft, publish (public site and SMS to the units in scope),
withdraw. The rules live in ``portal.domain.inspection.warnings``."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from admin import bp
from admin.access import client_ip, require
from admin.acting import REFUSALS, act, flash_back
from admin.forms import ActionForm, options
from admin.inspection_hub import link
from portal.db import get_session
from portal.domain.access.permissions import Permission, townships_of
from portal.domain.administration import townships
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.inspection import warnings
from portal.domain.models import RiskWarning, VenueType
from portal.identity import cipher

link("admin.warnings", "风险预警提示", Permission.WARNINGS_MANAGE, "预警与历史台账",
     "节假日、火灾高发季节或火灾事故后的预警：公示并短信提醒场所负责人")

REFUSED = (*REFUSALS, warnings.WarningError)
DATE_MESSAGE = "请按 年-月-日 填写日期"
FORM_MESSAGE = "提交的内容无效或页面已过期，请检查后重新提交"


class WarningForm(FlaskForm):
    # The choices are checked by the domain (``warnings.create_warning``), which says why.
    kind = SelectField("预警类型", choices=options(
        (key, kind.label) for key, kind in warnings.KINDS.items()), validate_choice=False)
    title = StringField("标题", validators=[Length(max=warnings.TITLE_MAX)])
    text = TextAreaField("预警内容（公开；短信只发送类型与期间）",
                         validators=[Length(max=warnings.TEXT_MAX)])
    township = SelectField("乡镇", coerce=str, default="", validate_choice=False)
    villages = SelectMultipleField("范围内的村（不选：全乡镇）", coerce=int,
                                   validate_choice=False)
    venue_types = SelectMultipleField("范围内的场所类型（不选：全部）", coerce=int,
                                      validate_choice=False)
    starts_on = DateField("开始日期", validators=[Optional()])
    ends_on = DateField("结束日期", validators=[Optional()])


def _choices(form: WarningForm) -> None:
    db = get_session()
    seen = townships_of(current_user)
    county = [("", "全县")] if seen is None else []
    form.township.choices = options(county + [
        (str(t.id), t.name) for t in townships.active(db) if seen is None or t.id in seen])
    if seen is not None and not form.township.data:
        form.township.data = form.township.choices[0].value
    form.villages.choices = options(townships.village_choices(db, seen))
    form.venue_types.choices = options((v.id, v.name) for v in db.scalars(
        select(VenueType).where(VenueType.active.is_(True)).order_by(VenueType.sort_order)))


def _warning(warning_id: int) -> RiskWarning:
    found = warnings.shown(get_session(), current_user, warning_id)
    if found is None:
        abort(404)
    return found


@bp.route("/warnings", endpoint="warnings")
@require(Permission.WARNINGS_MANAGE)
def warnings_list():
    rows = warnings.listed(get_session(), current_user)
    return render_template("admin/warnings.html", warnings=rows, kind_label=warnings.kind_label)


@bp.route("/warnings/new", methods=["GET", "POST"])
@require(Permission.WARNINGS_MANAGE)
def warning_new():
    form = WarningForm()
    _choices(form)

    def page(error: str | None = None, status: int = 200) -> Any:
        return render_template("admin/warning_new.html", form=form, error=error), status

    if not form.is_submitted():
        return page()
    if not form.validate():
        dates_wrong = form.starts_on.errors or form.ends_on.errors
        return page(DATE_MESSAGE if dates_wrong else FORM_MESSAGE, 400)
    data = warnings.WarningInput(
        kind=form.kind.data, title=form.title.data or "", text=form.text.data or "",
        starts_on=form.starts_on.data, ends_on=form.ends_on.data,
        township_id=int(form.township.data) if form.township.data.isdigit() else None,
        village_ids=list(form.villages.data or []),
        venue_type_ids=list(form.venue_types.data or []))
    return act(lambda: warnings.create_warning(get_session(), data, actor=current_user,
                                               ip=client_ip()),
               done="已保存草稿。请核对范围内的单位后发布。",
               then=lambda w: url_for("admin.warning_page", warning_id=w.id),
               refused=lambda message, status: page(message, status), refusals=REFUSED)


@bp.route("/warnings/<int:warning_id>")
@require(Permission.WARNINGS_MANAGE)
def warning_page(warning_id: int):
    db = get_session()
    warning = _warning(warning_id)
    units = warnings.units_in_scope(db, warning)
    return render_template(
        "admin/warning.html", warning=warning, kind_label=warnings.kind_label,
        units_count=len(units), sms_params=warnings.sms_params(warning),
        masked_text=mask_personal_data(warning.text),
        manageable=warnings.may_manage(current_user, warning), action=ActionForm())


def _step(warning_id: int, step: Any, done: Any) -> Any:
    warning = _warning(warning_id)
    back = url_for("admin.warning_page", warning_id=warning.id)
    if not ActionForm().validate_on_submit():
        return flash_back("页面已过期，请重试", back)
    return act(lambda: step(warning), done=done, then=back, refusals=REFUSED,
               refused=lambda message, _: flash_back(message, back))


@bp.route("/warnings/<int:warning_id>/publish", methods=["POST"])
@require(Permission.WARNINGS_MANAGE)
def warning_publish(warning_id: int):
    return _step(warning_id,
                 lambda w: warnings.publish(get_session(), w, actor=current_user,
                                            cipher=cipher(), ip=client_ip()),
                 lambda sent: f"已发布，并向 {sent} 个手机号码发送短信提醒（进入发送队列）。")


@bp.route("/warnings/<int:warning_id>/withdraw", methods=["POST"])
@require(Permission.WARNINGS_MANAGE)
def warning_withdraw(warning_id: int):
    return _step(warning_id,
                 lambda w: warnings.withdraw(get_session(), w, actor=current_user,
                                             ip=client_ip()),
                 "已撤回，公众页面不再显示。")
