"""Open data: an Atom feed of disclosures, CSV and JSON of every disclosed case, the county's
and each township's (files built by ``flask opendata build``, served as stored, by nginx when
it is in front: ``portal.domain.disclosure.dumps``, docs/open-data.md), and the
printable notice (公示) per village with a QR code. Fields are documented in docs/open-data.md.
"""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ET
from typing import NoReturn

import segno
from flask import (
    Response,
    abort,
    current_app,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from markupsafe import Markup
from sqlalchemy import select, true
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import wrap_file

from portal.db import get_session
from portal.domain.clock import local_today, utcnow
from portal.domain.disclosure import dumps, publication
from portal.domain.inspection import warnings
from portal.domain.models import Village
from portal.public import bp, townships
from portal.templating import jurisdiction, place_name
from portal.web.caching import CACHE_CONTROL, conditional
from portal.web.files import storage

FEED_SIZE = 50
# A notice board holds a few sheets; the QR code leads to the rest.
NOTICE_SIZE = 100
ATOM = "http://www.w3.org/2005/Atom"
LICENCE_NAME, LICENCE_URL = dumps.LICENCE_NAME, dumps.LICENCE_URL
LICENCE_STATEMENT, FIELD_DOCS, FIELDS = dumps.LICENCE_STATEMENT, dumps.FIELD_DOCS, dumps.FIELDS
MIMETYPES = {dumps.CSV_NAME: "text/csv", dumps.JSON_NAME: "application/json"}
# A rebuild replaced the file three times while one download opened it: come back later.
RETRY_SECONDS = 5


def dump_links() -> dumps.Links:
    """The addresses a dump names, from the request (or the CLI's request context)."""
    return dumps.Links(
        documentation=url_for("public.open_data", _external=True),
        unit=lambda unit_id: url_for("public.disclosure_unit", unit_id=unit_id, _external=True))


def _licence_link(response: Response) -> Response:
    response.headers["Link"] = f'<{LICENCE_URL}>; rel="license"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@conditional(tips=False)
def _streamed(name: str) -> Response:
    """Until the timer's first build of a dump (a fresh install, a new township), a download
    is built as it is sent, by the same writers as the files, as before (the data version's
    ETag, no Range)."""
    session, today, links = get_session(), local_today(), dump_links()
    cases = publication.iter_disclosed(session, today=today, township_id=townships.current_id())
    if name == dumps.CSV_NAME:
        chunks = dumps.csv_chunks(cases, links)
    else:
        title = dumps.dump_title(session, townships.current())
        chunks = dumps.json_chunks(cases, links, title=title, generated_at=utcnow())
    return Response(stream_with_context(chunks), mimetype=MIMETYPES[name])


def _come_back() -> NoReturn:
    response = Response("开放数据文件正在更新，请稍后再试。", status=503, mimetype="text/plain")
    response.headers["Retry-After"] = str(RETRY_SECONDS)
    abort(response)


def _answer(name: str, entry: dumps.DumpFile, built_at: dt.datetime, *, ranges: bool,
            body: io.BufferedReader | None = None) -> Response:
    """The stored dump's headers (its SHA-256 as a strong ETag), evaluated against the
    request: 304, and with ``ranges`` 206 or 416, by werkzeug's conditional response."""
    data = wrap_file(request.environ, body) if body is not None else []
    response = Response(data, mimetype=MIMETYPES[name], direct_passthrough=True)
    response.content_length = entry.size
    response.last_modified = built_at
    response.set_etag(entry.etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    try:
        response.make_conditional(request.environ, accept_ranges=ranges,
                                  complete_length=entry.size)
    except RequestedRangeNotSatisfiable:
        response.close()
        raise
    return response


def _handed_to_proxy(response: Response, files: dumps.DirectoryDumps,
                     entry: dumps.DumpFile, prefix: str) -> Response:
    """nginx sends the body (and answers Range and If-Range itself) from its internal
    location over ``opendata/``, by the file's content name: a rebuild never changes those
    bytes, so the ETag sent here is the body nginx sends (deploy/nginx.conf)."""
    if response.status_code != 304:
        relative = f"{files.folder}/{dumps.served_name(entry)}".removeprefix(f"{dumps.FOLDER}/")
        response.headers["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{relative}"
        response.content_length = 0
    return response


def _send_dump(name: str) -> Response:
    """The stored dump of this page's scope (the county or the township), no database work
    beyond the township's lookup: by nginx when it is in front, else from the directory, or
    by a ranged GET of the bucket. A rebuild may replace a file between the manifest and the
    read: then the manifest is read again."""
    store, township = storage(), townships.current()
    files = dumps.dump_store(store, township)
    manifest = dumps.read_manifest(store, township)
    if manifest is None:
        return _licence_link(_streamed(name))
    prefix = current_app.config["ACCEL_REDIRECT_PREFIX"]
    for _attempt in range(3):
        entry = manifest.files[name]
        if isinstance(files, dumps.DirectoryDumps):
            if prefix:
                response = _answer(name, entry, manifest.built_at, ranges=False)
                return _licence_link(_handed_to_proxy(response, files, entry, prefix))
            fh = files.open(entry)
            if fh is not None:
                return _licence_link(_answer(name, entry, manifest.built_at, ranges=True,
                                             body=fh))
        else:
            response = _answer(name, entry, manifest.built_at, ranges=True)
            if response.status_code == 304 or request.method == "HEAD":
                return _licence_link(response)
            # A ranged GET: the bucket sends only the bytes asked for.
            span = response.content_range
            start, stop = span.start, span.stop
            if start is None or stop is None:
                start, stop = 0, entry.size
            chunks = files.open(entry, start, stop)
            if chunks is not None:
                response.response = chunks
                return _licence_link(response)
        manifest = dumps.read_manifest(store, township) or manifest
    _come_back()


@bp.get("/disclosures.json")
def disclosures_json():
    return _send_dump(dumps.JSON_NAME)


@bp.get("/disclosures.csv")
def disclosures_csv():
    response = _send_dump(dumps.CSV_NAME)
    response.headers["Content-Disposition"] = "attachment; filename=disclosures.csv"
    return response


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


@bp.get("/disclosures/feed.atom")
@conditional(tips=False)
def disclosures_feed():
    j = jurisdiction()
    db, today, township_id = get_session(), local_today(), townships.current_id()
    cases = publication.latest_disclosed(db, today=today, limit=FEED_SIZE,
                                         township_id=township_id)
    # The risk warnings in force head the feed (plan item 3: warnings reach people where
    # they already read the township's news).
    in_force = [w for w in warnings.published_public(db, township_id=township_id, today=today)
                if w.current]
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})
    _sub(feed, "id", url_for("public.disclosures", _external=True))
    _sub(feed, "title", f"{place_name()}火灾隐患公示")
    _sub(feed, "subtitle", "经部门核查属实的火灾隐患单位、具体问题与整改进展")
    updated = max((*(c.updated_at for c in cases), *(w.published_at for w in in_force)),
                  default=utcnow())
    _sub(feed, "updated", updated.replace(microsecond=0).isoformat())
    _sub(feed, "rights", LICENCE_STATEMENT)
    _sub(feed, "link", rel="self", href=url_for("public.disclosures_feed", _external=True))
    _sub(feed, "link", rel="alternate", type="text/html",
         href=url_for("public.disclosures", _external=True))
    _sub(feed, "link", rel="license", href=LICENCE_URL)
    author = _sub(feed, "author")
    _sub(author, "name", j.get("contact") or f"{j['name']}消防安全委员会办公室")
    for warning in in_force:
        entry = _sub(feed, "entry")
        url = url_for("public.warnings", _external=True, _anchor=f"warning-{warning.id}")
        published = warning.published_at.replace(microsecond=0).isoformat()
        _sub(entry, "id", url)
        _sub(entry, "title", f"【{warning.kind}】{warning.title}")
        _sub(entry, "published", published)
        _sub(entry, "updated", published)
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        _sub(entry, "category", term="风险预警提示")
        _sub(entry, "summary", f"{warning.township} · {warning.starts_on.isoformat()} 至 "
                               f"{warning.ends_on.isoformat()}。{warning.text}", type="text")
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
@conditional(tips=False)
def open_data():
    return render_template("portal/disclosure_open_data.html", fields=FIELD_DOCS,
                           licence_name=LICENCE_NAME, licence_url=LICENCE_URL,
                           licence_statement=LICENCE_STATEMENT, feed_size=FEED_SIZE)


# ------------------------------------------------------------------ printable village notices


@bp.get("/disclosures/notices")
@conditional(tips=False)
def notices():
    township_id = townships.current_id()
    villages = get_session().scalars(
        select(Village).where(Village.active.is_(True),
                              Village.township_id == township_id if township_id else true())
        .options(selectinload(Village.township)).order_by(Village.sort_order, Village.id)
    ).all()
    return render_template("portal/notices.html", villages=villages)


@bp.get("/disclosures/notice/<code>")
@conditional(tips=False)
def notice(code: str):
    session = get_session()
    village = session.scalar(select(Village).where(Village.code == code))
    if village is None or not village.active or (
            townships.current() is not None and village.township_id != townships.current_id()):
        abort(404)
    today = local_today()
    page = publication.search_disclosed(
        session, publication.DisclosureFilters(village_id=village.id), today=today,
        per_page=NOTICE_SIZE)
    # The QR code leads to the village's township's pages, wherever the notice was printed.
    online = url_for("public.disclosures", village=village.id, township=village.township.code,
                     _external=True)
    qr = segno.make(online, error="m")
    svg = qr.svg_inline(scale=4, border=2, omitsize=False)
    qr_svg = Markup(svg)  # noqa: S704  # nosec B704 - segno's SVG of our own URL
    return render_template("portal/notice.html", village=village, page=page, online=online,
                           qr_svg=qr_svg, today=today, stages=publication.STAGES)
