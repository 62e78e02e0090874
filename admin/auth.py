"""Sign-in, the second factor, sign-out and password change."""

from __future__ import annotations

import base64
import datetime as dt
import io

import segno
from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from limits import parse

from admin import bp
from admin.access import LAST_SEEN_KEY, client_ip, public, require, safe_next
from admin.forms import ActionForm, LoginForm, PasswordChangeForm, SmsRemindersForm, TotpForm
from portal.db import get_session
from portal.domain.access import accounts, auth
from portal.domain.access.permissions import Permission, has_permission
from portal.domain.clock import to_local
from portal.domain.enums import Role
from portal.domain.models import User
from portal.extensions import limiter
from portal.identity import cipher

# Failed sign-ins from one address, counted in the rate limiter's shared storage (Redis in
# production) so that every app instance sees the same count.
IP_FAILURES = parse("20 per 15 minutes")
_IP_NAMESPACE = "admin-login-failures"
# A name that is no account locks like an account does (five failures, then the same message
# for fifteen minutes), so the lock does not tell which names exist. Counted in the same
# storage as the per-address failures: shared by the instances when that is Redis, kept by
# each instance on its own when the limiter has fallen back to memory.
UNKNOWN_NAME_FAILURES = parse(f"{auth.MAX_FAILED_LOGINS} per 1 day")
UNKNOWN_NAME_LOCK = parse(f"1 per {auth.LOCK_MINUTES} minutes")
_UNKNOWN_NAMESPACE = "admin-login-unknown-name"
_UNKNOWN_LOCK_NAMESPACE = "admin-login-unknown-lock"
PENDING_2FA_KEY = "pending_2fa_user"
PENDING_NEXT_KEY = "pending_2fa_next"
TOTP_SETUP_KEY = "totp_setup_secret"


def _ip_blocked_until() -> dt.datetime | None:
    strategy = limiter.limiter
    if strategy.test(IP_FAILURES, _IP_NAMESPACE, client_ip()):
        return None
    reset = strategy.get_window_stats(IP_FAILURES, _IP_NAMESPACE, client_ip()).reset_time
    return dt.datetime.fromtimestamp(reset, dt.UTC)


def _count_ip_failure() -> None:
    limiter.limiter.hit(IP_FAILURES, _IP_NAMESPACE, client_ip())


def _unknown_name_locked_until(username: str) -> dt.datetime | None:
    strategy, name = limiter.limiter, username.strip().lower()
    if strategy.test(UNKNOWN_NAME_LOCK, _UNKNOWN_LOCK_NAMESPACE, name):
        return None
    reset = strategy.get_window_stats(UNKNOWN_NAME_LOCK, _UNKNOWN_LOCK_NAMESPACE, name).reset_time
    return dt.datetime.fromtimestamp(reset, dt.UTC)


def _count_unknown_name_failure(username: str) -> dt.datetime | None:
    """Count a failure for a name that is no account, as ``auth`` counts one for an account:
    the fifth locks the name for ``LOCK_MINUTES`` and the count starts afresh."""
    strategy, name = limiter.limiter, username.strip().lower()
    strategy.hit(UNKNOWN_NAME_FAILURES, _UNKNOWN_NAMESPACE, name)
    if strategy.test(UNKNOWN_NAME_FAILURES, _UNKNOWN_NAMESPACE, name):
        return None
    strategy.clear(UNKNOWN_NAME_FAILURES, _UNKNOWN_NAMESPACE, name)
    strategy.hit(UNKNOWN_NAME_LOCK, _UNKNOWN_LOCK_NAMESPACE, name)
    return _unknown_name_locked_until(name)


def _retry_text(until: dt.datetime) -> str:
    local = to_local(until)
    today = to_local(dt.datetime.now(dt.UTC)).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%m月%d日 %H:%M")


def _landing(user: User) -> str:
    """Each role starts where its day's work is."""
    if has_permission(user.role, Permission.QUEUE_VIEW):
        return url_for("admin.queue")
    if user.role is Role.OFFICER:
        return url_for("admin.desk")
    if user.role is Role.GRID_INSPECTOR:
        # Their tasks (and filings); the hub until the task list's screen exists.
        mine = "admin.my_tasks" if "admin.my_tasks" in current_app.view_functions else None
        return url_for(mine or "admin.inspections")
    if has_permission(user.role, Permission.SUPERVISION_VIEW):
        return url_for("admin.supervision")
    return url_for("admin.home")


def _finish_login(user: User, next_url: str | None):
    session.pop(PENDING_2FA_KEY, None)
    session.pop(PENDING_NEXT_KEY, None)
    db = get_session()
    auth.start_session(db, user)
    login_user(user)
    session[LAST_SEEN_KEY] = dt.datetime.now(dt.UTC).timestamp()
    auth.record_login(db, user, ip=client_ip())
    db.commit()
    return redirect(safe_next(next_url) or _landing(user))


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(_landing(current_user))
    form = LoginForm(next=request.args.get("next", ""))
    error, status = None, 200
    if form.validate_on_submit():
        blocked = _ip_blocked_until()
        if blocked is not None:
            error = f"此网络的登录失败次数过多，请在 {_retry_text(blocked)} 之后再试。"
            return render_template("admin/login.html", form=form, error=error), 429
        db = get_session()
        result = auth.check_password(db, form.username.data, form.password.data, ip=client_ip())
        db.commit()  # failed attempts must count even though sign-in fails
        if result.unknown:
            locked_until = (_unknown_name_locked_until(form.username.data)
                            or _count_unknown_name_failure(form.username.data))
            if locked_until is not None:
                result = auth.LoginResult(auth.Outcome.LOCKED, locked_until=locked_until)
        if result.outcome is auth.Outcome.OK and result.user is not None:
            user = result.user
            if user.totp_secret:
                session[PENDING_2FA_KEY] = user.password_stamp()
                session[PENDING_NEXT_KEY] = safe_next(form.next.data) or ""
                return redirect(url_for("admin.login_totp"))
            return _finish_login(user, form.next.data)
        _count_ip_failure()
        if result.outcome is auth.Outcome.LOCKED and result.locked_until is not None:
            error = (f"登录失败次数过多，此账户已暂时锁定，请在 {_retry_text(result.locked_until)}"
                     " 之后再试。")
            status = 429
        else:
            error = "用户名或密码不正确。"
            status = 200
    return render_template("admin/login.html", form=form, error=error), status


def _pending_user() -> User | None:
    ident = session.get(PENDING_2FA_KEY, "")
    user_id, _, _ = ident.partition(":")
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    if (user is None or not user.active or user.password_stamp() != ident
            or not user.totp_secret):
        return None
    return user


@bp.route("/login/totp", methods=["GET", "POST"])
@public
def login_totp():
    user = _pending_user()
    if user is None:
        return redirect(url_for("admin.login"))
    form = TotpForm()
    error = None
    if form.validate_on_submit():
        blocked = _ip_blocked_until()
        if blocked is not None:
            error = f"此网络的登录失败次数过多，请在 {_retry_text(blocked)} 之后再试。"
            return render_template("admin/login_totp.html", form=form, error=error), 429
        if auth.check_user_totp(get_session(), user, form.code.data, cipher()):
            return _finish_login(user, session.get(PENDING_NEXT_KEY))
        _count_ip_failure()
        error = "验证码不正确或已过期，请查看验证器中的最新验证码。"
    return render_template("admin/login_totp.html", form=form, error=error)


@bp.route("/logout", methods=["POST"])
@require(Permission.STAFF)
def logout():
    """This session ends on the server too: a copy of its cookie no longer signs in; the
    account's sessions in other browsers go on. With ``everywhere`` ("sign out everywhere"),
    every session of the account ends, this one included (audited)."""
    db = get_session()
    everywhere = request.form.get("everywhere") == "1" and ActionForm().validate_on_submit()
    if everywhere:
        accounts.end_sessions(db, current_user, actor=current_user, ip=client_ip())
    else:
        auth.end_session(db, current_user.session_id)
    db.commit()
    logout_user()
    session.pop(LAST_SEEN_KEY, None)
    flash("已在所有设备上退出登录。" if everywhere else "已安全退出。", "info")
    return redirect(url_for("admin.login"))


@bp.route("/")
@require(Permission.STAFF)
def home():
    return render_template("admin/home.html", logout_form=ActionForm())


@bp.route("/password", methods=["GET", "POST"])
@require(Permission.STAFF)
def password():
    form = PasswordChangeForm()
    error = None
    if form.validate_on_submit():
        db = get_session()
        if not accounts.password_matches(current_user, form.current.data):
            error = "当前密码不正确。"
        else:
            try:
                accounts.set_password(db, current_user, form.new.data, actor=current_user)
            except accounts.AccountError as exc:
                error = str(exc)
            else:
                # The change ended every session of the account; this one goes on afresh.
                user = current_user._get_current_object()
                auth.start_session(db, user)
                db.commit()
                login_user(user)  # the id includes the password date and the new session
                flash("密码已修改。", "success")
                return redirect(url_for("admin.home"))
    return render_template("admin/password.html", form=form, error=error)


@bp.route("/account/sms", methods=["GET", "POST"])
@require(Permission.STAFF)
def sms_reminders():
    """A staff member's own choice of reminders by SMS, and the mobile they go to."""
    user = current_user._get_current_object()
    form = SmsRemindersForm(mobile=user.mobile, notify_sms=user.notify_sms)
    error = None
    if form.validate_on_submit():
        db = get_session()
        try:
            accounts.set_sms_reminders(db, user, mobile=form.mobile.data or "",
                                       notify_sms=bool(form.notify_sms.data), actor=user)
        except accounts.AccountError as exc:
            db.rollback()
            error = str(exc)
        else:
            db.commit()
            flash("短信提醒设置已保存。" if user.notify_sms else "已关闭短信提醒。", "success")
            return redirect(url_for("admin.sms_reminders"))
    return render_template("admin/sms_reminders.html", form=form, error=error)


def _qr_svg(uri: str) -> str:
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@bp.route("/2fa", methods=["GET", "POST"])
@require(Permission.STAFF)
def totp_setup():
    """Enrol an authenticator app: scan the QR code, type one code to prove it works."""
    secret = session.get(TOTP_SETUP_KEY) or auth.new_totp_secret()
    session[TOTP_SETUP_KEY] = secret
    form = TotpForm()
    error = None
    if form.validate_on_submit():
        db = get_session()
        refused = auth.enrol_totp(db, current_user, secret, form.code.data, cipher(),
                                  ip=client_ip(),
                                  current_code=request.form.get("current_code", ""))
        if refused is None:
            db.commit()
            session.pop(TOTP_SETUP_KEY, None)
            flash("两步验证已启用，今后登录时需要输入验证器中的验证码。", "success")
            return redirect(url_for("admin.home"))
        db.commit()  # a current code that was accepted stays used
        if refused is auth.TotpRefused.WRONG_CURRENT_CODE:
            error = ("原验证器的验证码不正确。更换验证器需要原验证器中的当前验证码；"
                     "原手机已丢失时，请联系管理员清除两步验证。")
        else:
            error = "验证码不正确，请确认手机时间准确后重试。"
    uri = auth.provisioning_uri(current_user, secret)
    return render_template(
        "admin/totp_setup.html", form=form, error=error, secret=secret, qr=_qr_svg(uri),
        enrolled=current_user.totp_secret is not None,
        idle_minutes=current_app.config["STAFF_IDLE_MINUTES"],
    )
