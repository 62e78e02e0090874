"""查询进度: a resident follows their tip with the receipt code, reads and answers messages."""

from __future__ import annotations

import time

from flask import current_app, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import RadioField, TextAreaField

from portal.db import get_session
from portal.domain.administration import retention
from portal.domain.enums import MessageDirection, RatingAnswer, RatingSource, TipStatus
from portal.domain.models import Message, Tip
from portal.domain.reporting import intake, rating, rewards, tracking
from portal.domain.reporting.identity import normalize_receipt
from portal.errors import TLS_MESSAGE, refused_for_plain_http
from portal.extensions import csrf, limiter
from portal.identity import receipt_key
from portal.public import bp
from portal.public.forms import ReplyForm, TrackForm, WithdrawIdentityForm
from portal.web.photos import PhotoStoreError, discard_files, read_photos, store_photos

TRACK_SESSION_KEY = "tracking"
TRACK_TTL_SECONDS = 3600
WRONG_CODE = "查询码不正确，请核对 16 位数字后重新输入。"


def _track_limit() -> str:
    return current_app.config["TRACK_RATE_LIMIT"]


def tracked_tip() -> Tip | None:
    """The tip this browser proved it holds the receipt for, within the last hour."""
    state = session.get(TRACK_SESSION_KEY) or {}
    if not state or state.get("until", 0) < time.time():
        return None
    return get_session().get(Tip, state.get("tip"))



def _expired(message: str) -> str:
    """Why a form's own token check failed: over plain HTTP the Secure cookie never came back."""
    return TLS_MESSAGE if refused_for_plain_http() else message

@bp.get("/track")
def track():
    return render_template("portal/track.html", form=TrackForm(), error=None)


@bp.post("/track")
@csrf.exempt  # checked by the form itself, with a Chinese message on the page
@limiter.limit(_track_limit)
def track_lookup():
    form = TrackForm()
    if not form.validate_on_submit():
        return render_template("portal/track.html", form=form,
                               error=_expired("页面已过期，请重新输入查询码。")), 400
    code = normalize_receipt(form.code.data or "")
    tip = intake.find_by_receipt(get_session(), code, receipt_key=receipt_key()) if code else None
    if tip is None:
        return render_template("portal/track.html", form=form, error=WRONG_CODE), 404
    session[TRACK_SESSION_KEY] = {"tip": tip.id, "until": time.time() + TRACK_TTL_SECONDS}
    return redirect(url_for("public.track_status"), 303)


@bp.get("/track/status")
def track_status():
    tip = tracked_tip()
    if tip is None:
        return redirect(url_for("public.track"))
    return _status_page(tip, ReplyForm())


def _status_page(tip: Tip, form: ReplyForm | None = None, errors: dict[str, str] | None = None,
                 status: int = 200, notice: str = "", rate_form: RateForm | None = None):
    db = get_session()
    messages = db.scalars(
        select(Message).where(Message.tip_id == tip.id).order_by(Message.created_at, Message.id)
    ).all()
    tz = current_app.config["TIMEZONE"]
    timeline = tracking.timeline(db, tip, tz=tz) + [
        tracking.Entry(day, text) for day, text in rating.reporter_entries(db, tip, tz=tz)]
    timeline.sort(key=lambda e: e.at)  # stable: same-day entries keep their order
    return render_template(
        "portal/track_status.html",
        tip=tip,
        summary=tracking.status_summary(db, tip),
        timeline=timeline,
        rating_next=rating.next_step(db, tip),
        reward_notice=rewards.reward_notice(db, tip),
        rate_form=(rate_form or RateForm()) if rating.may_rate(db, tip) else None,
        comment_max=rating.COMMENT_MAX,
        messages=messages,
        form=form or ReplyForm(),
        errors=errors or {},
        can_add_photos=tip.status is TipStatus.PENDING,
        max_photos=current_app.config["MAX_PHOTOS"],
        message_max=intake.MESSAGE_MAX,
        has_identity=tip.reporter_name_enc is not None or tip.reporter_phone_enc is not None,
        withdraw_form=WithdrawIdentityForm(),
        notice=notice,
    ), status


@bp.post("/track/reply")
@csrf.exempt  # checked by the form itself, so the typed reply is kept
@limiter.limit(_track_limit)
def track_reply():
    tip = tracked_tip()
    if tip is None:
        return redirect(url_for("public.track"))
    db = get_session()
    form = ReplyForm()
    errors: dict[str, str] = {}
    if not form.validate_on_submit():
        errors["form"] = _expired("页面已过期，您填写的内容已保留，请再次提交。")
    body = intake.clean_text(form.body.data, multiline=True)
    files = request.files.getlist(form.photos.name)
    if any(f.filename for f in files) and tip.status is not TipStatus.PENDING:
        errors["photos"] = "举报已受理，如需补充照片请在留言中说明，工作人员会与您联系。"
        files = []
    already = len(tip.attachments)
    batch = read_photos(files, already=already)
    if batch.errors:
        errors["photos"] = "；".join(batch.errors)
    if not body and not batch.processed:
        errors.setdefault("body", "请填写补充说明或选择照片")
    elif len(body) > intake.MESSAGE_MAX:
        errors["body"] = f"留言不能超过 {intake.MESSAGE_MAX} 个字"
    if errors:
        return _status_page(tip, form, errors, status=422)
    message = Message(tip_id=tip.id, direction=MessageDirection.FROM_REPORTER,
                      body=body or "（补充照片）")
    db.add(message)
    db.flush()
    try:
        photos = store_photos(db, batch)
    except PhotoStoreError as exc:
        # The server cannot take photos now: nothing of the reply is stored, the text is kept.
        db.rollback()
        return _status_page(tip, form, {"photos": exc.message}, status=503)
    for photo in photos:
        photo.tip_id = tip.id
    try:
        db.commit()
    except Exception:
        discard_files(photos)
        raise
    return redirect(url_for("public.track_status"), 303)


RATING_CHOICES = [(a.value, a.label) for a in RatingAnswer]


class RateForm(FlaskForm):
    """回访评价: the answer and an optional comment (the same on /track and /rate)."""

    class Meta:
        csrf_time_limit = None

    answer = RadioField("隐患是否已真正消除？您对办理结果：", choices=RATING_CHOICES,
                        validate_choice=False)
    comment = TextAreaField("意见或建议（可不填）")


def read_rating(form: RateForm) -> tuple[RatingAnswer | None, dict[str, str]]:
    errors: dict[str, str] = {}
    if not form.validate_on_submit():
        errors["form"] = _expired("页面已过期，请重新选择后提交。")
    try:
        answer = RatingAnswer(form.answer.data)
    except ValueError:
        answer = None
        errors.setdefault("answer", "请选择满意、基本满意或不满意")
    if len(form.comment.data or "") > rating.COMMENT_MAX:
        errors["comment"] = f"意见不能超过 {rating.COMMENT_MAX} 个字"
    return answer, errors


@bp.post("/track/rate")
@csrf.exempt  # checked by the form itself, with a Chinese message on the page
@limiter.limit(_track_limit)
def track_rate():
    tip = tracked_tip()
    if tip is None:
        return redirect(url_for("public.track"))
    form = RateForm()
    answer, errors = read_rating(form)
    if answer is not None and not errors:
        db = get_session()
        try:
            rating.rate(db, tip, answer, form.comment.data or "", RatingSource.TRACK)
        except rating.RatingRefused as exc:
            errors["answer"] = str(exc)
        else:
            db.commit()
            return redirect(url_for("public.track_status"), 303)
    return _status_page(tip, errors={f"rate_{k}": v for k, v in errors.items()},
                        status=422, rate_form=form)



@bp.post("/track/withdraw-identity")
@csrf.exempt  # checked by the form itself, with a Chinese message on the page
@limiter.limit(_track_limit)
def track_withdraw_identity():
    tip = tracked_tip()
    if tip is None:
        return redirect(url_for("public.track"))
    if not WithdrawIdentityForm().validate_on_submit():
        return _status_page(tip, ReplyForm(), {"withdraw": _expired("页面已过期，请再点一次。")},
                            status=400)
    db = get_session()
    retention.withdraw_identity(db, tip)
    db.commit()
    return _status_page(tip, ReplyForm(), notice="您留下的姓名和电话已删除，举报继续办理。")


@bp.post("/track/forget")
def track_forget():
    session.pop(TRACK_SESSION_KEY, None)
    return redirect(url_for("public.track"), 303)
