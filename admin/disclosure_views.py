"""The moderators' disclosure screens: which confirmed cases are public, what the public reads
about each (masked summary, chosen photos, previewed first), and withdrawing with a reason.

Moderating tips is the permission that goes with deciding what is disclosed; the domain also
refuses anyone but a moderator.
"""

from __future__ import annotations

import math

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms import SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain.access.permissions import Permission
from portal.domain.casework.events import WorkflowError
from portal.domain.clock import local_today
from portal.domain.disclosure import publication
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.models import Attachment, Case, Unit
from portal.web.files import send_attachment

PAGE_SIZE = 30
TABS = {"pending": "待公开（已核查属实）", "disclosed": "已公开"}


class DisclosureForm(FlaskForm):
    summary = TextAreaField(
        "公示内容（具体问题）",
        validators=[DataRequired("请填写公示内容"), Length(max=publication.SUMMARY_MAX)],
    )
    photos = SelectMultipleField("公开的照片", coerce=int, option_widget=CheckboxInput(),
                                 widget=ListWidget(prefix_label=False))


class WithdrawForm(FlaskForm):
    reason = TextAreaField("撤回理由（仅工作人员可见）", validators=[
        DataRequired("请填写撤回理由"), Length(max=publication.REASON_MAX)])


def _case(case_id: int, *, confirmed: bool = True) -> Case:
    case = get_session().get(Case, case_id)
    if case is None or (confirmed and case.confirmed_at is None):
        abort(404)
    return case


@bp.route("/disclosures")
@require(Permission.TIPS_MODERATE)
def disclosures():
    db = get_session()
    tab = request.args.get("show", "pending")
    if tab not in TABS:
        tab = "pending"
    condition = (publication.public_condition() if tab == "disclosed"
                 else Case.confirmed_at.is_not(None) & Case.disclosed.is_(False))
    total = db.scalar(select(func.count()).select_from(Case).where(condition)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page_arg = request.args.get("page", "1")
    page = min(max(int(page_arg) if page_arg.isdigit() else 1, 1), pages)
    order = Case.disclosed_at.desc() if tab == "disclosed" else Case.confirmed_at.desc()
    rows = db.scalars(
        select(Case).where(condition)
        .options(selectinload(Case.unit).selectinload(Unit.village), selectinload(Case.category))
        .order_by(order, Case.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return render_template("admin/disclosures.html", rows=rows, tab=tab, tabs=TABS,
                           total=total, page=page, pages=pages)


def _render(case: Case, form: DisclosureForm, *, preview: publication.PublicCase | None = None,
            withdraw: WithdrawForm | None = None, status: int = 200):
    candidates = publication.candidate_photos(get_session(), case)
    form.photos.choices = [(a.id, f"照片 {a.id}") for a in candidates]
    return render_template(
        "admin/disclosure.html", case=case, form=form, preview=preview,
        withdraw=withdraw or WithdrawForm(), photos=candidates, stages=publication.STAGES,
        photo_ids={a.stored_name: a.id for a in candidates},
    ), status


@bp.route("/disclosures/<int:case_id>")
@require(Permission.TIPS_MODERATE)
def disclosure_edit(case_id: int):
    case = _case(case_id, confirmed=False)
    if case.confirmed_at is None:
        # Reached from a case page before the department's check: say why nothing can be done.
        return render_template("admin/disclosure.html", case=case, unconfirmed=True)
    form = DisclosureForm(data={
        "summary": case.public_summary,
        "photos": [a.id for a in publication.candidate_photos(get_session(), case) if a.public],
    })
    return _render(case, form)


@bp.route("/disclosures/<int:case_id>", methods=["POST"])
@require(Permission.TIPS_MODERATE)
def disclosure_save(case_id: int):
    """One form, three buttons: preview (nothing changes), publish, save changes."""
    db = get_session()
    case = _case(case_id)
    form = DisclosureForm()
    form.photos.choices = [(a.id, "") for a in publication.candidate_photos(db, case)]
    if not form.validate():
        return _render(case, form, status=400)
    action = request.form.get("action", "preview")
    shown = publication.preview(db, case, local_today(), summary=form.summary.data,
                               photo_ids=form.photos.data)
    if action == "preview":
        return _render(case, form, preview=shown)
    try:
        if action == "publish":
            publication.set_public_photos(db, case, form.photos.data, actor=current_user)
            publication.disclose_case(db, case, actor=current_user,
                                      public_summary=form.summary.data)
            message = "已公开。公众现在可以在隐患公示页面看到这项隐患。"
        elif action == "save" and case.disclosed:
            if mask_personal_data(form.summary.data.strip()) != case.public_summary:
                publication.edit_public_summary(db, case, form.summary.data, actor=current_user)
            publication.set_public_photos(db, case, form.photos.data, actor=current_user)
            message = "公示内容已更新。"
        else:
            abort(400)
    except WorkflowError as exc:  # DisclosureError, or a lost race on the case
        db.rollback()
        flash(str(exc), "error")
        return _render(_case(case_id), form, preview=shown, status=400)
    db.commit()
    flash(message, "success")
    return redirect(url_for("admin.disclosure_edit", case_id=case.id))


@bp.route("/disclosures/<int:case_id>/withdraw", methods=["POST"])
@require(Permission.TIPS_MODERATE)
def disclosure_withdraw(case_id: int):
    db = get_session()
    case = _case(case_id)
    form = WithdrawForm()
    if form.validate():
        try:
            publication.withdraw_disclosure(db, case, actor=current_user, reason=form.reason.data)
        except WorkflowError as exc:  # DisclosureError, or a lost race on the case
            flash(str(exc), "error")
        else:
            db.commit()
            flash("已撤回公开，该隐患已从公示页面、订阅和下载数据中移除。", "success")
            return redirect(url_for("admin.disclosure_edit", case_id=case.id))
    edit = DisclosureForm(data={"summary": case.public_summary})
    return _render(case, edit, withdraw=form, status=400)


@bp.route("/disclosures/photos/<int:attachment_id>")
@require(Permission.TIPS_MODERATE)
def disclosure_photo(attachment_id: int):
    """A tip's or a timeline's photo, for the moderator choosing what to publish (moderators
    see every tip photo anyway, withheld ones included)."""
    found = get_session().get(Attachment, attachment_id)
    if found is None or (found.tip_id is None and found.case_event_id is None):
        abort(404)
    return send_attachment(found, thumb=bool(request.args.get("thumb")))
