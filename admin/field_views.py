"""Filing a hazard from the field (现场上报): a phone-first form for grid inspectors and
officers, and the filer's own filings. The filing goes through the one intake
(``portal.domain.inspection.field``) into the moderation queue."""

from __future__ import annotations

import secrets
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from admin import bp
from admin.access import client_ip, require
from admin.forms import options
from admin.inspection_hub import link
from admin.tips import vocabulary_choices
from portal.db import get_session
from portal.domain.access.permissions import Permission, has_permission
from portal.domain.enums import TipStatus
from portal.domain.inspection import field
from portal.domain.models import Attachment
from portal.domain.reporting import intake
from portal.domain.vetting import moderation
from portal.identity import cipher, receipt_key
from portal.web.photos import PhotoStoreError, discard_files, read_photos, store_photos

FORM_MESSAGE = "提交的内容无效或页面已过期，请检查后重新提交"

link("admin.field_report", "现场上报隐患", Permission.FIELD_FILE, "我的工作",
     "在现场用手机上报隐患，进入待审核列表")
link("admin.field_filings", "我的上报", Permission.FIELD_FILE, "我的工作",
     "本人现场上报的隐患及其审核状态")


class FieldForm(FlaskForm):
    # The choices are checked by the domain (``field.check``), which says why in Chinese.
    unit = SelectField("场所（从场所底数中选择）", coerce=int, default=0, validate_choice=False)
    unit_name = StringField("新场所名称（底数中没有时填写）",
                            validators=[Optional(), Length(max=intake.UNIT_NAME_MAX)])
    village = SelectField("所在村", coerce=int, validate_choice=False)
    category = SelectField("隐患类别", coerce=int, validate_choice=False)
    venue_type = SelectField("场所类型", coerce=int, validate_choice=False)
    address = StringField("地址或附近标志物",
                          validators=[Optional(), Length(max=intake.ADDRESS_MAX)])
    description = TextAreaField("隐患情况",
                                validators=[Optional(), Length(max=intake.DESCRIPTION_MAX)])
    photos = MultipleFileField("现场照片")
    lat = HiddenField()
    lon = HiddenField()
    submission_key = HiddenField()


def _coordinate(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None  # a garbled position is no position: the filing does not need one


def _choices(form: FieldForm, search: str) -> None:
    vocabulary_choices(form, blank_venue="（未确定）")
    units = field.register_units(get_session(), current_user, search)
    form.unit.choices = options([(0, "（新场所，或底数中没有：请在下方填写名称）")] + [
        (u.id, field.unit_label(u, current_user)) for u in units])


def _filing(form: FieldForm) -> field.Filing:
    return field.Filing(
        village_id=form.village.data, category_id=form.category.data,
        description=form.description.data or "", unit_id=form.unit.data or None,
        unit_name=form.unit_name.data or "", venue_type_id=form.venue_type.data or None,
        address=form.address.data or "", lat=_coordinate(form.lat.data),
        lon=_coordinate(form.lon.data), submission_key=form.submission_key.data or None)


@bp.route("/field", methods=["GET", "POST"])
@require(Permission.FIELD_FILE)
def field_report():
    search = (request.values.get("q") or "").strip()[:50]
    form = FieldForm()
    _choices(form, search)
    if not form.submission_key.data:
        form.submission_key.data = secrets.token_urlsafe(24)

    def page(errors: dict[str, str], status: int = 200) -> Any:
        for name, message in errors.items():
            if name in form and name != "submission_key":
                form[name].errors = [message]
        return render_template("admin/field_report.html", form=form, search=search,
                               more=len(form.unit.choices) > field.REGISTER_SHOWN,
                               error="；".join(errors.values()) or None), status

    if request.method != "POST":
        return page({})
    if not form.validate_on_submit():
        return page({"form": FORM_MESSAGE}, 400)
    db = get_session()
    # Decode the photos before the first write (as the public form does).
    batch = read_photos(request.files.getlist(form.photos.name))
    if batch.errors:
        return page({"photos": "；".join(batch.errors)}, 400)
    try:
        checked = field.check(db, _filing(form), filer=current_user)
    except intake.IntakeError as exc:
        db.rollback()
        return page(exc.errors, 400)
    stored: list[Attachment] = []
    try:
        stored = store_photos(db, batch)
        tip = field.file_hazard(db, checked, photos=stored, cipher=cipher(),
                                receipt_key=receipt_key(), ip=client_ip())
        lead = moderation.own_desk_lead(db, tip, current_user)
        # The department that must act found it itself: straight to its desk.
        own = (moderation.accept_own_filing(db, tip, actor=current_user, ip=client_ip())
               if lead is not None and tip.status is TipStatus.PENDING
               and has_permission(current_user.role, Permission.CASES_WORK) else None)
        db.commit()
    except PhotoStoreError as exc:
        db.rollback()
        return page({"photos": exc.message}, 503)
    except intake.IntakeError as exc:
        db.rollback()
        discard_files(stored)
        return page(exc.errors, 400)
    except moderation.ModerationError as exc:
        db.rollback()
        discard_files(stored)
        return page({"form": str(exc)}, 409)
    if own is not None and lead is not None:
        flash(f"已上报并按分派规则直接转入{lead.name}办理（工单 #{own.id}），请在工作台签收。",
              "success")
        return redirect(url_for("admin.desk"), 303)
    message = f"已上报，编号 #{tip.id}，已进入待审核列表。"
    if lead is not None:
        message += f"按分派规则，此隐患由{lead.name}牵头，审核受理后将派至本部门。"
    flash(message, "success")
    return redirect(url_for("admin.field_filings"), 303)


@bp.route("/field/filings")
@require(Permission.FIELD_FILE)
def field_filings():
    rows = field.filings(get_session(), current_user)
    return render_template("admin/field_filings.html", tips=rows)
