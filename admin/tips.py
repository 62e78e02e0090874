"""One tip: what was reported, likely duplicates, and the moderators' actions on it.

The page offers the actions ``portal.domain.vetting.actions.tip_actions`` allows and shows the
refusal of the others; each POST calls the moderation action, which checks the same
precondition again, and a refusal is shown on the page (400) with nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import can, client_ip, require
from admin.acting import act, refusal_status
from admin.forms import AcceptForm, ActionForm, AskForm, RedactForm, RejectForm, options
from portal.db import get_session
from portal.domain.access.permissions import Permission, case_scope, tip_scope
from portal.domain.enums import RejectReason
from portal.domain.models import Attachment, Case, Category, Tip, VenueType
from portal.domain.vetting import moderation, places
from portal.domain.vetting.actions import by_key, tip_actions
from portal.domain.vetting.duplicates import find_duplicates
from portal.identity import cipher, upload_limits
from portal.web.files import storage


def _tip(tip_id: int) -> Tip:
    """The tip, if the user may see it (their township's); else 404, so its existence does
    not leak."""
    tip = get_session().scalar(select(Tip).where(Tip.id == tip_id, tip_scope(current_user)))
    if tip is None:
        abort(404)
    return tip


def vocabulary_choices(form: Any, *, blank_venue: str = "（未确定）") -> None:
    """Fill the village (the user's township's), category and venue-type selects of an
    accept-like form."""
    db = get_session()
    form.village.choices = options(places.village_choices(db, current_user))
    categories = db.scalars(select(Category).where(Category.active).order_by(Category.sort_order))
    form.category.choices = options(
        (c.id, ("【紧急】" if c.urgent else "") + c.name) for c in categories)
    form.venue_type.choices = options([(0, blank_venue)] + [(v.id, v.name) for v in db.scalars(
        select(VenueType).where(VenueType.active).order_by(VenueType.sort_order))])


def _details(form: AcceptForm, **extra: Any) -> moderation.UnitDetails:
    return moderation.UnitDetails(
        name=form.unit_name.data or "",
        village_id=form.village.data,
        category_id=form.category.data,
        venue_type_id=form.venue_type.data or None,
        address=form.address.data or "",
        internal_summary=form.internal_summary.data or "",
        **extra,
    )


def _render(tip: Tip, *, status: int = 200, identity: Any = None, **forms: Any):
    db = get_session()
    accept = forms.get("accept") or AcceptForm(
        unit_name=tip.unit_name, village=tip.village_id, category=tip.category_id,
        venue_type=tip.venue_type_id or 0, address=tip.address,
    )
    vocabulary_choices(accept)
    actions = tip_actions(tip, current_user)
    offered = by_key(actions)
    show_original = can(Permission.TIPS_ORIGINAL_READ)
    return render_template(
        "admin/tip.html",
        tip=tip,
        offered=offered,
        refused=[a for a in actions if not a.allowed and a.attachment_id is None],
        duplicates=find_duplicates(db, tip) if offered["merge"].allowed else None,
        accept=accept,
        reject=forms.get("reject") or RejectForm(),
        ask=forms.get("ask") or AskForm(),
        redact=forms.get("redact") or RedactForm(description=tip.description),
        action=ActionForm(),
        revisions=moderation.revisions(db, tip) if show_original else [],
        original=moderation.original_description(db, tip) if show_original else None,
        identity=identity,
        case=db.get(Case, tip.case_id) if tip.case_id else None,
        reject_reasons=RejectReason,
    ), status


def _refused(tip_id: int, **forms: Any) -> Callable[[str, int], Any]:
    """The refusal, on the tip page with the forms as sent (loaded afresh: ``act`` has rolled
    the session back)."""
    def draw(message: str, status: int) -> Any:
        flash(message, "error")
        return _render(_tip(tip_id), status=status, **forms)
    return draw


def _act(tip: Tip, step: Callable[[], object], done: str, **forms: Any) -> Any:
    """Take the step and come back to the tip page (302, as these screens always have)."""
    return act(step, done=done, then=url_for("admin.tip", tip_id=tip.id), code=302,
               refused=_refused(tip.id, **forms))


def _photo(tip: Tip, attachment_id: int) -> Attachment:
    attachment = get_session().get(Attachment, attachment_id)
    if attachment is None or attachment.tip_id != tip.id:
        abort(404)
    return attachment


@bp.route("/tips/<int:tip_id>")
@require(Permission.QUEUE_VIEW)
def tip(tip_id: int):
    return _render(_tip(tip_id))


@bp.route("/tips/<int:tip_id>/accept", methods=["POST"])
@require(Permission.TIPS_MODERATE)
def tip_accept(tip_id: int):
    tip = _tip(tip_id)
    form = AcceptForm()
    vocabulary_choices(form)
    if not form.validate():
        return _render(tip, accept=form, status=400)
    return act(
        lambda: moderation.accept_tip(get_session(), tip, _details(form), actor=current_user,
                                      ip=client_ip()),
        done=lambda case: f"已受理，立案编号 {case.id}。请确认分派部门。",
        then=lambda case: url_for("admin.route_case", case_id=case.id), code=302,
        refused=_refused(tip_id, accept=form))


@bp.route("/tips/<int:tip_id>/merge/<int:case_id>", methods=["POST"])
@require(Permission.TIPS_MODERATE)
def tip_merge(tip_id: int, case_id: int):
    tip = _tip(tip_id)
    case = get_session().scalar(select(Case).where(Case.id == case_id,
                                                   case_scope(current_user)))
    if case is None:
        abort(404)
    ActionForm().validate()
    return _act(tip, lambda: moderation.merge_tip(get_session(), tip, case, actor=current_user,
                                                  ip=client_ip()),
                f"已合并到工单 {case.id}。")


@bp.route("/tips/<int:tip_id>/reject", methods=["POST"])
@require(Permission.TIPS_MODERATE)
def tip_reject(tip_id: int):
    tip = _tip(tip_id)
    form = RejectForm()
    if not form.validate():
        return _render(tip, reject=form, status=400)
    return _act(tip, lambda: moderation.reject_tip(
        get_session(), tip, RejectReason(form.reason.data), form.message.data,
        actor=current_user, ip=client_ip()),
        "已不予受理，举报人凭回执码可看到说明。", reject=form)


@bp.route("/tips/<int:tip_id>/ask", methods=["POST"])
@require(Permission.TIPS_MODERATE)
def tip_ask(tip_id: int):
    tip = _tip(tip_id)
    form = AskForm()
    if not form.validate():
        return _render(tip, ask=form, status=400)
    return _act(tip, lambda: moderation.ask_reporter(get_session(), tip, form.body.data,
                                                     actor=current_user, ip=client_ip()),
                "问题已发出，举报人凭回执码查询时可以看到并回复。", ask=form)


@bp.route("/tips/<int:tip_id>/redact", methods=["POST"])
@require(Permission.TIPS_MODERATE)
def tip_redact(tip_id: int):
    tip = _tip(tip_id)
    form = RedactForm()
    if not form.validate():
        return _render(tip, redact=form, status=400)
    return _act(tip, lambda: moderation.redact_description(
        get_session(), tip, form.description.data, form.reason.data or "",
        actor=current_user, ip=client_ip()),
        "举报内容已修改，原文保留，仅审核员可见。", redact=form)


@bp.route("/tips/<int:tip_id>/photos/<int:attachment_id>/withhold", methods=["POST"])
@require(Permission.TIPS_MODERATE)
def tip_photo_withhold(tip_id: int, attachment_id: int):
    tip = _tip(tip_id)
    attachment = _photo(tip, attachment_id)
    return _act(tip, lambda: moderation.withhold_photo(get_session(), attachment,
                                                       actor=current_user, ip=client_ip()),
                "照片已撤下，不会提供给部门或公开。")


@bp.route("/tips/<int:tip_id>/photos/<int:attachment_id>/blur", methods=["POST"])
@require(Permission.TIPS_MODERATE)
def tip_photo_blur(tip_id: int, attachment_id: int):
    tip = _tip(tip_id)
    attachment = _photo(tip, attachment_id)
    ActionForm().validate()
    return _act(tip, lambda: moderation.blur_photo(get_session(), storage(), attachment,
                                                   upload_limits(), actor=current_user,
                                                   ip=client_ip()),
                "已生成模糊处理后的照片，原照片仅审核员可见。")


@bp.route("/tips/<int:tip_id>/identity", methods=["POST"])
@require(Permission.IDENTITY_READ)
def tip_identity(tip_id: int):
    """Show the reporter's name and phone once, on this response only; the read is audited.
    (Not ``act``: the answer is this page, not a redirect.)"""
    tip = _tip(tip_id)
    db = get_session()
    try:
        identity = moderation.reveal_identity(db, tip, cipher().decrypt, actor=current_user,
                                              ip=client_ip())
    except moderation.ModerationError as exc:
        db.rollback()
        return _refused(tip_id)(str(exc), refusal_status(str(exc)))
    db.commit()
    response, _ = _render(tip, identity=identity)
    return response, 200, {"Cache-Control": "no-store"}
