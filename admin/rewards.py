"""举报奖励 in the back office: the portal's proposals and the rewards by status, recording a
proposal, the supervisor's approval, the claim in person, the payment, and the ledger export
(no identities). Only moderators see who was paid, each look audited."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, abort, render_template, request, stream_with_context, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateField, IntegerField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from admin import bp
from admin.access import require
from admin.acting import REFUSALS, act
from admin.forms import options
from portal.db import get_session
from portal.domain import clock
from portal.domain.access.permissions import Permission, case_scope
from portal.domain.models import Case, Reward, RewardStatus
from portal.domain.reporting import rewards
from portal.domain.supervision import exports
from portal.identity import cipher

REFUSED = (*REFUSALS, rewards.RewardRefused)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ProposeForm(FlaskForm):
    pass


class ApproveForm(FlaskForm):
    amount = IntegerField("奖励金额（元）", validators=[InputRequired("请填写奖励金额")])
    note = TextAreaField("审批意见（可不填）", validators=[Length(max=rewards.NOTE_MAX)])


class RefuseForm(FlaskForm):
    note = TextAreaField("不予奖励的理由", validators=[Length(max=rewards.NOTE_MAX)])


class ClaimForm(FlaskForm):
    identity_checked = BooleanField("已当面核验举报人的身份证件，与举报时所留姓名一致"
                                    "（系统不记录证件号码）")
    not_staff_declared = BooleanField("举报人已声明本人不是消防安全委员会成员单位的工作人员，"
                                      "并已核实")


class PaymentForm(FlaskForm):
    paid_on = DateField("发放日期", validators=[Optional()])
    method = SelectField("发放方式", choices=options((m, m) for m in rewards.PAYMENT_METHODS),
                         validators=[InputRequired("请选择发放方式")])


class PayeeForm(FlaskForm):
    pass


def _scope() -> Any:
    return case_scope(current_user)


def _case(case_id: int) -> Case:
    found = get_session().scalar(select(Case).where(Case.id == case_id, _scope()))
    if found is None:
        abort(404)
    return found


def _reward(reward_id: int) -> Reward:
    found = get_session().scalar(select(Reward).join(Case, Reward.case_id == Case.id)
                                 .where(Reward.id == reward_id, _scope()))
    if found is None:
        abort(404)
    return found


@bp.route("/rewards")
@require(Permission.REWARDS_VIEW)
def rewards_page():
    """The portal's proposals waiting to be recorded, then the rewards by status."""
    db = get_session()
    try:
        status: RewardStatus | None = RewardStatus(request.args.get("status", ""))
    except ValueError:
        status = None
    return render_template(
        "admin/rewards.html", due=rewards.proposals_due(db, _scope()),
        rewards=rewards.rewards_list(db, _scope(), status), status=status,
        statuses=list(RewardStatus))


def _propose_page(case: Case, error: str = "", status: int = 200) -> Any:
    db = get_session()
    proposal, reason = None, ""
    try:
        proposal = rewards.proposal_for(db, case)
    except rewards.RewardRefused as exc:
        reason = str(exc)
    return render_template("admin/rewards_propose.html", case=case, proposal=proposal,
                           reason=reason, existing=rewards.reward_of_case(db, case),
                           error=error, form=ProposeForm()), status


@bp.route("/cases/<int:case_id>/reward", methods=["GET", "POST"])
@require(Permission.REWARDS_MANAGE)
def reward_propose(case_id: int):
    """The portal's proposal for a confirmed case (which tip, which band), and recording it."""
    case = _case(case_id)
    form = ProposeForm()
    if request.method == "GET" or not form.validate():
        return _propose_page(case)
    return act(lambda: rewards.propose(get_session(), case, current_user),
               done="已提出举报奖励，待督办人员审批。",
               then=lambda reward: url_for("admin.reward", reward_id=reward.id),
               refused=lambda error, status: _propose_page(_case(case_id), error, status),
               refusals=REFUSED)


def _reward_page(reward_id: int, error: str = "", status: int = 200, payee: str | None = None,
                 **forms: FlaskForm) -> Any:
    reward = _reward(reward_id)
    blank = {"approve": ApproveForm(formdata=None, amount=reward.amount_min),
             "refuse": RefuseForm(formdata=None), "claim": ClaimForm(formdata=None),
             "payment": PaymentForm(formdata=None, paid_on=clock.local_today()),
             "payee_form": PayeeForm(formdata=None)}
    return render_template("admin/rewards_detail.html", reward=reward, error=error,
                           payee=payee, **{**blank, **forms}), status


@bp.route("/rewards/<int:reward_id>")
@require(Permission.REWARDS_VIEW)
def reward(reward_id: int):
    return _reward_page(reward_id)


def _step(reward_id: int, form: FlaskForm, name: str, step: Any, done: str) -> Any:
    if not form.validate():
        return _reward_page(reward_id, "请按提示填写后再提交", 400, **{name: form})
    return act(step, done=done, then=url_for("admin.reward", reward_id=reward_id),
               refused=lambda error, status: _reward_page(reward_id, error, status,
                                                          **{name: form}),
               refusals=REFUSED)


@bp.route("/rewards/<int:reward_id>/approve", methods=["POST"])
@require(Permission.REWARDS_APPROVE)
def reward_approve(reward_id: int):
    found = _reward(reward_id)
    form = ApproveForm()
    return _step(reward_id, form, "approve",
                 lambda: rewards.approve(get_session(), found, current_user,
                                         form.amount.data or 0, form.note.data or ""),
                 "已批准举报奖励，举报人可在查询页看到领取方法。")


@bp.route("/rewards/<int:reward_id>/refuse", methods=["POST"])
@require(Permission.REWARDS_APPROVE)
def reward_refuse(reward_id: int):
    found = _reward(reward_id)
    form = RefuseForm()
    return _step(reward_id, form, "refuse",
                 lambda: rewards.refuse(get_session(), found, current_user,
                                        form.note.data or ""),
                 "已决定不予奖励。")


@bp.route("/rewards/<int:reward_id>/claim", methods=["POST"])
@require(Permission.REWARDS_MANAGE)
def reward_claim(reward_id: int):
    found = _reward(reward_id)
    form = ClaimForm()
    return _step(reward_id, form, "claim",
                 lambda: rewards.record_claim(get_session(), found, current_user,
                                              bool(form.identity_checked.data),
                                              bool(form.not_staff_declared.data)),
                 "已登记领取，待发放。")


@bp.route("/rewards/<int:reward_id>/pay", methods=["POST"])
@require(Permission.REWARDS_MANAGE)
def reward_pay(reward_id: int):
    found = _reward(reward_id)
    form = PaymentForm()
    return _step(reward_id, form, "payment",
                 lambda: rewards.record_payment(get_session(), found, current_user,
                                                form.paid_on.data or clock.local_today(),
                                                form.method.data or ""),
                 "已登记发放。")


@bp.route("/rewards/<int:reward_id>/payee", methods=["POST"])
@require(Permission.REWARDS_MANAGE, Permission.IDENTITY_READ)
def reward_payee(reward_id: int):
    """Who is rewarded: decrypted for this moderator, and audited."""
    found = _reward(reward_id)
    db = get_session()
    name = rewards.reveal_payee(db, found, cipher().decrypt, actor=current_user,
                                ip=request.remote_addr or "")
    db.commit()
    return _reward_page(reward_id, payee=name)


def _download(chunks: Any, ext: str, mimetype: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    filename = f"举报奖励台账-{clock.local_today():%Y%m%d}.{ext}"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=rewards.{ext}; filename*=UTF-8''{quote(filename)}")
    return response


@bp.route("/rewards.csv")
@require(Permission.REWARDS_VIEW)
def rewards_csv():
    rows = rewards.export_rows(get_session(), _scope())
    return _download(exports.csv_chunks(rewards.EXPORT_HEADERS, rows), "csv",
                     "text/csv; charset=utf-8")


@bp.route("/rewards.xlsx")
@require(Permission.REWARDS_VIEW)
def rewards_xlsx():
    rows = rewards.export_rows(get_session(), _scope())
    return _download(exports.xlsx_chunks(rewards.EXPORT_HEADERS, rows, "举报奖励台账"), "xlsx",
                     XLSX)
