"""Discovery, the service list and definitions, the OpenAPI document, and errors.

Every answer of the blueprint, errors included, is a GeoReport v2 document in the format the
URL asks for (``.json`` or ``.xml``, JSON when it names neither).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import current_app, jsonify, redirect, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from portal.api import bp, formats, openapi
from portal.db import get_session, rollback_session
from portal.domain.administration import settings as portal_settings
from portal.domain.administration import townships, vocabulary
from portal.domain.casework import limits
from portal.domain.models import Category, Township, Village
from portal.domain.reporting import intake
from portal.extensions import csrf

log = logging.getLogger(__name__)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# The date this server's API last changed; clients cache discovery until it does.
CHANGESET = "2026-11-29T00:00:00+08:00"
FORMAT = "<any(json, xml):fmt>"
# Category, village and venue-type codes alike.
SERVICE_CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")

FEEDBACK_VALUES = {"yes": "是", "no": "否"}

ERROR_TEXT = {
    400: "请求参数有误",
    403: "无权访问：api_key 缺失、无效或已停用",
    404: "请求的资源不存在",
    405: "不支持这种请求方法",
    413: "请求内容过大",
    429: "请求过于频繁，请稍后再试",
}


def request_format() -> str:
    """The format the URL names; errors on URLs that name none are answered in JSON."""
    return "xml" if request.path.endswith(".xml") else "json"


class Open311Error(HTTPException):
    """An error whose description is meant for the partner (it says which parameter)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code


def fail(code: int, description: str) -> Open311Error:
    return Open311Error(code, description)


def shown(value: str, limit: int = 64) -> str:
    """A value the client sent, quoted back in an error: cut short."""
    return value if len(value) <= limit else value[:limit] + "…"


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    code = exc.code or 500
    if isinstance(exc, Open311Error):
        description = exc.description or ""
    else:  # werkzeug's English texts are not for our partners
        description = ERROR_TEXT.get(code, "服务器暂时出现问题")
    response = formats.errors(request_format(), code, description)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


@bp.errorhandler(Exception)
def unhandled(exc: Exception):
    log.exception("Unhandled error on %s %s", request.method, request.path)
    rollback_session()
    return formats.errors(request_format(), 500, "服务器暂时出现问题，已记录此错误，请稍后再试")


@bp.get("/")
def root():
    return redirect(url_for("api.discovery", fmt="json"))


def requested_township(raw: str) -> Township | None:
    """The township a ``jurisdiction_id`` names (its code); None when none is given (the
    county answers for every township). An unknown or inactive one is Open311's 404."""
    raw = raw.strip()
    if not raw:
        return None
    found = townships.by_code(get_session(), raw) if SERVICE_CODE_RE.match(raw) else None
    if found is None:
        raise fail(404, f"jurisdiction_id 不存在：{shown(raw)}")
    return found


def _jurisdiction_arg() -> Township | None:
    return requested_township(request.args.get("jurisdiction_id", ""))


@bp.get(f"/discovery.{FORMAT}")
def discovery(fmt: str):
    session = get_session()
    place = portal_settings.jurisdiction(session)
    chosen = _jurisdiction_arg()
    listed = [chosen] if chosen is not None else townships.active(session)
    body = {
        "changeset": CHANGESET,
        "contact": place.get("contact") or f"{place['name']}消防安全办公室",
        "key_service": "合作渠道的 api_key 由乡消安办系统管理员签发，请联系乡消安办申请。"
                       "接口说明（OpenAPI）：" + url_for("api.openapi_document", _external=True),
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": url_for("api.root", _external=True).rstrip("/"),
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
        # Not in GeoReport v2's discovery: the townships, whose codes are the jurisdiction_id
        # every call accepts (none: the county's, for all of them).
        "jurisdictions": [{
            "jurisdiction_id": t.code,
            "name": townships.place_name(place["name"], t),
        } for t in listed],
    }
    return formats.respond(fmt, "discovery", None, body)


def _service(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": True,
        "type": "realtime",
        "keywords": "消防隐患,紧急" if category.urgent else "消防隐患",
        "group": ("紧急隐患" if category.urgent else "一般隐患")
        + f"（{limits.check_limit(category).label}内核查）",
    }


def active_category(code: str) -> Category | None:
    if not SERVICE_CODE_RE.match(code):
        return None
    return get_session().scalar(
        select(Category).where(Category.code == code, Category.active.is_(True)))


@bp.get(f"/services.{FORMAT}")
def services(fmt: str):
    # A township's services are the county's less those it switched off; an unknown
    # jurisdiction is a 404.
    township = _jurisdiction_arg()
    rows = vocabulary.in_use(get_session(), "category", _id(township))
    return formats.respond(fmt, "services", "service", [_service(c) for c in rows])


def _id(township: Township | None) -> int | None:
    return None if township is None else township.id


def _values(kind: str, township: Township | None) -> list[dict[str, str]]:
    return [{"key": row.code, "name": row.name}
            for row in vocabulary.in_use(get_session(), kind, _id(township))]


def _villages(township: Township | None) -> list[dict[str, str]]:
    """The jurisdiction's villages; county-wide named "村名（乡镇名）" (names repeat)."""
    session = get_session()
    codes = dict(session.execute(select(Village.id, Village.code)).all())
    return [{"key": codes[village_id], "name": name} for village_id, name in
            intake.village_choices(session, None if township is None else township.id)]


def attributes(township: Township | None = None) -> list[dict[str, Any]]:
    """The questions of the report form that Open311's core fields do not cover."""
    def attribute(code: str, datatype: str, required: bool, order: int, description: str,
                  datatype_description: str | None = None, values: Any = None):
        item = {"variable": True, "code": code, "datatype": datatype, "required": required,
                "datatype_description": datatype_description, "order": order,
                "description": description}
        if values is not None:
            item["values"] = values
        return item

    return [
        attribute("village", "singlevaluelist", True, 1, "隐患所在的村",
                  values=_villages(township)),
        attribute("unit_name", "string", True, 2,
                  "单位或场所名称（如“某某小卖部”“村东头加工厂”）",
                  "不超过 100 个字"),
        attribute("venue_type", "singlevaluelist", False, 3, "场所类型（不确定可不填）",
                  values=_values("venue_type", township)),
        attribute("observed_at", "datetime", False, 4, "发现隐患的时间",
                  "ISO 8601，例如 2026-11-29T08:30:00+08:00；不带时区的按北京时间"),
        attribute("wants_feedback", "singlevaluelist", False, 5,
                  "举报人希望得知办理结果（留了电话的，办结后乡消安办电话告知）",
                  values=[{"key": key, "name": name} for key, name in FEEDBACK_VALUES.items()]),
    ]


@bp.get(f"/services/<service_code>.{FORMAT}")
def service_definition(service_code: str, fmt: str):
    township = _jurisdiction_arg()
    category = active_category(service_code)
    if category is None:
        raise fail(404, f"service_code 不存在：{shown(service_code)}")
    body = {"service_code": category.code, "attributes": attributes(township)}
    return formats.respond(fmt, "service_definition", None, body)


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document(url_for("api.root", _external=True).rstrip("/")))


@bp.route("/<anypath:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@csrf.exempt  # it only ever answers with an error
def not_found(rest: str):
    """Unknown paths and wrong methods under the API answer as the API does, not with the
    site's HTML error page."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = [m for m in ("GET", "POST") if m != request.method
               and _endpoint_for(adapter, m) not in (None, "api.not_found")]
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise NotFound()


def _endpoint_for(adapter: Any, method: str) -> str | None:
    try:
        endpoint, _args = adapter.match(request.path, method=method)
    except HTTPException:
        return None
    return endpoint
