"""回访评价 in the back office: the 不满意 ratings waiting for the supervisor, who reopens the
case or answers the reporter with a reason; and the phone follow-up (电话回访) that staff
record on a closed case's tips."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, RadioField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from admin import bp
from admin.access import require
from admin.acting import REFUSALS, act
from admin.forms import options
from portal.db import get_session
from portal.domain.access.permissions import Permission, case_scope, townships_of
from portal.domain.enums import RatingAnswer
from portal.domain.models import Case, Rating
from portal.domain.reporting import rating

REFUSED = (*REFUSALS, rating.RatingRefused)


class ReopenForm(FlaskForm):
    reason = TextAreaField("重新办理的理由", validators=[Length(max=2000)])
    deadline = DateField("新的整改期限（核查不属实办结的案件重新核查，不填）",
                         validators=[Optional()])


class AnswerForm(FlaskForm):
    reason = TextAreaField("答复举报人的理由（举报人可见）", validators=[Length(max=2000)])


class PhoneFollowUpForm(FlaskForm):
    tip = SelectField("举报", coerce=int)
    answer = RadioField("举报人的评价", choices=options(RatingAnswer.choices()),
                        validators=[InputRequired("请选择举报人的评价")])
    comment = TextAreaField("举报人的意见（可不填）",
                            validators=[Length(max=rating.COMMENT_MAX)])


def _ratings_page(error: str = "", failed: int | None = None, status: int = 200,
                  reopen: ReopenForm | None = None, answer: AnswerForm | None = None) -> Any:
    waiting = rating.awaiting_supervisor(get_session(), townships_of(current_user))
    return render_template(
        "admin/ratings.html", ratings=waiting, error=error, failed=failed,
        reopen=reopen, answer=answer, blank_reopen=ReopenForm(formdata=None),
        blank_answer=AnswerForm(formdata=None)), status


def _waiting(rating_id: int) -> Rating:
    """A rating of the supervisor's township (county staff: any); any other answers 404."""
    found = get_session().get(Rating, rating_id)
    if found is None or found not in rating.awaiting_supervisor(
            get_session(), townships_of(current_user)):
        abort(404)
    return found


@bp.route("/ratings")
@require(Permission.CASES_SUPERVISE)
def ratings():
    """The 不满意 ratings waiting for the supervisor, oldest first."""
    return _ratings_page()


@bp.route("/ratings/<int:rating_id>/reopen", methods=["POST"])
@require(Permission.CASES_SUPERVISE)
def rating_reopen(rating_id: int):
    found = _waiting(rating_id)
    form = ReopenForm()
    if not form.validate():
        return _ratings_page("请按提示填写后再提交", rating_id, 400, reopen=form)
    return act(lambda: rating.reopen(get_session(), found, actor=current_user,
                                     reason=form.reason.data or "",
                                     new_deadline=form.deadline.data),
               done=f"工单 {found.case_id} 已重新办理，举报人可在查询页看到。",
               then=url_for("admin.ratings"),
               refused=lambda error, status: _ratings_page(error, rating_id, status,
                                                           reopen=form),
               refusals=REFUSED)


@bp.route("/ratings/<int:rating_id>/answer", methods=["POST"])
@require(Permission.CASES_SUPERVISE)
def rating_answer(rating_id: int):
    found = _waiting(rating_id)
    form = AnswerForm()
    if not form.validate():
        return _ratings_page("请按提示填写后再提交", rating_id, 400, answer=form)
    return act(lambda: rating.answer(get_session(), found, actor=current_user,
                                     reason=form.reason.data or ""),
               done="已答复举报人。", then=url_for("admin.ratings"),
               refused=lambda error, status: _ratings_page(error, rating_id, status,
                                                           answer=form),
               refusals=REFUSED)


def _case(case_id: int) -> Case:
    found = get_session().scalar(select(Case).where(Case.id == case_id,
                                                    case_scope(current_user)))
    if found is None:
        abort(404)
    return found


@bp.route("/cases/<int:case_id>/phone-follow-up", methods=["GET", "POST"])
@require(Permission.CASES_CLOSE)
def phone_follow_up(case_id: int):
    """电话回访: the answer a reporter gave on the telephone, recorded as the current user's."""
    case = _case(case_id)
    db = get_session()
    form = PhoneFollowUpForm()
    waiting = rating.phone_follow_up_tips(db, case)
    form.tip.choices = options((t.id, f"举报 #{t.id}（{t.created_at:%Y-%m-%d}）") for t in waiting)
    given = db.scalars(select(Rating).where(Rating.case_id == case.id)
                       .order_by(Rating.created_at, Rating.id)).all()

    def page(error: str = "", status: int = 200) -> Any:
        return render_template("admin/ratings_phone.html", case=case, form=form,
                               waiting=waiting, given=given, error=error), status

    if not form.is_submitted():
        return page()
    if not form.validate():
        return page("请按提示填写后再提交", 400)
    tip = next(t for t in waiting if t.id == form.tip.data)
    return act(lambda: rating.record_phone_follow_up(
                   db, tip, RatingAnswer(form.answer.data), form.comment.data or "",
                   actor=current_user),
               done=f"已登记举报 #{tip.id} 的电话回访。",
               then=url_for("admin.phone_follow_up", case_id=case.id),
               refused=lambda error, status: page(error, status), refusals=REFUSED)
