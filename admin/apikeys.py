"""合作渠道密钥: an administrator issues and revokes the partner channels' Open311 API keys."""

from __future__ import annotations

from flask import abort, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from admin import bp
from admin.access import client_ip, require
from admin.acting import act, flash_back
from admin.forms import options
from portal.db import get_session
from portal.domain.access import api_keys
from portal.domain.access.permissions import Permission, administered_townships
from portal.domain.administration import townships
from portal.domain.models import Township


class IssueKeyForm(FlaskForm):
    partner = StringField("合作渠道名称", validators=[
        DataRequired("请填写合作渠道名称"),
        Length(max=api_keys.PARTNER_MAX, message="名称过长")])
    township = SelectField("适用范围", coerce=int, default=0)


class RevokeKeyForm(FlaskForm):
    pass


def _issue_form(**kwargs: object) -> IssueKeyForm:
    """A county admin issues for the county or any township; a township admin for its own."""
    form = IssueKeyForm(**kwargs)
    mine = administered_townships(current_user)
    county = [(0, "全县（所有乡镇）")] if mine is None else []
    form.township.choices = options(county + townships.township_choices(get_session(), mine))
    if mine is not None and not form.township.data:
        (form.township.data,) = mine
    return form


def _page(form: IssueKeyForm, issued: api_keys.IssuedKey | None = None, status: int = 200):
    return render_template("admin/apikeys.html", form=form, issued=issued,
                           keys=api_keys.all_keys(get_session(), current_user),
                           revoke_form=RevokeKeyForm(),
                           places={t.id: t.name for t in get_session().scalars(
                               select(Township))}), status


@bp.get("/apikeys")
@require(Permission.SETTINGS_MANAGE)
def apikeys():
    return _page(_issue_form())


@bp.post("/apikeys")
@require(Permission.SETTINGS_MANAGE)
def apikeys_issue():
    form = _issue_form()
    if not form.validate_on_submit():
        return _page(form, status=422)
    db = get_session()
    try:
        issued = api_keys.issue(db, form.partner.data, actor=current_user, ip=client_ip(),
                                township_id=form.township.data or None)
    except api_keys.ApiKeyError as exc:
        form.partner.errors = [str(exc)]
        return _page(form, status=422)
    db.commit()
    # Rendered, not flashed: a flashed key would travel in the session cookie.
    return _page(_issue_form(formdata=None), issued)


@bp.post("/apikeys/<int:row_id>/revoke")
@require(Permission.SETTINGS_MANAGE)
def apikeys_revoke(row_id: int):
    if not RevokeKeyForm().validate_on_submit():
        abort(400)
    db = get_session()
    row = api_keys.shown_key(db, current_user, row_id)
    if row is None:
        abort(404)  # another township's key
    back = url_for("admin.apikeys")
    return act(lambda: api_keys.revoke(db, row, actor=current_user, ip=client_ip()),
               done=f"已停用“{row.partner}”的密钥（{row.prefix}…），使用它的请求将被拒绝。",
               then=back, refused=lambda message, _: flash_back(message, back, 302), code=302)
