"""Staff accounts: list, create, edit role/department/2FA, reset password, deactivate, sign
out everywhere. A role or department change ends the account's sessions (``accounts``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from admin import bp
from admin.access import client_ip, require
from admin.acting import act, flash_back
from admin.forms import ActionForm, ResetPasswordForm, UserCreateForm, UserEditForm, options
from portal.db import get_session
from portal.domain.access import accounts, auth
from portal.domain.access.permissions import Permission, administered_townships
from portal.domain.administration import townships
from portal.domain.enums import Role
from portal.domain.models import Department, User


def _departments(form: UserCreateForm | UserEditForm) -> None:
    """The places the admin may give an account: a township admin, its township and that
    township's own departments; a county admin, the county or any township, any department."""
    db = get_session()
    mine = administered_townships(current_user)
    county = [("", "县级（全县）")] if mine is None else []
    form.township.choices = options(county + [
        (t.code, t.name) for t in townships.active(db) if mine is None or t.id in mine])
    if mine is not None and not form.township.data:
        form.township.data = form.township.choices[0].value
    query = select(Department).where(Department.active)
    if mine is not None:
        query = query.where(Department.township_id.in_(sorted(mine)))
    form.department.choices = options([("", "（无）")] + [
        (d.code, d.name) for d in db.scalars(query.order_by(Department.name))])


def _user(user_id: int) -> User:
    user = accounts.shown_user(get_session(), current_user, user_id)
    if user is None:
        abort(404)  # another township's account: its existence does not leak
    return user


def _create(form: UserCreateForm) -> User:
    db = get_session()
    user = accounts.create_user(
        db, form.username.data, Role(form.role.data), form.password.data,
        department_code=form.department.data or None,
        township_code=form.township.data or None,
        display_name=form.display_name.data or "", actor=current_user,
    )
    user.totp_required = form.totp_required.data
    db.flush()
    return user


# The account screens have always answered 302, and shown a refusal on the form with 200.
@bp.route("/users", methods=["GET", "POST"])
@require(Permission.USERS_MANAGE)
def users():
    form = UserCreateForm()
    _departments(form)

    def page(error: str | None = None) -> Any:
        rows = accounts.listed(get_session(), current_user)
        return render_template("admin/users.html", users=rows, form=form, error=error)

    if not form.validate_on_submit():
        return page()
    return act(lambda: _create(form), done=lambda user: f"已创建用户 {user.username}。",
               then=url_for("admin.users"), refused=lambda message, _: page(message), code=302)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require(Permission.USERS_MANAGE)
def user_edit(user_id: int):
    db = get_session()
    user = _user(user_id)
    form = UserEditForm(obj=None, display_name=user.display_name, role=user.role.value,
                        department=user.department.code if user.department else "",
                        township=user.township.code if user.township else "",
                        totp_required=user.totp_required)
    _departments(form)

    def page(error: str | None = None) -> Any:
        return render_template("admin/user_edit.html", user=user, form=form, error=error,
                               reset=ResetPasswordForm(), action=ActionForm())

    if not form.validate_on_submit():
        return page()
    return act(
        lambda: accounts.update_user(
            db, user, role=Role(form.role.data), department_code=form.department.data or None,
            township_code=form.township.data or None,
            display_name=form.display_name.data or "", totp_required=form.totp_required.data,
            actor=current_user),
        done="已保存。", then=url_for("admin.user_edit", user_id=user.id),
        refused=lambda message, _: page(message), code=302)


def _on_user_page(user: User, form: FlaskForm, step: Callable[[], object], done: str) -> Any:
    """A step taken from a user's page: said and back there (302), refused or not."""
    back = url_for("admin.user_edit", user_id=user.id)
    if not form.validate_on_submit():
        return redirect(back)
    return act(step, done=done, then=back, code=302,
               refused=lambda message, _: flash_back(message, back, 302))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@require(Permission.USERS_MANAGE)
def user_reset_password(user_id: int):
    user = _user(user_id)
    form = ResetPasswordForm()
    return _on_user_page(
        user, form,
        lambda: accounts.set_password(get_session(), user, form.password.data,
                                      actor=current_user),
        f"已重置 {user.username} 的密码，其已登录的会话均已失效。")


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@require(Permission.USERS_MANAGE)
def user_toggle_active(user_id: int):
    user = _user(user_id)
    toggle = accounts.deactivate if user.active else accounts.reactivate
    return _on_user_page(user, ActionForm(),
                         lambda: toggle(get_session(), user, actor=current_user),
                         "已停用。" if user.active else "已启用。")


@bp.route("/users/<int:user_id>/sessions/end", methods=["POST"])
@require(Permission.USERS_MANAGE)
def user_end_sessions(user_id: int):
    """Sign an account out everywhere (a lost phone, a departure); audited."""
    user = _user(user_id)
    return _on_user_page(user, ActionForm(),
                         lambda: accounts.end_sessions(get_session(), user, actor=current_user,
                                                       ip=client_ip()),
                         f"{user.username} 的所有已登录会话均已结束。")


@bp.route("/users/<int:user_id>/2fa-reset", methods=["POST"])
@require(Permission.USERS_MANAGE)
def user_reset_totp(user_id: int):
    user = _user(user_id)
    return _on_user_page(user, ActionForm(),
                         lambda: auth.reset_totp(get_session(), user, actor=current_user,
                                                 ip=client_ip()),
                         "已清除两步验证，该用户下次登录后需重新设置。")
