"""Open data: an Atom feed of disclosures, CSV and JSON of every disclosed case, and the
printable notice (公示) per village with a QR code. Fields are documented in docs/open-data.md.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import segno
from flask import Response, abort, render_template, stream_with_context, url_for
from markupsafe import Markup
from sqlalchemy import select

from portal.db import get_session
from portal.domain.clock import local_today, utcnow
from portal.domain.disclosure import publication
from portal.domain.models import Village
from portal.domain.supervision import exports
from portal.public import bp
from portal.templating import jurisdiction
from portal.web.caching import conditional

LICENCE_NAME = "知识共享 署名 4.0 国际许可协议（CC BY 4.0）"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/deed.zh-hans"
LICENCE_STATEMENT = (
    f"本数据依据{LICENCE_NAME}开放，使用时请注明来源。数据仅包含经部门核查属实并已公示的隐患，"
    "不含任何举报人信息；电话、身份证号、车牌号已遮盖。"
)
FEED_SIZE = 50
# A notice board holds a few sheets; the QR code leads to the rest.
NOTICE_SIZE = 100
ATOM = "http://www.w3.org/2005/Atom"

# The documented fields, in order, with what they mean (docs/open-data.md lists the same).
FIELD_DOCS: dict[str, str] = {
    "id": "隐患编号（整数，不变）",
    "unit_id": "隐患单位编号；一个单位可有多项隐患",
    "unit_name": "单位名称（已遮盖电话、证件号、车牌）",
    "village": "所在行政村",
    "venue_type": "场所类型，未登记时为空",
    "category": "隐患类别",
    "severity": "隐患等级：general 一般隐患，major 重大隐患",
    "severity_label": "隐患等级的中文名称",
    "status": "办理状态：rectifying 整改中，rectified 整改完成待销案，closed 已办结",
    "status_label": "办理状态的中文名称",
    "summary": "公示的具体问题（已遮盖电话、证件号、车牌）",
    "rectify_by": "整改期限（ISO 8601 日期），未定时为 null",
    "overdue": "是否已超过整改期限仍在整改（布尔值）",
    "supervision_level": "挂牌督办级别：none、township、county、city、province",
    "supervision_level_label": "挂牌督办级别的中文名称",
    "disclosed_at": "公示时间（ISO 8601，UTC）",
    "updated_at": "最近更新时间（ISO 8601，UTC）",
    "url": "该单位公示页面的地址（含整改进展和照片）",
}
FIELDS: tuple[str, ...] = tuple(FIELD_DOCS)


def record(case: publication.PublicCase) -> dict[str, Any]:
    return {
        "id": case.id,
        "unit_id": case.unit_id,
        "unit_name": case.unit_name,
        "village": case.village,
        "venue_type": case.venue_type,
        "category": case.category,
        "severity": case.severity.value,
        "severity_label": case.severity.label,
        "status": case.status.value,
        "status_label": case.status.label,
        "summary": case.summary,
        "rectify_by": case.rectify_by.isoformat() if case.rectify_by else None,
        "overdue": case.overdue,
        "supervision_level": case.supervision_level.value,
        "supervision_level_label": case.supervision_level.label,
        "disclosed_at": case.disclosed_at.replace(microsecond=0).isoformat(),
        "updated_at": case.updated_at.replace(microsecond=0).isoformat(),
        "url": url_for("public.disclosure_unit", unit_id=case.unit_id, _external=True),
    }


def _licence_link(response: Response) -> Response:
    response.headers["Link"] = f'<{LICENCE_URL}>; rel="license"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/disclosures.json")
@conditional
def disclosures_json():
    session = get_session()
    today = local_today()

    def body() -> Iterator[str]:
        head = {
            "title": f"{jurisdiction()['name']}火灾隐患公示",
            "licence": {"name": LICENCE_NAME, "url": LICENCE_URL, "statement": LICENCE_STATEMENT},
            "documentation": url_for("public.open_data", _external=True),
            "generated_at": utcnow().replace(microsecond=0).isoformat(),
            "fields": list(FIELDS),
        }
        yield json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": ['
        for n, case in enumerate(publication.iter_disclosed(session, today=today)):
            yield ("," if n else "") + json.dumps(record(case), ensure_ascii=False)
        yield "]}"

    response = Response(stream_with_context(body()), mimetype="application/json")
    return _licence_link(response)


def _csv_values(row: dict[str, Any]) -> dict[str, Any]:
    """CSV spells booleans as JSON does and leaves missing values empty; a text that a
    spreadsheet would run as a formula is written as text, by the ledger export's rule."""
    return {k: ("true" if v else "false") if isinstance(v, bool)
            else ("" if v is None else exports.safe_cell(v))
            for k, v in row.items()}


@bp.get("/disclosures.csv")
@conditional
def disclosures_csv():
    session = get_session()
    today = local_today()

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS)
        buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
        writer.writeheader()
        for case in publication.iter_disclosed(session, today=today):
            writer.writerow(_csv_values(record(case)))
            if buffer.tell() > 16_384:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=disclosures.csv"
    return _licence_link(response)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


@bp.get("/disclosures/feed.atom")
@conditional
def disclosures_feed():
    j = jurisdiction()
    cases = publication.latest_disclosed(get_session(), today=local_today(), limit=FEED_SIZE)
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})
    _sub(feed, "id", url_for("public.disclosures", _external=True))
    _sub(feed, "title", f"{j['county']}{j['name']}火灾隐患公示")
    _sub(feed, "subtitle", "经部门核查属实的火灾隐患单位、具体问题与整改进展")
    updated = max((c.updated_at for c in cases), default=utcnow())
    _sub(feed, "updated", updated.replace(microsecond=0).isoformat())
    _sub(feed, "rights", LICENCE_STATEMENT)
    _sub(feed, "link", rel="self", href=url_for("public.disclosures_feed", _external=True))
    _sub(feed, "link", rel="alternate", type="text/html",
         href=url_for("public.disclosures", _external=True))
    _sub(feed, "link", rel="license", href=LICENCE_URL)
    author = _sub(feed, "author")
    _sub(author, "name", j.get("contact") or f"{j['name']}消防安全委员会办公室")
    for case in cases:
        entry = _sub(feed, "entry")
        url = url_for("public.disclosure_unit", unit_id=case.unit_id, _external=True)
        _sub(entry, "id", f"{url}#case-{case.id}")
        _sub(entry, "title", f"{case.unit_name}：{case.category}（{case.status.label}）")
        _sub(entry, "published", case.disclosed_at.replace(microsecond=0).isoformat())
        _sub(entry, "updated", case.updated_at.replace(microsecond=0).isoformat())
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        _sub(entry, "category", term=case.category)
        deadline = case.rectify_by.isoformat() if case.rectify_by else "待定"
        _sub(entry, "summary",
             f"{case.village} · {case.severity.label} · {case.status.label}"
             f"{' · 已逾期' if case.overdue else ''} · 整改期限 {deadline}。{case.summary}",
             type="text")
    xml = ET.tostring(feed, encoding="unicode", xml_declaration=False)
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + xml,
                    mimetype="application/atom+xml")


@bp.get("/open-data")
@conditional
def open_data():
    return render_template("portal/disclosure_open_data.html", fields=FIELD_DOCS,
                           licence_name=LICENCE_NAME, licence_url=LICENCE_URL,
                           licence_statement=LICENCE_STATEMENT, feed_size=FEED_SIZE)


# ------------------------------------------------------------------ printable village notices


@bp.get("/disclosures/notices")
@conditional
def notices():
    villages = get_session().scalars(
        select(Village).where(Village.active.is_(True)).order_by(Village.sort_order, Village.id)
    ).all()
    return render_template("portal/notices.html", villages=villages)


@bp.get("/disclosures/notice/<code>")
@conditional
def notice(code: str):
    session = get_session()
    village = session.scalar(select(Village).where(Village.code == code))
    if village is None or not village.active:
        abort(404)
    today = local_today()
    page = publication.search_disclosed(
        session, publication.DisclosureFilters(village_id=village.id), today=today,
        per_page=NOTICE_SIZE)
    online = url_for("public.disclosures", village=village.id, _external=True)
    qr = segno.make(online, error="m")
    svg = qr.svg_inline(scale=4, border=2, omitsize=False)
    qr_svg = Markup(svg)  # noqa: S704  # nosec B704 - segno's SVG of our own URL
    return render_template("portal/notice.html", village=village, page=page, online=online,
                           qr_svg=qr_svg, today=today, stages=publication.STAGES)
