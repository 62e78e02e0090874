"""Bulletins (通报): draft from a period's figures, edit the wording, publish."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, current_app, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from admin import bp
from admin.access import require
from admin.acting import act, flash_back
from portal.db import get_session
from portal.domain import clock
from portal.domain.access.permissions import Permission, townships_of
from portal.domain.administration import settings as portal_settings
from portal.domain.administration import townships
from portal.domain.clock import utcnow
from portal.domain.models import Bulletin
from portal.domain.supervision import bulletins as bulletin_service

REQUIRED = "此项必填"


class PeriodForm(FlaskForm):
    period_start = DateField("开始日期", validators=[DataRequired(REQUIRED)])
    period_end = DateField("结束日期", validators=[DataRequired(REQUIRED)])


class BulletinForm(FlaskForm):
    title = StringField("标题", validators=[DataRequired(REQUIRED), Length(max=200)])
    text = TextAreaField("正文", validators=[DataRequired(REQUIRED), Length(max=50000)])


class PublishForm(FlaskForm):
    pass


def _bulletin(bulletin_id: int) -> Bulletin:
    """A bulletin the user may read; another township's answers 404."""
    found = get_session().scalar(select(Bulletin).where(
        Bulletin.id == bulletin_id, bulletin_service.readable(townships_of(current_user))))
    if found is None:
        abort(404)
    return found


def _rows() -> list[Bulletin]:
    return list(get_session().scalars(
        select(Bulletin).where(bulletin_service.readable(townships_of(current_user)))
        .order_by(Bulletin.created_at.desc(), Bulletin.id.desc()).limit(100)))


@bp.route("/bulletins")
@require(Permission.SUPERVISION_VIEW)
def bulletins():
    rows = _rows()
    form = PeriodForm()
    # Bulletins are usually monthly: propose last month.
    last_month_end = clock.local_today(tz=current_app.config["TIMEZONE"]).replace(day=1) \
        - dt.timedelta(days=1)
    form.period_start.data = last_month_end.replace(day=1)
    form.period_end.data = last_month_end
    return render_template("admin/bulletins.html", rows=rows, form=form)


@bp.route("/bulletins/new", methods=["POST"])
@require(Permission.BULLETINS_MANAGE)
def bulletin_new():
    db = get_session()
    form = PeriodForm()

    def page(error: str, status: int) -> Any:
        return render_template("admin/bulletins.html", rows=_rows(), form=form,
                               error=error), status

    if not form.validate():
        return page("请填写通报期间", 400)
    return act(
        lambda: bulletin_service.draft(
            db, form.period_start.data, form.period_end.data, actor=current_user,
            township=townships.place_name(portal_settings.jurisdiction(db)["name"],
                                          current_user.township),
            now=utcnow(),
            tz=current_app.config["TIMEZONE"]),
        done="已按本期数据生成通报草稿，请修改措辞后发布。",
        then=lambda bulletin: url_for("admin.bulletin", bulletin_id=bulletin.id),
        refused=page)


@bp.route("/bulletins/<int:bulletin_id>")
@require(Permission.SUPERVISION_VIEW)
def bulletin(bulletin_id: int):
    found = _bulletin(bulletin_id)
    form = BulletinForm(obj=found)
    return render_template("admin/bulletin.html", bulletin=found, form=form,
                           publish_form=PublishForm())


@bp.route("/bulletins/<int:bulletin_id>/edit", methods=["POST"])
@require(Permission.BULLETINS_MANAGE)
def bulletin_edit(bulletin_id: int):
    db = get_session()
    found = _bulletin(bulletin_id)
    form = BulletinForm()

    def page(error: str, status: int) -> Any:
        return render_template("admin/bulletin.html", bulletin=_bulletin(bulletin_id),
                               form=form, publish_form=PublishForm(), error=error), status

    if not form.validate():
        return page("请按提示填写后再保存", 400)
    return act(
        lambda: bulletin_service.edit(db, found, actor=current_user, title=form.title.data,
                                      text=form.text.data),
        done="通报已保存。", then=url_for("admin.bulletin", bulletin_id=bulletin_id),
        refused=page)


@bp.route("/bulletins/<int:bulletin_id>/publish", methods=["POST"])
@require(Permission.BULLETINS_MANAGE)
def bulletin_publish(bulletin_id: int):
    db = get_session()
    found = _bulletin(bulletin_id)
    if not PublishForm().validate():
        abort(400)
    back = url_for("admin.bulletin", bulletin_id=bulletin_id)
    return act(lambda: bulletin_service.publish(db, found, actor=current_user),
               done="通报已发布到公开网站。", then=back,
               refused=lambda message, _: flash_back(message, back))
