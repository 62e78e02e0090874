"""Listing major hazards for supervision (挂牌督办): list, interviews, letter, delist."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload
from wtforms import DateField, DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from admin import bp
from admin.access import require
from admin.forms import options
from portal.db import get_session
from portal.domain.access.permissions import Permission
from portal.domain.casework.events import WorkflowError
from portal.domain.enums import CaseStatus, Severity, SupervisionLevel
from portal.domain.models import Attachment, Case, Listing
from portal.domain.reporting.uploads import UploadError
from portal.domain.supervision import listings as listing_steps
from portal.identity import upload_limits
from portal.web.files import send_attachment, storage

REQUIRED = "此项必填"


class ListingForm(FlaskForm):
    level = SelectField("督办级别", choices=options(
        (lv.value, lv.label) for lv in SupervisionLevel if lv is not SupervisionLevel.NONE))
    deadline = DateField("整改期限", validators=[DataRequired(REQUIRED)])
    responsible_leader = StringField("整改责任领导", validators=[DataRequired(REQUIRED),
                                                            Length(max=100)])


class InterviewForm(FlaskForm):
    held_at = DateTimeLocalField("约谈时间", format="%Y-%m-%dT%H:%M",
                                 validators=[DataRequired(REQUIRED)])
    participants = TextAreaField("约谈对象", validators=[DataRequired(REQUIRED),
                                                      Length(max=2000)])
    notes = TextAreaField("约谈情况", validators=[Optional(), Length(max=10000)])


class LetterForm(FlaskForm):
    letter = FileField("整改承诺书（PDF 或图片）")


class DelistForm(FlaskForm):
    note = TextAreaField("摘牌说明", validators=[Optional(), Length(max=2000)])


def _listing(listing_id: int) -> Listing:
    found = get_session().scalar(select(Listing).where(Listing.id == listing_id).options(
        joinedload(Listing.case).joinedload(Case.unit)))
    if found is None:
        abort(404)
    return found


@bp.route("/listings")
@require(Permission.SUPERVISION_VIEW)
def listings():
    db = get_session()
    active = db.scalars(select(Listing).where(Listing.delisted_at.is_(None))
                        .options(joinedload(Listing.case).joinedload(Case.unit))
                        .order_by(Listing.deadline, Listing.id)).all()
    delisted = db.scalars(select(Listing).where(Listing.delisted_at.is_not(None))
                          .options(joinedload(Listing.case).joinedload(Case.unit))
                          .order_by(Listing.delisted_at.desc()).limit(50)).all()
    candidates = db.scalars(
        select(Case).where(Case.severity == Severity.MAJOR, Case.status != CaseStatus.CLOSED,
                           ~exists().where(Listing.case_id == Case.id,
                                           Listing.delisted_at.is_(None)))
        .options(joinedload(Case.unit)).order_by(Case.id).limit(100)).all()
    # Closed, yet still carrying a level: listed formally or flagged by routing.
    to_delist = db.scalars(
        select(Case).where(Case.status == CaseStatus.CLOSED,
                           Case.supervision_level != SupervisionLevel.NONE)
        .options(joinedload(Case.unit)).order_by(Case.closed_at, Case.id).limit(100)).all()
    return render_template("admin/listings.html", active=active, delisted=delisted,
                           candidates=candidates, to_delist=to_delist,
                           delist_form=DelistForm())


@bp.route("/cases/<int:case_id>/listing", methods=["GET", "POST"])
@require(Permission.LISTINGS_MANAGE)
def listing_new(case_id: int):
    db = get_session()
    case = db.get(Case, case_id)
    if case is None:
        abort(404)
    form = ListingForm()
    error, status = None, 200
    if request.method == "POST":
        if form.validate():
            try:
                listing = listing_steps.list_case(
                    db, case, actor=current_user, level=SupervisionLevel(form.level.data),
                    deadline=form.deadline.data, responsible_leader=form.responsible_leader.data)
            except WorkflowError as exc:
                db.rollback()
                error, status = str(exc), 400
            else:
                db.commit()
                flash(f"已{listing.level.label}。", "success")
                return redirect(url_for("admin.listing", listing_id=listing.id), 303)
        else:
            error, status = "请按提示填写后再提交", 400
    return render_template("admin/listing_new.html", case=case, form=form, error=error), status


def _render(listing: Listing, status: int = 200, error: str | None = None, **forms):
    return render_template(
        "admin/listing.html", listing=listing, error=error,
        interview_form=forms.get("interview") or InterviewForm(),
        letter_form=forms.get("letter") or LetterForm(),
        delist_form=forms.get("delist") or DelistForm()), status


@bp.route("/listings/<int:listing_id>")
@require(Permission.SUPERVISION_VIEW)
def listing(listing_id: int):
    return _render(_listing(listing_id))


@bp.route("/listings/<int:listing_id>/interviews", methods=["POST"])
@require(Permission.LISTINGS_MANAGE)
def listing_interview(listing_id: int):
    db = get_session()
    found = _listing(listing_id)
    form = InterviewForm()
    if not form.validate():
        return _render(found, 400, "请按提示填写约谈记录", interview=form)
    tz = current_app.config["TIMEZONE"]
    held_at = form.held_at.data.replace(tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
    try:
        listing_steps.record_interview(db, found, actor=current_user, held_at=held_at,
                                     participants=form.participants.data,
                                     notes=form.notes.data or "")
    except WorkflowError as exc:
        db.rollback()
        return _render(_listing(listing_id), 400, str(exc), interview=form)
    db.commit()
    flash("约谈记录已保存。", "success")
    return redirect(url_for("admin.listing", listing_id=listing_id), 303)


@bp.route("/listings/<int:listing_id>/letter", methods=["POST"])
@require(Permission.LISTINGS_MANAGE)
def listing_letter_upload(listing_id: int):
    db = get_session()
    found = _listing(listing_id)
    form = LetterForm()
    upload = request.files.get("letter")
    if not form.validate() or upload is None or not upload.filename:
        return _render(found, 400, "请选择整改承诺书文件", letter=form)
    raw = upload.stream.read(current_app.config["MAX_PHOTO_BYTES"] + 1)
    try:
        listing_steps.attach_letter(db, storage(), found, raw, actor=current_user,
                                  limits=upload_limits())
    except (UploadError, WorkflowError) as exc:
        db.rollback()
        return _render(_listing(listing_id), 400, str(exc), letter=form)
    db.commit()
    flash("整改承诺书已上传。", "success")
    return redirect(url_for("admin.listing", listing_id=listing_id), 303)


@bp.route("/listings/<int:listing_id>/letter")
@require(Permission.SUPERVISION_VIEW)
def listing_letter(listing_id: int):
    """The latest letter, or an earlier one by ``?id=``; PDFs are downloaded, not shown."""
    found = _listing(listing_id)
    wanted = request.args.get("id", "")
    letter: Attachment | None = found.commitment_letter
    if wanted.isdigit():
        letter = next((a for a in found.letters if a.id == int(wanted)), None)
    if letter is None:
        abort(404)
    # PDFs are downloaded, not shown in the browser.
    pdf = letter.content_type == "application/pdf"
    return send_attachment(letter, download_name=f"letter-{letter.id}.pdf" if pdf else None)


@bp.route("/listings/<int:listing_id>/delist", methods=["POST"])
@require(Permission.LISTINGS_MANAGE)
def listing_delist(listing_id: int):
    db = get_session()
    found = _listing(listing_id)
    form = DelistForm()
    if not form.validate():
        return _render(found, 400, "请按提示填写", delist=form)
    try:
        listing_steps.delist(db, found, actor=current_user, note=form.note.data or "")
    except WorkflowError as exc:
        db.rollback()
        return _render(_listing(listing_id), 400, str(exc), delist=form)
    db.commit()
    flash("已摘牌。", "success")
    return redirect(url_for("admin.listing", listing_id=listing_id), 303)


@bp.route("/cases/<int:case_id>/delist", methods=["POST"])
@require(Permission.LISTINGS_MANAGE)
def case_delist(case_id: int):
    """Delist a closed case from the list page, listed formally or flagged by routing."""
    db = get_session()
    case = db.get(Case, case_id)
    if case is None:
        abort(404)
    form = DelistForm()
    if not form.validate():
        abort(400)
    try:
        listing_steps.delist_case(db, case, actor=current_user, note=form.note.data or "")
    except WorkflowError as exc:
        db.rollback()
        flash(str(exc), "error")
    else:
        db.commit()
        flash(f"工单 {case_id}（{case.unit.name}）已摘牌。", "success")
    return redirect(url_for("admin.listings"), 303)
