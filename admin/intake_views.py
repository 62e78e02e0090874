"""Staff entry: tips taken by phone, at the counter or by a grid inspector (the same intake
service as the public form, with the channel recorded), and cases opened from an inspection."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import client_ip, require
from admin.acting import act
from admin.forms import InspectionCaseForm, StaffTipForm
from admin.tips import vocabulary_choices
from portal.db import get_session
from portal.domain.access.permissions import Permission, tip_scope
from portal.domain.enums import Channel
from portal.domain.models import Attachment, Tip
from portal.domain.reporting import intake
from portal.domain.vetting import moderation
from portal.identity import cipher, receipt_key
from portal.web.files import send_attachment


@bp.route("/tips/new", methods=["GET", "POST"])
@require(Permission.TIPS_ENTER)
def tip_new():
    form = StaffTipForm()
    vocabulary_choices(form, blank_venue="（未填写）")
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        db = get_session()
        data = intake.TipInput(
            channel=Channel(form.channel.data), village_id=form.village.data,
            category_id=form.category.data, unit_name=form.unit_name.data or "",
            description=form.description.data or "", venue_type_id=form.venue_type.data or None,
            address=form.address.data or "", reporter_name=form.reporter_name.data or "",
            reporter_phone=form.reporter_phone.data or "",
            wants_feedback=form.wants_feedback.data, created_by=current_user,
        )
        try:
            result = intake.submit_tip(db, data, cipher=cipher(), receipt_key=receipt_key())
        except intake.IntakeError as exc:
            errors = exc.errors
        else:
            db.commit()
            return render_template("admin/tip_entered.html", tip=result.tip,
                                   receipt_code=result.receipt_code)
    return render_template("admin/tip_new.html", form=form, errors=errors,
                           error="；".join(errors.values()) or None)


@bp.route("/cases/inspection", methods=["GET", "POST"])
@require(Permission.CASES_OPEN)
def inspection_case():
    form = InspectionCaseForm()
    vocabulary_choices(form)

    def page(error: str | None = None) -> Any:
        return render_template("admin/inspection_case.html", form=form, error=error)

    if not form.validate_on_submit():
        return page()
    details = moderation.UnitDetails(
        name=form.unit_name.data or "", village_id=form.village.data,
        category_id=form.category.data, venue_type_id=form.venue_type.data or None,
        address=form.address.data or "", lat=form.lat.data, lon=form.lon.data,
        internal_summary=form.internal_summary.data or "",
    )
    if (details.lat is None) != (details.lon is None):
        return page("经纬度须同时填写或同时留空")
    # This screen has always answered 302, and shown a refusal on the form with 200.
    return act(lambda: moderation.open_inspection_case(get_session(), details,
                                                       actor=current_user, ip=client_ip()),
               done=lambda case: f"已立案，工单编号 {case.id}。请确认分派部门。",
               then=lambda case: url_for("admin.route_case", case_id=case.id),
               refused=lambda message, _: page(message), code=302)


@bp.route("/attachments/<int:attachment_id>")
@require(Permission.QUEUE_VIEW)
def attachment(attachment_id: int):
    """A tip's photo for moderators (withheld ones included: they decide about them), of a
    tip they may see."""
    db = get_session()
    row = db.get(Attachment, attachment_id)
    if row is None or row.tip_id is None or db.scalar(
            select(Tip.id).where(Tip.id == row.tip_id, tip_scope(current_user))) is None:
        abort(404)
    return send_attachment(row, thumb=bool(request.args.get("thumb")))
