"""The moderators' disclosure screens: which confirmed cases are public, what the public reads
about each (masked summary, chosen photos, previewed first), and withdrawing with a reason.

Moderating tips is the permission that goes with deciding what is disclosed; the domain also
refuses anyone but a moderator.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from admin import bp
from admin.access import require
from admin.acting import act
from portal.db import get_session
from portal.domain.access.permissions import Permission, case_scope, tip_scope
from portal.domain.clock import local_today
from portal.domain.disclosure import publication
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.models import Attachment, Case, CaseEvent, Tip
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
    """The case, if the moderator may see it (their township's); else 404."""
    case = get_session().scalar(select(Case).where(Case.id == case_id,
                                                   case_scope(current_user)))
    if case is None or (confirmed and case.confirmed_at is None):
        abort(404)
    return case


@bp.route("/disclosures")
@require(Permission.TIPS_MODERATE)
def disclosures():
    tab = request.args.get("show", "pending")
    if tab not in TABS:
        tab = "pending"
    found = publication.moderator_list(get_session(), disclosed=tab == "disclosed",
                                       page=request.args.get("page"), size=PAGE_SIZE,
                                       scope=case_scope(current_user))
    return render_template("admin/disclosures.html", page=found, tab=tab, tabs=TABS)


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
    if action == "publish":
        step, done = _publish, "已公开。公众现在可以在隐患公示页面看到这项隐患。"
    elif action == "save" and case.disclosed:
        step, done = _update, "公示内容已更新。"
    else:
        abort(400)

    def refused(message: str, _: int) -> Any:
        # A DisclosureError or a lost race on the case: flashed, and 400 either way.
        flash(message, "error")
        return _render(_case(case_id), form, preview=shown, status=400)

    return act(lambda: step(case, form), done=done,
               then=url_for("admin.disclosure_edit", case_id=case.id), refused=refused, code=302)


def _publish(case: Case, form: DisclosureForm) -> None:
    db = get_session()
    publication.set_public_photos(db, case, form.photos.data, actor=current_user)
    publication.disclose_case(db, case, actor=current_user, public_summary=form.summary.data)


def _update(case: Case, form: DisclosureForm) -> None:
    db = get_session()
    if mask_personal_data(form.summary.data.strip()) != case.public_summary:
        publication.edit_public_summary(db, case, form.summary.data, actor=current_user)
    publication.set_public_photos(db, case, form.photos.data, actor=current_user)


@bp.route("/disclosures/<int:case_id>/withdraw", methods=["POST"])
@require(Permission.TIPS_MODERATE)
def disclosure_withdraw(case_id: int):
    db = get_session()
    case = _case(case_id)
    form = WithdrawForm()

    def page(error: str | None = None) -> Any:
        # Refused (as invalid): said in a flash over the page, 400 for a lost race too.
        if error:
            flash(error, "error")
        edit = DisclosureForm(data={"summary": case.public_summary})
        return _render(case, edit, withdraw=form, status=400)

    if not form.validate():
        return page()
    return act(
        lambda: publication.withdraw_disclosure(db, case, actor=current_user,
                                                reason=form.reason.data),
        done="已撤回公开，该隐患已从公示页面、订阅和下载数据中移除。",
        then=url_for("admin.disclosure_edit", case_id=case.id),
        refused=lambda message, _: page(message), code=302)


@bp.route("/disclosures/photos/<int:attachment_id>")
@require(Permission.TIPS_MODERATE)
def disclosure_photo(attachment_id: int):
    """A tip's or a timeline's photo, for the moderator choosing what to publish (moderators
    see every tip photo anyway, withheld ones included)."""
    db = get_session()
    found = db.get(Attachment, attachment_id)
    if found is None:
        abort(404)
    if found.tip_id is not None:
        visible = select(Tip.id).where(Tip.id == found.tip_id, tip_scope(current_user))
    elif found.case_event_id is not None:
        visible = (select(CaseEvent.id).join(Case, CaseEvent.case_id == Case.id)
                   .where(CaseEvent.id == found.case_event_id, case_scope(current_user)))
    else:
        abort(404)
    if db.scalar(visible) is None:
        abort(404)
    return send_attachment(found, thumb=bool(request.args.get("thumb")))
