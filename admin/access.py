"""Who may reach which back-office view: Flask-Login wiring and the one permission decorator.

Every view of the blueprint carries ``@require(...)``, or ``@public`` for the few that must
work before signing in (login and its second step); a test walks the URL map to keep it so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, redirect, request, session, url_for
from flask_login import LoginManager, current_user, logout_user
from sqlalchemy.orm import joinedload

from portal.db import get_session
from portal.domain.access import auth
from portal.domain.access.permissions import Permission, has_permission
from portal.domain.administration import townships
from portal.domain.models import User

F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.session_protection = "strong"
login_manager.login_view = "admin.login"
login_manager.login_message = "请先登录后台。"
login_manager.login_message_category = "info"

LAST_SEEN_KEY = "staff_last_seen"
# Views a signed-in user who still has to set up a second factor may reach.
_ENROLMENT_ENDPOINTS = frozenset({"admin.totp_setup", "admin.logout"})


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """The signed-in user, checked against the database on every request: the account is
    active, its password is the one signed in with, and this session has not been ended
    (signed out, "sign out everywhere", a role or department change)."""
    ident, _, session_id = user_id.rpartition(":")
    account = ident.partition(":")[0]
    if not account.isdigit():
        return None
    db = get_session()
    # The township is loaded with it: every page's header names it, and some views end the
    # session's transaction before rendering.
    user = db.get(User, int(account), options=[joinedload(User.township)])
    if (user is None or not user.active or user.password_stamp() != ident
            or not auth.session_is_live(db, user, session_id)):
        return None
    user.session_id = session_id
    return user


def require(*permissions: Permission) -> Callable[[F], F]:
    """Sign-in plus every listed permission; anonymous → the login page, lacking → 403."""
    if not permissions:
        raise TypeError("require() needs at least one permission")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if (request.endpoint not in _ENROLMENT_ENDPOINTS and current_user.totp_secret is None
                    and auth.needs_second_factor(get_session(), current_user)):
                flash("请先设置两步验证后再继续。", "info")
                return redirect(url_for("admin.totp_setup"))
            if not all(has_permission(current_user.role, p) for p in permissions):
                abort(403)
            return view(*args, **kwargs)

        guarded.required_permissions = frozenset(permissions)  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Marks a view that must answer before sign-in (the login steps). Use sparingly."""
    view.public_view = True  # type: ignore[attr-defined]
    return view


def can(permission: Permission) -> bool:
    """For templates: show a link or button only to those who may use it."""
    return bool(current_user.is_authenticated and has_permission(current_user.role, permission))


def safe_next(target: str | None) -> str | None:
    """A ``next`` parameter only if it is a path on this site ("/admin/…"), never a URL."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def client_ip() -> str:
    return request.remote_addr or ""


def idle_timeout() -> Any:
    """Sign out a staff session left idle for longer than ``STAFF_IDLE_MINUTES``."""
    if not current_user.is_authenticated:
        return None
    now = dt.datetime.now(dt.UTC).timestamp()
    limit = current_app.config["STAFF_IDLE_MINUTES"] * 60
    last = session.get(LAST_SEEN_KEY)
    if last is not None and now - float(last) > limit:
        logout_user()
        session.pop(LAST_SEEN_KEY, None)
        flash("您已长时间未操作，为安全起见已自动退出，请重新登录。", "info")
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    session[LAST_SEEN_KEY] = now
    return None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.jinja_env.globals["can"] = can
    app.jinja_env.globals["Permission"] = Permission
    app.jinja_env.globals["office_name"] = townships.office_name
