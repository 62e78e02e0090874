"""Service requests: partners post tips; everyone reads disclosed cases; a partner follows its
own tips by id or token."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, request, url_for
from flask_limiter.util import get_remote_address
from sqlalchemy import select

from portal.api import bp, formats, records
from portal.api.routes import (
    FEEDBACK_VALUES,
    FORMAT,
    SERVICE_CODE_RE,
    active_category,
    fail,
    requested_township,
    shown,
)
from portal.db import get_session
from portal.domain.access import api_keys
from portal.domain.clock import local_zone, utcnow
from portal.domain.enums import Channel
from portal.domain.models import ApiKey, Township, VenueType, Village
from portal.domain.reporting import intake
from portal.domain.reporting.identity import group_receipt
from portal.extensions import csrf, limiter
from portal.identity import cipher, receipt_key
from portal.web.caching import conditional

# Per key (per client address for requests without one); partners that need more ask.
POST_RATE_LIMIT = "30 per minute;2000 per day"
# Per client address whatever the key, so that made-up keys cannot be tried without end.
POST_ADDRESS_LIMIT = "120 per minute"
MEDIA_URL_MAX = 500
ID_LIST_MAX = 1000
_MEDIA_URL_RE = re.compile(r"^https?://[^\s<>\"\x00-\x1f\x7f]+\Z")

# Intake's field names → the parameters a partner sent.
_PARAMETER = {
    "village": "attribute[village]",
    "unit_name": "attribute[unit_name]",
    "venue_type": "attribute[venue_type]",
    "observed_at": "attribute[observed_at]",
    "wants_feedback": "attribute[wants_feedback]",
    "category": "service_code",
    "description": "description",
    "address": "address_string",
    "location": "lat/long",
    "reporter_name": "first_name/last_name",
    "reporter_phone": "phone",
}


def _clock() -> records.Clock:
    return records.Clock(local_zone())


def _media_url(stored_name: str) -> str:
    return url_for("public.media", name=stored_name, _external=True)


# What a POST body may be: the specification's form encodings, or a JSON object.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ENCODING_MESSAGE = ("请求体须为 application/x-www-form-urlencoded、multipart/form-data "
                    "或 application/json（一个对象）编码")


def _json_fields() -> dict[str, str]:
    """A JSON object body as the form's flat names: ``{"attribute": {"village": "V01"}}`` and
    ``{"attribute[village]": "V01"}`` both give ``attribute[village]``. Empty for any other
    body (``_check_encoding`` tells the caller what was wrong)."""
    if not request.is_json:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return {}
    fields: dict[str, str] = {}
    for key, value in body.items():
        if key == "attribute" and isinstance(value, dict):
            fields.update({f"attribute[{k}]": _json_text(v) for k, v in value.items()})
        else:
            fields[str(key)] = _json_text(value)
    return fields


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _check_encoding() -> None:
    """A body the API cannot read is named as such, not taken for a missing api_key."""
    if request.is_json:
        if not isinstance(request.get_json(silent=True), dict):
            raise fail(400, ENCODING_MESSAGE)
    elif request.content_length and request.mimetype not in FORM_TYPES:
        raise fail(400, ENCODING_MESSAGE)


def _raw(name: str) -> str:
    """A parameter from the query string, the form or a JSON body, as sent."""
    value = request.values.get(name)
    if value is None:
        value = _json_fields().get(name)
    return value or ""


def _param(name: str) -> str:
    return _raw(name).strip()


def _partner(*, required: bool) -> ApiKey | None:
    raw = _param("api_key")
    if not raw and not required:
        return None
    key = api_keys.authenticate(get_session(), raw)
    if key is None:
        raise fail(403, "api_key 缺失、无效或已停用" if required else "api_key 无效或已停用")
    return key


def _jurisdiction(partner: ApiKey | None) -> Township | None:
    """The township ``jurisdiction_id`` names (None: the county). A key of one township
    answers for that township only: without ``jurisdiction_id`` it is that township, and any
    other one is refused."""
    township = requested_township(_param("jurisdiction_id"))
    if partner is None or partner.township_id is None:
        return township
    if township is None:
        return get_session().get(Township, partner.township_id)
    if township.id != partner.township_id:
        raise fail(403, f"此 api_key 只能用于本乡镇，不能用于 jurisdiction_id {township.code}")
    return township


def _township_id(township: Township | None) -> int | None:
    return None if township is None else township.id


def _rate_key() -> str:
    prefix = _param("api_key").partition(".")[0][:16]
    return f"open311:{prefix}" if prefix else f"open311-ip:{request.remote_addr}"


def _post_limit() -> str:
    return POST_RATE_LIMIT  # read per request, so that a test can lower it


def _get_limit() -> str:
    return current_app.config["OPEN311_GET_RATE_LIMIT"]


# Reading requests, one budget per client address across the three endpoints; a 304 counts.
read_limit = limiter.shared_limit(_get_limit, scope="open311-read",
                                  key_func=get_remote_address)


def _time(name: str) -> dt.datetime | None:
    raw = _param(name)
    if not raw:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raw += "T00:00:00"
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=local_zone())
        return value.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise fail(400, f"{name} 须为 ISO 8601 时间，例如 2026-11-01T00:00:00+08:00") from None


def _coordinate(name: str) -> float | None:
    raw = _param(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise fail(400, f"{name} 须为数字（WGS-84 经纬度）") from None


def _attribute(model, code: str, required: bool) -> int | None:
    raw = _param(f"attribute[{code}]")
    if not raw:
        if required:
            raise fail(400, f"缺少必填属性 attribute[{code}]")
        return None
    row = get_session().scalar(select(model).where(model.code == raw, model.active.is_(True))) \
        if SERVICE_CODE_RE.match(raw) else None
    if row is None:
        raise fail(400, f"attribute[{code}] 的取值不在服务定义的列表中：{shown(raw)}")
    return row.id


def _reporter_name() -> str:
    first, last = _param("first_name"), _param("last_name")
    if all(part.isascii() for part in (first, last)):
        return " ".join(p for p in (first, last) if p)
    return f"{last}{first}"  # Chinese names: family name first, no space


@bp.post(f"/requests.{FORMAT}")
@csrf.exempt  # partners authenticate with api_key; there is no browser session to forge
@limiter.limit(_post_limit, key_func=_rate_key)
@limiter.limit(POST_ADDRESS_LIMIT, key_func=get_remote_address)
def create_request(fmt: str):
    _check_encoding()
    partner = _partner(required=True)
    assert partner is not None  # required: _partner answered 403 otherwise
    township = _jurisdiction(partner)
    code = _param("service_code")
    if not code:
        raise fail(400, "缺少 service_code")
    category = active_category(code)
    if category is None:
        raise fail(400, f"service_code 不存在：{shown(code)}")
    lat, lon = _coordinate("lat"), _coordinate("long")
    address = _param("address_string")
    if (lat is None or lon is None) and not address:
        raise fail(400, "须提供位置：lat 与 long，或 address_string")
    description = _raw("description")
    if len(description) > 4000:
        raise fail(400, "description 不能超过 4000 个字符")
    media_url = _param("media_url")
    if media_url and (len(media_url) > MEDIA_URL_MAX or not _MEDIA_URL_RE.match(media_url)):
        raise fail(400, "media_url 须为 http 或 https 网址")
    observed_at = _time("attribute[observed_at]")
    feedback = _param("attribute[wants_feedback]") or "no"
    if feedback not in FEEDBACK_VALUES:
        raise fail(400, "attribute[wants_feedback] 只能是 yes 或 no")
    db = get_session()
    data = intake.TipInput(
        channel=Channel.API,
        village_id=_attribute(Village, "village", required=True),
        category_id=category.id,
        venue_type_id=_attribute(VenueType, "venue_type", required=False),
        unit_name=_param("attribute[unit_name]"),
        description=description,
        address=address,
        observed_at=observed_at,
        lat=lat,
        lon=lon,
        reporter_name=_reporter_name(),
        reporter_phone=_param("phone"),
        wants_feedback=feedback == "yes",
        township_id=_township_id(township),
    )
    try:
        intake.validate(db, data)
        if media_url:
            # Not fetched (the server would fetch whatever a partner names): the moderators
            # see the link with the tip and decide. Added after the caller's own words were
            # checked, so that a link never makes up for a missing description.
            data.description += f"\n\n合作渠道附图：{media_url}"
        result = intake.submit_tip(db, data, cipher=cipher(), receipt_key=receipt_key())
    except intake.IntakeError as exc:
        return formats.errors(fmt, 400, *(f"{_PARAMETER.get(field, field)}：{message}"
                                          for field, message in exc.errors.items()))
    result.tip.api_key_id = partner.id
    db.flush()
    db.commit()
    notice = "已收到，等待乡消安办审核。"
    if result.receipt_code:
        notice += (f"举报人可凭查询码 {group_receipt(result.receipt_code)} "
                   "在本平台“查询进度”查看办理情况并与工作人员留言。")
    return formats.requests(fmt, [{
        "service_request_id": f"T{result.tip.id}",
        "token": records.tip_token(result.tip.id, receipt_key()),
        "service_notice": notice,
        "account_id": None,
    }])


def _page_size() -> int:
    raw = _param("page_size")
    if not raw:
        return records.DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 0 < int(raw) <= records.MAX_PAGE_SIZE:
        raise fail(400, f"page_size 须为 1 到 {records.MAX_PAGE_SIZE} 之间的整数")
    return int(raw)


def _after() -> records.Cursor | None:
    raw = _param("after")
    if not raw:
        return None
    cursor = records.parse_cursor(raw)
    if cursor is None:
        raise fail(400, "after 无效：请使用上一页响应头 Link（rel=\"next\"）给出的地址")
    return cursor


def _query(township: Township | None) -> records.Query:
    raw_ids = _param("service_request_id")
    if raw_ids:
        parts = [p for p in raw_ids.split(",") if p.strip()]
        if len(parts) > ID_LIST_MAX:
            raise fail(400, f"service_request_id 一次最多 {ID_LIST_MAX} 个")
        ids = [records.parse_request_id(p) for p in parts]
        if any(i is None for i in ids):
            raise fail(400, "service_request_id 须为以逗号分隔的编号，如 12,15 或 T34")
        return records.Query(ids=[i for i in ids if i is not None],
                             township_id=_township_id(township))
    codes = [c.strip() for c in _param("service_code").split(",") if c.strip()]
    if any(not SERVICE_CODE_RE.match(c) for c in codes):
        raise fail(400, "service_code 格式不正确")
    statuses = [s.strip().lower() for s in _param("status").split(",") if s.strip()]
    if any(s not in ("open", "closed") for s in statuses):
        raise fail(400, "status 只能是 open 或 closed（可用逗号同时给出）")
    start, end = _time("start_date"), _time("end_date")
    if start and end:
        if start > end:
            raise fail(400, "start_date 不能晚于 end_date")
        if end - start > records.DEFAULT_WINDOW:
            raise fail(400, "start_date 与 end_date 相隔不能超过 90 天")
    try:
        start, end = records.window(start, end, now=utcnow())
    except OverflowError:
        raise fail(400, "start_date 或 end_date 超出可查询的范围") from None
    return records.Query(service_codes=codes or None, start=start, end=end,
                         statuses=statuses or None, page_size=_page_size(), after=_after(),
                         township_id=_township_id(township))


def _next_url(fmt: str, cursor: records.Cursor) -> str:
    """This listing's URL with ``after`` moved on. The key is left out: it only ever adds a
    partner's tips by id, which are not paged, and the pages stay the same for everyone."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("after", "api_key")]
    query = urlencode([*args, ("after", cursor.token())])
    return f"{url_for('api.list_requests', fmt=fmt, _external=True)}?{query}"


def _listing(fmt: str, query: records.Query, partner: ApiKey | None) -> Response:
    """The listing, with the next page's URL in the ``Link`` header (kept with the page in the
    page cache, so a cached page and its link are always the same render)."""
    db = get_session()
    page = records.find_cases(db, query, now=utcnow())
    rows = records.case_rows(db, page.ids, clock=_clock(), media_url=_media_url)
    if query.ids is not None and partner is not None:
        tips = records.partner_tips(db, [i.number for i in query.ids if i.is_tip], partner.id,
                                    query.township_id)
        rows += [records.tip_row(db, tip) for tip in tips]
    response = formats.requests(fmt, rows)
    if page.next is not None:
        response.headers["Link"] = f'<{_next_url(fmt, page.next)}>; rel="next"'
    return response


# Public listings go through the public pages' cache (ETag, 304, the per-process page cache);
# the key is in the URL, so a partner's own tips would be too, and they are not public.
# They show no tip figures, so a new report leaves them cached (``tips=False``).
_public_listing = conditional(_listing, tips=False)


@bp.get(f"/requests.{FORMAT}")
@read_limit
def list_requests(fmt: str):
    if _param("api_key"):
        partner = _partner(required=False)
        return _listing(fmt, _query(_jurisdiction(partner)), partner)
    return _public_listing(fmt, _query(_jurisdiction(None)), None)


@bp.get(f"/requests/<request_id>.{FORMAT}")
@read_limit
def show_request(request_id: str, fmt: str):
    partner = _partner(required=False)
    township_id = _township_id(_jurisdiction(partner))
    ident = records.parse_request_id(request_id)
    db = get_session()
    if ident is not None and not ident.is_tip:
        rows = records.case_rows(db, records.disclosed_ids(db, [ident.number], township_id),
                                 clock=_clock(), media_url=_media_url)
        if rows:
            return formats.requests(fmt, rows)
    if ident is not None and ident.is_tip and partner is not None:
        tips = records.partner_tips(db, [ident.number], partner.id, township_id)
        if tips:
            return formats.requests(fmt, [records.tip_row(db, tips[0])])
    raise fail(404, f"service_request_id 不存在：{shown(request_id)}")


@bp.get(f"/tokens/<token>.{FORMAT}")
@read_limit
def show_token(token: str, fmt: str):
    db = get_session()
    tip = records.tip_for_token(db, token, receipt_key())
    if tip is None:
        raise fail(404, "token 不存在")
    return formats.requests(fmt, [{
        "service_request_id": str(records.public_id_of_tip(db, tip)),
        "token": token,
    }])
