"""Error pages in Chinese for every status the portal answers with; never a stack trace."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask, Response, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from portal.db import rollback_session
from portal.domain.administration.settings import DEFAULT_JURISDICTION
from portal.domain.clock import to_local
from portal.extensions import limiter

log = logging.getLogger(__name__)

MESSAGES: dict[int, tuple[str, str]] = {
    400: ("请求有误", "提交的内容无法处理，请返回检查后重试。"),
    403: ("无权访问", "您没有访问此页面的权限。"),
    404: ("页面不存在", "您要找的页面不存在或已被移除，请检查网址。"),
    405: ("操作方式不正确", "此页面不支持这种操作方式，请从页面上的按钮或链接进入。"),
    413: ("提交的内容过大", "上传的文件或内容超过了大小限制。请减少照片数量或压缩照片后重试。"),
    429: ("操作过于频繁", "您的操作过于频繁，请稍后再试。"),
    500: ("系统出现错误", "服务器暂时出现问题，我们已记录此错误。请稍后再试。"),
    503: ("服务暂不可用", "系统正在维护或暂时繁忙，请稍后再试。"),
}

CSRF_MESSAGE = "页面已过期或表单校验失败，请返回上一页刷新后重新提交。"
TLS_MESSAGE = ("此网站必须通过加密连接（HTTPS）访问，当前连接未加密，表单无法提交。"
               "请在地址栏改用以 https:// 开头的网址重新打开本页后再提交。")


def refused_for_plain_http() -> bool:
    """A form refused because it came over plain HTTP to a site whose cookies are ``Secure``:
    the browser kept the session cookie (and with it the form's token) to itself."""
    config = current_app.config
    return bool(config.get("SESSION_COOKIE_SECURE") and not request.is_secure
                and config["SESSION_COOKIE_NAME"] not in request.cookies)


def _staff_page(code: int) -> bool:
    """A refusal inside the back office keeps the staff layout and menu. Not for 5xx: the
    staff layout reads the database (the user, the menu's permissions), which may be why
    the request failed."""
    return code < 500 and (request.path == "/admin" or request.path.startswith("/admin/"))


def _render(code: int, detail: str | None = None, retry_after: str | None = None):
    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    return (
        render_template(
            "errors/error.html",
            layout="admin/layout.html" if _staff_page(code) else "base.html",
            code=code,
            title=title,
            message=detail or message,
            retry_after=retry_after,
        ),
        code,
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError):
        return _render(400, TLS_MESSAGE if refused_for_plain_http() else CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        if exc.code >= 500:
            log.error("HTTP %s on %s %s", exc.code, request.method, request.path)
        retry_after = None
        if exc.code == 429:
            retry_after = _retry_after_text()
        response, code = _render(exc.code, retry_after=retry_after)
        headers = exc.get_headers() if exc.code in (405, 429) else []
        return response, code, [h for h in headers if h[0].lower() != "content-type"]

    @app.errorhandler(SecurityError)
    def untrusted_host(_exc: SecurityError):
        # No page can be drawn for a host the portal is not (links would be built from it).
        return Response("请求的主机名不属于本平台。", status=400,
                        mimetype="text/plain; charset=utf-8")

    @app.errorhandler(DataError)
    def bad_data(exc: DataError):
        # Values the database cannot hold (e.g. NUL characters on PostgreSQL) are bad input.
        log.warning("Refused data on %s %s: %s", request.method, request.path, exc.orig)
        rollback_session()
        return _render(400)

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError):
        # The database is restarting, unreachable, or a statement outlasted its timeout:
        # nothing was stored, try again shortly.
        log.error("Database unavailable on %s %s: %s", request.method, request.path, exc.orig)
        rollback_session()
        # The page's header must not ask the database again: a stuck database would keep the
        # resident waiting another statement timeout, past gunicorn's worker timeout.
        g.setdefault("jurisdiction", dict(DEFAULT_JURISDICTION))
        response, code = _render(503)
        return response, code, [("Retry-After", "5")]

    @app.errorhandler(Exception)
    def unhandled(exc: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        rollback_session()
        return _render(InternalServerError.code)


def _retry_after_text() -> str | None:
    """Local clock time at which the breached limit resets, e.g. "14:05"."""
    limit = limiter.current_limit
    if limit is None:
        return None
    return to_local(dt.datetime.fromtimestamp(limit.reset_at, dt.UTC)).strftime("%H:%M")
