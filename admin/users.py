"""Staff accounts: list, create, edit role/department/2FA, reset password, deactivate."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import client_ip, require
from admin.forms import ActionForm, ResetPasswordForm, UserCreateForm, UserEditForm, options
from portal.db import get_session
from portal.domain.access import accounts, auth
from portal.domain.access.permissions import Permission
from portal.domain.enums import Role
from portal.domain.models import Department, User


def _departments(form: UserCreateForm | UserEditForm) -> None:
    form.department.choices = options([("", "（无）")] + [
        (d.code, d.name) for d in get_session().scalars(
            select(Department).where(Department.active).order_by(Department.name))
    ])


def _user(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users", methods=["GET", "POST"])
@require(Permission.USERS_MANAGE)
def users():
    db = get_session()
    form = UserCreateForm()
    _departments(form)
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                db, form.username.data, Role(form.role.data), form.password.data,
                department_code=form.department.data or None,
                display_name=form.display_name.data or "", actor=current_user,
            )
            user.totp_required = form.totp_required.data
            db.flush()
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            db.commit()
            flash(f"已创建用户 {user.username}。", "success")
            return redirect(url_for("admin.users"))
    rows = db.scalars(select(User).order_by(User.active.desc(), User.username)).all()
    return render_template("admin/users.html", users=rows, form=form, error=error)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require(Permission.USERS_MANAGE)
def user_edit(user_id: int):
    db = get_session()
    user = _user(user_id)
    form = UserEditForm(obj=None, display_name=user.display_name, role=user.role.value,
                        department=user.department.code if user.department else "",
                        totp_required=user.totp_required)
    _departments(form)
    error = None
    if form.validate_on_submit():
        try:
            accounts.update_user(
                db, user, role=Role(form.role.data),
                department_code=form.department.data or None,
                display_name=form.display_name.data or "",
                totp_required=form.totp_required.data, actor=current_user,
            )
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            db.commit()
            flash("已保存。", "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_edit.html", user=user, form=form, error=error,
                           reset=ResetPasswordForm(), action=ActionForm())


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@require(Permission.USERS_MANAGE)
def user_reset_password(user_id: int):
    db = get_session()
    user = _user(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.set_password(db, user, form.password.data, actor=current_user)
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            db.commit()
            flash(f"已重置 {user.username} 的密码，其已登录的会话均已失效。", "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@require(Permission.USERS_MANAGE)
def user_toggle_active(user_id: int):
    db = get_session()
    user = _user(user_id)
    if ActionForm().validate_on_submit():
        try:
            if user.active:
                accounts.deactivate(db, user, actor=current_user)
            else:
                accounts.reactivate(db, user, actor=current_user)
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            db.commit()
            flash("已停用。" if not user.active else "已启用。", "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/2fa-reset", methods=["POST"])
@require(Permission.USERS_MANAGE)
def user_reset_totp(user_id: int):
    db = get_session()
    user = _user(user_id)
    if ActionForm().validate_on_submit():
        auth.reset_totp(db, user, actor=current_user, ip=client_ip())
        db.commit()
        flash("已清除两步验证，该用户下次登录后需重新设置。", "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))
