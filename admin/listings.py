"""Listing major hazards for supervision (挂牌督办): list, interviews, letter, delist."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import DateField, DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from admin import bp
from admin.access import require
from admin.acting import act, flash_back
from admin.forms import options
from portal.db import get_session
from portal.domain import paging
from portal.domain.access.permissions import Permission, case_scope
from portal.domain.casework.actions import may
from portal.domain.enums import SupervisionLevel
from portal.domain.models import Attachment, Case, Listing
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
    """The listing of a case the user may see; any other (another township's) answers 404."""
    found = get_session().scalar(
        select(Listing).join(Case, Case.id == Listing.case_id)
        .where(Listing.id == listing_id, case_scope(current_user))
        .options(joinedload(Listing.case).joinedload(Case.unit)))
    if found is None:
        abort(404)
    return found


def _case(case_id: int) -> Case:
    found = get_session().scalar(select(Case).where(Case.id == case_id,
                                                    case_scope(current_user)))
    if found is None:
        abort(404)
    return found


@bp.route("/listings")
@require(Permission.SUPERVISION_VIEW)
def listings():
    """Listed hazards, open major hazards not listed, closed ones still to delist (each paged:
    ``?section=active|candidates|to_delist&page=N``), and the latest delisted."""
    db = get_session()
    args = request.args
    scope = case_scope(current_user)
    return render_template(
        "admin/listings.html",
        active=listing_steps.active_listings(db, page=paging.page_in(args, "active"),
                                             scope=scope),
        candidates=listing_steps.unlisted_major_hazards(
            db, page=paging.page_in(args, "candidates"), scope=scope),
        to_delist=listing_steps.awaiting_delisting(db, page=paging.page_in(args, "to_delist"),
                                                   scope=scope),
        delisted=listing_steps.recently_delisted(db, scope=scope), delist_form=DelistForm(),
        offered=lambda case, step: may(case, current_user, step))


@bp.route("/cases/<int:case_id>/listing", methods=["GET", "POST"])
@require(Permission.LISTINGS_MANAGE)
def listing_new(case_id: int):
    db = get_session()
    case = _case(case_id)
    form = ListingForm()

    def page(error: str | None = None, status: int = 200) -> Any:
        shown = db.get(Case, case_id) if error else case
        return render_template("admin/listing_new.html", case=shown, form=form,
                               error=error), status

    if request.method != "POST":
        return page()
    if not form.validate():
        return page("请按提示填写后再提交", 400)
    return act(
        lambda: listing_steps.list_case(
            db, case, actor=current_user, level=SupervisionLevel(form.level.data),
            deadline=form.deadline.data, responsible_leader=form.responsible_leader.data),
        done=lambda listing: f"已{listing.level.label}。",
        then=lambda listing: url_for("admin.listing", listing_id=listing.id),
        refused=page)


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
    return act(
        lambda: listing_steps.record_interview(db, found, actor=current_user, held_at=held_at,
                                               participants=form.participants.data,
                                               notes=form.notes.data or ""),
        done="约谈记录已保存。", then=url_for("admin.listing", listing_id=listing_id),
        refused=lambda message, status: _render(_listing(listing_id), status, message,
                                                interview=form))


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
    return act(
        lambda: listing_steps.attach_letter(db, storage(), found, raw, actor=current_user,
                                            limits=upload_limits()),
        done="整改承诺书已上传。", then=url_for("admin.listing", listing_id=listing_id),
        refused=lambda message, status: _render(_listing(listing_id), status, message,
                                                letter=form))


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
    return act(
        lambda: listing_steps.delist(db, found, actor=current_user, note=form.note.data or ""),
        done="已摘牌。", then=url_for("admin.listing", listing_id=listing_id),
        refused=lambda message, status: _render(_listing(listing_id), status, message,
                                                delist=form))


@bp.route("/cases/<int:case_id>/delist", methods=["POST"])
@require(Permission.LISTINGS_MANAGE)
def case_delist(case_id: int):
    """Delist a closed case from the list page, listed formally or flagged by routing."""
    db = get_session()
    case = _case(case_id)
    form = DelistForm()
    if not form.validate():
        abort(400)
    unit_name = case.unit.name
    back = url_for("admin.listings")
    return act(
        lambda: listing_steps.delist_case(db, case, actor=current_user,
                                          note=form.note.data or ""),
        done=f"工单 {case_id}（{unit_name}）已摘牌。", then=back,
        refused=lambda message, status: flash_back(message, back))
